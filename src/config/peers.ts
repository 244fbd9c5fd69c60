/**
 * A peer list from `--peers`, `cluster_peers` or `FLYDB_CLUSTER_PEERS`: entries separated by
 * commas and/or any whitespace (so `--peers "$(flydb-discover --quiet)"`, one per line, works).
 * Empty entries are dropped and duplicates kept once, in first-seen order.
 */
export function parsePeerList(s: string): string[] {
  return [...new Set(s.split(/[\s,]+/).filter((p) => p !== ""))];
}
