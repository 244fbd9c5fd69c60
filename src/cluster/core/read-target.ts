// Which member a routed read is sent to: the seam for read target policies (like CockroachDB's
// replica oracle). Today there is one, "leader"; issue #17 adds key-based, round-robin,
// least-loaded, locality-aware and hybrid policies to READ_TARGET_POLICIES. Writes always go to
// the leader (`leaderFirst`). Pure.
import type { NodeId } from "../../raft/types.ts";

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
}

export interface ReadTargetPolicy {
  readonly name: string;
  /** The member to ask next; undefined when there is none left to ask. */
  choose(t: ReadTarget): NodeId | undefined;
}

/** The leader this node knows of, then the learned one, then the live replicas in map order. */
export function leaderFirst(t: ReadTarget): NodeId | undefined {
  const candidates = [t.leader, t.hint, ...t.replicas];
  return candidates.find((id): id is NodeId => id != null && !t.tried.has(id) && t.alive(id));
}

export const LEADER_READS: ReadTargetPolicy = { name: "leader", choose: leaderFirst };

export const READ_TARGET_POLICIES: ReadonlyMap<string, ReadTargetPolicy> = new Map([[LEADER_READS.name, LEADER_READS]]);
