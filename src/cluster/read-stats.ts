// Counters of routed reads for /metrics: where this node sent its reads, and the reads it served,
// by routing strategy. Labelled by node id, which is bounded by the cluster's size.
import type { NodeId } from "../raft/types.ts";

export class ReadStats {
  /** Reads served here, by the strategy that routed them and this node's role in the partition. */
  readonly servedBy = new Map<string, number>();
  /** Reads this node sent (or kept), by strategy and target member. */
  readonly sentTo = new Map<string, number>();

  served(strategy: string, role: "leader" | "follower"): void {
    const k = `${strategy}\u0000${role}`;
    this.servedBy.set(k, (this.servedBy.get(k) ?? 0) + 1);
  }

  sent(strategy: string, target: NodeId): void {
    const k = `${strategy}\u0000${target}`;
    this.sentTo.set(k, (this.sentTo.get(k) ?? 0) + 1);
  }
}
