/** Splits "[host]:port" as written in config; an empty host means every interface. */
export function splitHostPort(addr: string, wildcard = "0.0.0.0"): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  let host = addr.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host: host === "" ? wildcard : host, port: Number(addr.slice(i + 1)) };
}
