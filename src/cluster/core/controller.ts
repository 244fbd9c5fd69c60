// The controller's decisions, as pure functions of the state it is given (src/cluster/controller.ts
// gathers that state and carries the decisions out): which metadata change group 0's leader
// proposes next, the next membership step of a group this node leads, and which replicas this
// node no longer holds. No clock: the caller passes `now`.
import type { MemberState } from "../../gossip/core/types.ts";
import type { NodeId } from "../../raft/types.ts";
import { partitionOfGroup } from "../../keyspace/groups.ts";
import { metaVoters, placeableMembers, retiredOf } from "./meta.ts";
import type { MemberInfo, MetaOp, MetaState } from "./meta.ts";
import { type PartitionMap, place } from "./placement.ts";
import { type LeaderView, nextStep, type ReconcileStep } from "./reconcile.ts";

/** Group 0 has at most this many voters; the other members follow it as learners. */
export const MAX_META_VOTERS = 5;

/** A member as gossip sees it: its state and what it announces of itself. */
export interface PeerView {
  readonly state: MemberState;
  readonly info: MemberInfo;
}

/** The replicas a group should have; `voters` ⊆ `replicas`, the rest are learners. */
export interface GroupTarget {
  readonly replicas: readonly NodeId[];
  readonly voters: readonly NodeId[];
}

export interface MetaInput {
  readonly meta: MetaState;
  /** This node as a member of the metadata. */
  readonly self: MemberInfo;
  /** Gossip's members (this node may be among them). */
  readonly views: ReadonlyMap<NodeId, PeerView>;
  /** When gossip first reported each member dead, as the previous round returned it. */
  readonly deadSince: ReadonlyMap<NodeId, number>;
  readonly now: number;
  readonly deadNodeTimeout: number;
}

export type MetaDecision =
  /** The founding metadata (entry 2 of group 0) is not applied yet: nothing to decide on. */
  | { readonly kind: "none" }
  /** One metadata change per round keeps proposals ordered; `removed` says why a member goes. */
  | {
      readonly kind: "propose";
      readonly op: MetaOp;
      readonly removed?: { readonly id: NodeId; readonly state: MemberState; readonly deadMs: number };
    }
  /** The metadata is as it should be: bring group 0's membership to this target. */
  | { readonly kind: "reconcile"; readonly target: GroupTarget };

/**
 * The next metadata change of group 0's leader, in order: admit alive members and keep their
 * addresses current (never over a member known on another data dir), remove members that left
 * or stayed dead for dead_node_timeout (suspect is not dead), move replicas to the placement of
 * the current members; otherwise group 0's voters.
 */
export function decideMeta(input: MetaInput): { decision: MetaDecision; deadSince: ReadonlyMap<NodeId, number> } {
  const { meta, self, views, now } = input;
  const deadSince = new Map(input.deadSince);
  if (meta.clusterId === "") return { decision: { kind: "none" }, deadSince };
  for (const id of [self.id, ...views.keys()]) {
    const v = views.get(id);
    if (id !== self.id && v?.state !== "alive") continue;
    const info = id === self.id ? self : v!.info;
    const known = meta.members[id];
    // The id back on another data dir (wiped: no vote record) is not the member: it must be
    // removed first (src/cluster/remove.ts), never admitted over it.
    if (known?.dataDirId !== undefined && info.dataDirId !== known.dataDirId) continue;
    // Nor an incarnation POST /cluster/remove retired: a stale view of a refused start would take
    // the id from the node's next start, which formation would then refuse again.
    if (info.dataDirId !== undefined && retiredOf(meta, id).includes(info.dataDirId)) continue;
    if (!known || JSON.stringify(known) !== JSON.stringify(info)) {
      return { decision: { kind: "propose", op: { t: "member", member: info } }, deadSince };
    }
  }
  for (const id of Object.keys(meta.members)) {
    if (id === self.id) continue;
    const view = views.get(id);
    const known = meta.members[id]!.dataDirId;
    // The id's new incarnation on another data dir (refused by formation) leaving is not the
    // member leaving: the member stays until dead long enough or removed (src/cluster/remove.ts).
    const impostor = known !== undefined && view !== undefined && view.info.dataDirId !== known;
    const state = view === undefined || (impostor && view.state === "left") ? "dead" : view.state;
    if (state === "alive" || state === "suspect") {
      deadSince.delete(id);
      continue;
    }
    const since = deadSince.get(id) ?? now;
    deadSince.set(id, since);
    if (state === "left" || now - since >= input.deadNodeTimeout) {
      return {
        decision: { kind: "propose", op: { t: "remove", id }, removed: { id, state, deadMs: now - since } },
        deadSince,
      };
    }
  }
  const members = placeableMembers(meta).map((m) => ({ id: m.id, zone: m.zone }));
  const target = place({
    members,
    partitionCount: meta.partitionCount,
    replicationFactor: meta.replicationFactor,
    current: meta.map,
  });
  if (JSON.stringify(target) !== JSON.stringify(meta.map)) {
    return { decision: { kind: "propose", op: { t: "map", map: target, ifVersion: meta.mapVersion } }, deadSince };
  }
  // Up to MAX_META_VOTERS voters; every other member follows as a learner.
  const ids = Object.keys(meta.members).sort();
  const voters = metaVoters(meta, self.id, MAX_META_VOTERS);
  return {
    decision: {
      kind: "reconcile",
      target: { replicas: [...voters, ...ids.filter((i) => !voters.includes(i))], voters },
    },
    deadSince,
  };
}

/** A partition group's target: its replicas in the map, all voters; none while the map has no entry. */
export function partitionTarget(map: PartitionMap, grp: number): GroupTarget | undefined {
  const replicas = map[partitionOfGroup(grp)];
  return replicas && replicas.length > 0 ? { replicas, voters: replicas } : undefined;
}

/**
 * The next membership step of a group this node leads, towards `target`. Learners beyond the
 * voter target are wanted (group 0's extra members): added when missing, never removed, except
 * a draining voter, which is removed to come back as a learner (Raft has no demotion).
 */
export function decideReconcile(
  view: LeaderView,
  target: GroupTarget,
  draining: readonly NodeId[],
): ReconcileStep | null {
  const { voters, learners } = view.conf;
  const step = nextStep(view, target.voters);
  if (!step) {
    const extra = target.replicas.find(
      (r) => !target.voters.includes(r) && !learners.includes(r) && !voters.includes(r),
    );
    return extra === undefined ? null : { change: { type: "addLearner", node: extra } };
  }
  if ("transferTo" in step) return step;
  const node = step.change.node;
  if (
    step.change.type === "removeNode" &&
    target.replicas.includes(node) &&
    !(voters.includes(node) && draining.includes(node))
  )
    return null;
  return step;
}

export interface OrphanInput {
  readonly self: NodeId;
  readonly map: PartitionMap;
  /** The partition groups hosted here (not group 0), with the leader each currently knows. */
  readonly groups: readonly { readonly grp: number; readonly leader: NodeId | null }[];
  /** Since when each group has been an orphan, as the previous round returned it. */
  readonly orphanSince: ReadonlyMap<number, number>;
  readonly now: number;
  readonly orphanMs: number;
}

export interface OrphanDecision {
  /** Groups to close and forget with their rows. */
  readonly drop: readonly number[];
  /** Groups the map moved away from this node that still hear a leader: let them time out. */
  readonly wake: readonly number[];
  readonly orphanSince: ReadonlyMap<number, number>;
}

/**
 * A replica removed from a group gets no more messages, so it never learns of its removal from
 * the log: it only stops hearing a leader. Once the map no longer lists this node for the
 * partition and no leader has been heard for `orphanMs`, the group is dropped (instead of
 * campaigning forever; pre-vote keeps such a node from disrupting the group).
 */
export function decideOrphans(input: OrphanInput): OrphanDecision {
  const orphanSince = new Map(input.orphanSince);
  const drop: number[] = [];
  const wake: number[] = [];
  for (const { grp, leader } of input.groups) {
    const replicas = input.map[partitionOfGroup(grp)];
    if (!replicas || replicas.includes(input.self) || leader !== null) {
      orphanSince.delete(grp);
      // A removed replica that went quiet would trust its old leader forever.
      if (replicas && !replicas.includes(input.self)) wake.push(grp);
      continue;
    }
    const since = orphanSince.get(grp) ?? input.now;
    orphanSince.set(grp, since);
    if (input.now - since < input.orphanMs) continue;
    drop.push(grp);
    orphanSince.delete(grp);
  }
  return { drop, wake, orphanSince };
}
