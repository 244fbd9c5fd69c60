/** Splits a peer list written with commas and/or white space, so `--peers "$(flydb-discover --quiet)"` works. */
export function parsePeerList(s: string): string[] {
  return s.split(/[\s,]+/).filter((p) => p.length > 0);
}
