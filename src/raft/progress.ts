// The leader's view of one follower (etcd's Progress): probe sends one append at a time until the
// match point is found, replicate streams appends within an in-flight window, snapshot ships
// chunks until the follower has the snapshot.
import type { SnapshotMeta } from "./types.ts";

export interface OutgoingSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
  /** Bytes the follower confirmed holding. */
  acked: number;
  /** Offset of the next chunk to send; `done` once the last chunk went out. */
  sent: number;
  done: boolean;
  idleTicks: number;
}

export class Progress {
  match = 0;
  state: "probe" | "replicate" | "snapshot" = "probe";
  recentActive = false;
  snap: OutgoingSnapshot | null = null;
  /** Highest heartbeat round acknowledged this term (ReadIndex). */
  ackSeq = 0;
  /** Leader tick at which the latest acknowledged heartbeat was sent (lease). */
  leaseTick = -Infinity;
  private probeSent = false;
  private inflight: number[] = [];

  constructor(
    public next: number,
    public learner: boolean,
  ) {}

  isPaused(maxInflight: number): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflight.length >= maxInflight;
    return true;
  }

  sentAppend(lastIndex: number): void {
    if (this.state === "replicate") {
      if (lastIndex > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else {
      this.probeSent = true;
    }
  }

  /** An append up to index was accepted. Returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    if (this.next < index + 1) this.next = index + 1;
    if (this.inflight.length > 0) this.inflight = this.inflight.filter((i) => i > index);
    if (updated) {
      if (this.state === "probe") this.becomeReplicate();
      else if (this.state === "snapshot" && this.snap && this.match >= this.snap.meta.index) this.becomeReplicate();
    }
    return updated;
  }

  /** An append after `rejected` was refused; `probeHint` is the leader's guess of the match point.
   *  Returns false for stale rejections. */
  maybeDecrTo(rejected: number, probeHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      return true;
    }
    if (this.state === "snapshot" || this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  onHeartbeatResp(maxInflight: number): void {
    this.probeSent = false;
    // A full window with a live follower means appends or their acks were lost: free a slot so a
    // (possibly empty) append goes out and its reply resynchronizes us.
    if (this.state === "replicate" && this.inflight.length >= maxInflight) this.inflight.shift();
  }

  becomeSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.state = "snapshot";
    this.snap = { meta, data, acked: 0, sent: 0, done: false, idleTicks: 0 };
    this.inflight = [];
  }

  private becomeProbe(): void {
    this.state = "probe";
    this.probeSent = false;
    this.inflight = [];
    this.snap = null;
    this.next = this.match + 1;
  }

  private becomeReplicate(): void {
    this.state = "replicate";
    this.inflight = [];
    this.snap = null;
    this.next = this.match + 1;
  }
}
