// This node's load as least-loaded and hybrid routing compare it (src/cluster/core/read-target.ts):
// requests served here per second (routed reads and writes, from clients of this node and
// forwarded by others), plus the requests in flight at the sample, smoothed with an exponentially
// weighted moving average. It is gossiped in the member's `load` field only when it moved by more
// than PUBLISH_CHANGE (at most every SAMPLE_MS), so a steady cluster sends no load updates at all.
/** How often the rate is sampled. */
export const SAMPLE_MS = 1_000;
/** Weight of the newest sample: a time constant of about 3 samples. */
const ALPHA = 0.3;
/** Relative and absolute change below which the gossiped value stays as it is. */
const PUBLISH_CHANGE = 0.15;
const PUBLISH_ABS = 5;

export class LoadMeter {
  private served = 0;
  private inFlight = 0;
  private smoothed = 0;
  private lastSampleAt: number;
  private published = 0;

  constructor(
    now: number,
    /** Hands a new value to gossip (GossipNode.updateMeta). */
    private readonly publish: (load: number) => void,
  ) {
    this.lastSampleAt = now;
  }

  /** A request starts being served here; call the returned function when it is done. */
  begin(): () => void {
    this.served++;
    this.inFlight++;
    let open = true;
    return () => {
      if (open) this.inFlight--;
      open = false;
    };
  }

  /** The smoothed load, requests per second. */
  load(): number {
    return Math.round(this.smoothed);
  }

  /**
   * The load as gossip carries it to the others: what this node's own load is compared with
   * theirs, so every node's is equally stale (a rising fresh value against stale lower ones
   * would send reads away from the node asked while all are equally busy).
   */
  gossiped(): number {
    return this.published;
  }

  /** Every SAMPLE_MS: folds the requests since the last sample in, and publishes a real change. */
  sample(now: number): void {
    const seconds = Math.max(0.001, (now - this.lastSampleAt) / 1000);
    this.lastSampleAt = now;
    const rate = this.served / seconds + this.inFlight;
    this.served = 0;
    this.smoothed = ALPHA * rate + (1 - ALPHA) * this.smoothed;
    const load = this.load();
    if (Math.abs(load - this.published) > Math.max(PUBLISH_ABS, this.published * PUBLISH_CHANGE)) {
      this.published = load;
      this.publish(load);
    }
  }
}
