// Counters of this node's Raft groups for /metrics. Aggregated over all groups: 256
// partitions × per-group labels would make thousands of series per node.
import type { NodeId } from "../raft/types.ts";

export class RaftStats {
  /** Term changes seen by any local replica: each is an election somewhere in that group. */
  elections = 0;
  /** A group's known leader changed to another node (not counting "unknown"). */
  leaderChanges = 0;
  /** Proposals made here as leader, by outcome. */
  readonly proposals = { applied: 0, dropped: 0, notLeader: 0 };
  /** Writes this node sent again with the same proposal id after an attempt got no answer or was dropped. */
  writeResends = 0;
  /**
   * Copies of an applied write (same proposal id) this node's replicas applied: answered from the
   * session record, or refused because the proposer had settled it (cluster/core/sessions.ts).
   */
  readonly writeCopies = { duplicate: 0, stale: 0 };
  private readonly last = new Map<number, { leader: NodeId | null; term: number }>();
  private readonly latency: ((seconds: number) => void)[] = [];
  private readonly storage: ((seconds: number, entries: number) => void)[] = [];

  leader(grp: number, leader: NodeId | null, term: number): void {
    const prev = this.last.get(grp);
    if (prev && term > prev.term) this.elections++;
    if (leader !== null && prev?.leader != null && leader !== prev.leader) this.leaderChanges++;
    this.last.set(grp, { leader: leader ?? prev?.leader ?? null, term });
  }

  /** Time from proposing on the leader to the entry being applied there. */
  committed(seconds: number): void {
    this.proposals.applied++;
    for (const fn of this.latency) fn(seconds);
  }

  onCommitLatency(fn: (seconds: number) => void): void {
    this.latency.push(fn);
  }

  /** One raft.db transaction of a turn (all groups' appends and hard states, fsynced). */
  storageCommitted(seconds: number, entries: number): void {
    for (const fn of this.storage) fn(seconds, entries);
  }

  onStorageCommit(fn: (seconds: number, entries: number) => void): void {
    this.storage.push(fn);
  }
}
