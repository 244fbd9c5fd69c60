// Which member a routed read is sent to (like CockroachDB's replica oracle): one policy per
// `routing_strategy` (docs/CONFIGURATION.md). Writes always go to the leader (`leaderFirst`).
// A policy other than key-based may pick a follower; the follower then serves the read under the
// read_consistency asked for (src/cluster/follower-read.ts: a ReadIndex round to the leader and a
// wait for apply, so picking a follower never weakens a read). Pure: the rotation counters are the
// only state, and everything measured (load, zone, RTT, lag) comes in through `ReplicaFacts`.
import type { NodeId } from "../../raft/types.ts";

export type RoutingStrategy = "key-based" | "round-robin" | "least-loaded" | "locality-aware" | "hybrid";

export const ROUTING_STRATEGIES: readonly RoutingStrategy[] = [
  "key-based",
  "round-robin",
  "least-loaded",
  "locality-aware",
  "hybrid",
];

/** What is known of a member right now; every answer may be unknown. */
export interface ReplicaFacts {
  /** Its zone; "" when it has none or it is unknown. */
  zone(id: NodeId): string;
  /** Its smoothed load as gossip last carried it (this node's own too); undefined: unknown. */
  load(id: NodeId): number | undefined;
  /** Round-trip time to it, measured by gossip probes; undefined: not measured (yet). */
  rttMs(id: NodeId): number | undefined;
  /** How many log entries its replica of the partition is behind the commit index; undefined: unknown. */
  lag(id: NodeId, partition: number): number | undefined;
}

export interface ReadTarget {
  readonly partition: number;
  /** The partition's replicas in map order (the first is the preferred leader). */
  readonly replicas: readonly NodeId[];
  /** The leader this node's own replica of the group follows, if it hosts one. */
  readonly leader: NodeId | null;
  /** The leader learned from the last answer (or NotLeader redirect) for this group. */
  readonly hint: NodeId | undefined;
  /** Members already asked in this attempt: a policy never picks one of them again. */
  readonly tried: ReadonlySet<NodeId>;
  /** Whether gossip sees the member up (this node always is). */
  alive(id: NodeId): boolean;
  /** The asking node. */
  readonly self?: NodeId;
  /** Load, zone, RTT and lag of the members; without them every member looks alike. */
  readonly facts?: ReplicaFacts;
}

export interface ReadTargetPolicy {
  readonly name: string;
  /** Whether the member chosen may be a follower (then it serves through a ReadIndex round). */
  readonly replicaReads: boolean;
  /** A follower further behind its commit index than this refuses the read (the leader answers). */
  readonly maxLag?: number;
  /** The member to ask next; undefined when there is none left to ask. */
  choose(t: ReadTarget): NodeId | undefined;
}

/** The leader this node knows of, then the learned one, then the live replicas in map order. */
export function leaderFirst(t: ReadTarget): NodeId | undefined {
  const candidates = [t.leader, t.hint, ...t.replicas];
  return candidates.find((id): id is NodeId => id != null && !t.tried.has(id) && t.alive(id));
}

export const LEADER_READS: ReadTargetPolicy = { name: "key-based", replicaReads: false, choose: leaderFirst };

/** Loads within this fraction (and LOAD_TIE_ABS) of the lowest count as equal: sampling noise is not a difference. */
export const LOAD_TIE = 0.25;
const LOAD_TIE_ABS = 1;
/**
 * This node counts among the least loaded up to this fraction above the lowest: a read it sends
 * away still costs it about what serving it does (the client's request and reply; measured in
 * docs/PERFORMANCE.md, "Read routing"), so moving it pays only when this node is much busier.
 */
export const SELF_LOAD_TIE = 1;
/** RTTs within this many milliseconds of the lowest count as equal. */
export const RTT_TIE_MS = 1;
/** Hybrid skips a replica known to be more than this many entries behind the commit index. */
export const MAX_LAG = 1000;

const NO_FACTS: ReplicaFacts = { zone: () => "", load: () => undefined, rttMs: () => undefined, lag: () => undefined };

/** The replicas that may be asked: up and not yet tried, in map order. */
function candidates(t: ReadTarget): NodeId[] {
  return t.replicas.filter((id) => !t.tried.has(id) && t.alive(id));
}

/**
 * Turn-taking among equals: each partition has its own counter, so a node spreads the reads of
 * one hot partition over its replicas rather than sending each partition's reads to one of them.
 */
class Rotation {
  private readonly next = new Map<number, number>();
  pick(partition: number, among: readonly NodeId[]): NodeId {
    const n = this.next.get(partition) ?? 0;
    this.next.set(partition, (n + 1) % 1_000_000);
    return among[n % among.length]!;
  }
}

/**
 * The members of `ids` whose load is within the tie band of the lowest (`self`'s wider band).
 * Unknown load counts as the mean of the known ones: neither shunned nor swamped. Runs on every
 * routed read: one pass over the facts, no maps.
 */
function leastLoaded(ids: readonly NodeId[], f: ReplicaFacts, self?: NodeId): NodeId[] {
  const l = ids.map((id) => f.load(id));
  let sum = 0;
  let known = 0;
  for (const x of l) {
    if (x === undefined || !Number.isFinite(x)) continue;
    sum += x;
    known++;
  }
  const mean = known === 0 ? 0 : sum / known;
  const load = l.map((x) => x ?? mean);
  const min = Math.min(...load);
  return ids.filter((id, i) => load[i]! <= min * (1 + (id === self ? SELF_LOAD_TIE : LOAD_TIE)) + LOAD_TIE_ABS);
}

/** The members of `ids` with the lowest RTT (within RTT_TIE_MS); all of them when none is measured. */
function nearest(ids: readonly NodeId[], f: ReplicaFacts): NodeId[] {
  const measured = ids.filter((id) => f.rttMs(id) !== undefined);
  if (measured.length === 0) return [...ids];
  const min = Math.min(...measured.map((id) => f.rttMs(id)!));
  return measured.filter((id) => f.rttMs(id)! <= min + RTT_TIE_MS);
}

/** This node when it holds a replica, else the replicas in its zone; empty when neither. */
function local(t: ReadTarget, ids: readonly NodeId[], f: ReplicaFacts): NodeId[] {
  if (t.self !== undefined && ids.includes(t.self)) return [t.self];
  const zone = t.self === undefined ? "" : f.zone(t.self);
  return zone === "" ? [] : ids.filter((id) => f.zone(id) === zone);
}

/** Among equals, this node when it is one of them: its reads need no hop to another member. */
function selfAmong(t: ReadTarget, ids: readonly NodeId[]): NodeId | undefined {
  return t.self !== undefined && ids.includes(t.self) ? t.self : undefined;
}

/** Among equals, the leader when it is one of them: it answers without the follower's extra hop. */
function leaderAmong(t: ReadTarget, ids: readonly NodeId[]): NodeId | undefined {
  const leader = t.leader ?? t.hint;
  return leader != null && ids.includes(leader) ? leader : undefined;
}

/**
 * The policy of a routing strategy. Each one asks the live, untried replicas of the partition and
 * falls back to `leaderFirst` once none is left (a replica set being changed, say), so a read
 * never gives up earlier than under key-based.
 */
export function readTargetPolicy(strategy: RoutingStrategy): ReadTargetPolicy {
  if (strategy === "key-based") return LEADER_READS;
  const rotation = new Rotation();
  const pickers: Record<
    Exclude<RoutingStrategy, "key-based">,
    (t: ReadTarget, c: NodeId[], f: ReplicaFacts) => NodeId
  > = {
    "round-robin": (t, c) => rotation.pick(t.partition, c),
    "least-loaded": (t, c, f) => {
      const best = leastLoaded(c, f, t.self);
      return selfAmong(t, best) ?? rotation.pick(t.partition, best);
    },
    "locality-aware": (t, c, f) => {
      const near = local(t, c, f);
      const best = nearest(near.length > 0 ? near : c, f);
      return leaderAmong(t, best) ?? rotation.pick(t.partition, best);
    },
    hybrid: (t, c, f) => {
      const fresh = c.filter((id) => (f.lag(id, t.partition) ?? 0) <= MAX_LAG);
      const pool = fresh.length > 0 ? fresh : c;
      // Locality here is the zone, this node included: a busy local replica yields to a quieter
      // one next to it. Without zones every replica is local.
      const zone = t.self === undefined ? "" : f.zone(t.self);
      const inZone = zone === "" ? pool : pool.filter((id) => f.zone(id) === zone);
      const near = inZone.length > 0 ? inZone : nearest(pool, f);
      const best = leastLoaded(near, f, t.self);
      return selfAmong(t, best) ?? rotation.pick(t.partition, best);
    },
  };
  const pick = pickers[strategy];
  return {
    name: strategy,
    replicaReads: true,
    ...(strategy === "hybrid" ? { maxLag: MAX_LAG } : {}),
    choose(t) {
      const c = candidates(t);
      return c.length === 0 ? leaderFirst(t) : pick(t, c, t.facts ?? NO_FACTS);
    },
  };
}
