// The one parser and formatter of "host:port" addresses: config listen addresses, peer lists,
// addresses members advertise, and what clients are told. IPv6 literals are always bracketed, so
// the last colon is never guessed at.

export interface HostPort {
  /** A host name, an IPv4 address or a bare IPv6 address (brackets removed). */
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]*)):(\d{1,5})$/;

/**
 * Parses "host:port", "[ipv6]:port" or ":port"; an empty host becomes `defaultHost` (for a listen
 * address: every interface). Throws on anything else, an unbracketed IPv6 address included.
 */
export function parseHostPort(addr: string, defaultHost = "0.0.0.0"): HostPort {
  const m = HOST_PORT.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    const expected = "host:port, [ipv6]:port or :port with a port up to 65535";
    throw new Error(`bad address ${JSON.stringify(addr)}: expected ${expected}`);
  }
  const host = m[1] ?? m[2]!;
  return { host: host === "" ? defaultHost : host, port };
}

/** "host:port", with an IPv6 host in brackets so parseHostPort reads it back. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
