// Exactly-once writes in a cluster: a retried proposal never applies twice. Every data-partition
// proposal carries a (node, session, sequence) id; a node has one session per incarnation, so a
// restart never reuses an id. A node proxies many writes at once, so a session has several
// sequences in flight: each proposal also carries `ack`, the lowest sequence of its session still
// in flight to that group (RIFL's "first incomplete"). Apply keeps, per group and session, the
// replies of the sequences at or above the newest ack it has seen; anything below is settled at
// the proposer and never applied again.
//
// Both halves are pure: the proposer side numbers proposals, the apply side decides "new",
// "duplicate" or "stale" from the records and the op's own `now`, identically on every replica.

export interface ProposalId {
  readonly node: string;
  /** Unique per incarnation of `node` (see store/proposal-sessions.ts nextSession). */
  readonly session: number;
  readonly seq: number;
  /** Every sequence of this session below `ack` for this group is settled at the proposer. */
  readonly ack: number;
}

/** A session is forgotten once a new session's first write to the group is this much newer (op time). */
export const SESSION_TTL_MS = 10 * 60_000;

/** Proposer side: numbers this node's proposals and tracks what is still in flight per group. */
export class ProposalIds {
  private nextSeq = 1;
  /** Sequences in flight per group, in ascending order (Sets iterate in insertion order). */
  private readonly inFlight = new Map<number, Set<number>>();

  constructor(
    readonly node: string,
    readonly session: number,
  ) {}

  /** An id for a new proposal to `grp`; call settle() once its outcome is known or given up on. */
  next(grp: number): ProposalId {
    const seq = this.nextSeq++;
    let set = this.inFlight.get(grp);
    if (!set) this.inFlight.set(grp, (set = new Set()));
    set.add(seq);
    return { node: this.node, session: this.session, seq, ack: set.values().next().value! };
  }

  settle(grp: number, seq: number): void {
    const set = this.inFlight.get(grp);
    if (!set) return;
    set.delete(seq);
    if (set.size === 0) this.inFlight.delete(grp);
  }
}

export interface SessionRecord<R> {
  ack: number;
  /** The newest `now` among the session's applied ops. */
  now: number;
  /** Replies by sequence, for every applied sequence >= ack. */
  readonly replies: Map<number, R>;
}

export type Verdict<R> =
  | { readonly kind: "new" }
  | { readonly kind: "duplicate"; readonly reply: R }
  | { readonly kind: "stale" };

const NEW = { kind: "new" } as const;
const STALE = { kind: "stale" } as const;

export const sessionKey = (node: string, session: number): string => `${session}:${node}`;
/** One proposal, whichever copy of it. */
export const proposalKey = (id: ProposalId): string => `${id.seq}:${id.session}:${id.node}`;

/** Apply side: one group's session records, with what changed since the last takeChanges(). */
export class GroupSessions<R> {
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();

  constructor(private readonly records: Map<string, SessionRecord<R>>) {}

  get size(): number {
    return this.records.size;
  }

  check(id: ProposalId): Verdict<R> {
    const rec = this.records.get(sessionKey(id.node, id.session));
    if (!rec) return NEW;
    const reply = rec.replies.get(id.seq);
    if (reply !== undefined) return { kind: "duplicate", reply };
    return id.seq < rec.ack ? STALE : NEW;
  }

  /** Records the reply of a newly applied op; the first write of a new session expires idle ones. */
  record(id: ProposalId, reply: R, now: number): void {
    const key = sessionKey(id.node, id.session);
    let rec = this.records.get(key);
    if (!rec) {
      this.expire(now);
      rec = { ack: 0, now, replies: new Map() };
      this.records.set(key, rec);
    }
    rec.replies.set(id.seq, reply);
    rec.now = Math.max(rec.now, now);
    if (id.ack > rec.ack) {
      rec.ack = id.ack;
      for (const seq of rec.replies.keys()) if (seq < rec.ack) rec.replies.delete(seq);
    }
    this.dirty.add(key);
    this.removed.delete(key);
  }

  /** Keys written and keys removed since the last call, for persisting in the apply's transaction. */
  takeChanges(): { written: [string, SessionRecord<R>][]; removed: string[] } {
    const written = [...this.dirty].map((k): [string, SessionRecord<R>] => [k, this.records.get(k)!]);
    const removed = [...this.removed];
    this.dirty.clear();
    this.removed.clear();
    return { written, removed };
  }

  private expire(now: number): void {
    for (const [key, rec] of this.records) {
      if (rec.now >= now - SESSION_TTL_MS) continue;
      this.records.delete(key);
      this.dirty.delete(key);
      this.removed.add(key);
    }
  }
}
