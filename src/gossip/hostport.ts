// "host:port", "[v6]:port" and ":port" (all interfaces), as used by cluster_addr (DESIGN §10).

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(addr: string, defaultHost = "0.0.0.0"): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`bad address "${addr}": expected host:port, [ipv6]:port or :port`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? defaultHost : host, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
