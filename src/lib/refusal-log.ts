// Log lines for refused peers (a wrong or missing cluster_secret, another cluster id, a bad
// certificate), for the transport and gossip: one line per address and reason per interval, so a
// misconfigured node retrying every few milliseconds, or a scan, cannot flood the log; the next
// line counts what was held back.

const MAX_TRACKED = 1024;

export class RefusalLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly emit: (line: string) => void,
    private readonly everyMs = 60_000,
  ) {}

  /**
   * `line` names the address and the reason; the throttle is per `addr` (an IP, without the
   * ephemeral port) and `kind`, which defaults to the line: a line quoting what the peer sent
   * passes a kind of its own, so a peer varying what it sends still gets one line.
   */
  report(addr: string, line: string, now: number, kind = line): void {
    const key = `${addr}\n${kind}`;
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.everyMs) {
      seen.held++;
      return;
    }
    if (!seen && this.last.size >= MAX_TRACKED) this.prune(now);
    const held = seen?.held ?? 0;
    this.last.set(key, { at: now, held: 0 });
    this.emit(`${line}${held > 0 ? ` (${held} more refusals like it since the last line)` : ""}`);
  }

  private prune(now: number): void {
    for (const [k, v] of this.last)
      if (now - v.at >= this.everyMs || this.last.size >= MAX_TRACKED) this.last.delete(k);
  }
}
