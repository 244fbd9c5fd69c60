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

  /** `line` names the address and the reason; `addr` (an IP, without the ephemeral port) keys the throttle. */
  report(addr: string, line: string, now: number): void {
    const key = `${addr}\n${line}`;
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
