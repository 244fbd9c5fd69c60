// The partition leader's next step towards the placement target (docs/design/cluster.md): one membership change
// at a time, never shrinking the set of up-to-date voters before its replacement has caught up.
import type { ConfChange, ConfState, NodeId } from "../../raft/types.ts";

/** A learner within this many entries of the leader's log counts as caught up. */
export const CATCH_UP_SLACK = 16;

export type ReconcileStep = { readonly change: ConfChange } | { readonly transferTo: NodeId };

export interface LeaderView {
  readonly self: NodeId;
  readonly conf: ConfState;
  readonly lastIndex: number;
  /** match index per follower (the leader's Progress). */
  readonly match: ReadonlyMap<NodeId, number>;
  /** Nodes known to be up (gossip): leadership is never handed to anyone else. */
  readonly alive: ReadonlySet<NodeId>;
}

export function nextStep(v: LeaderView, target: readonly NodeId[]): ReconcileStep | null {
  if (target.length === 0) return null;
  const { voters, learners } = v.conf;
  const caughtUp = (id: NodeId) => id === v.self || (v.match.get(id) ?? 0) >= v.lastIndex - CATCH_UP_SLACK;
  // A transfer stops the leader from taking proposals until it completes: only to a live, current node.
  const canLead = (id: NodeId) => id !== v.self && v.alive.has(id) && caughtUp(id);
  for (const t of target) {
    if (!voters.includes(t) && !learners.includes(t)) return { change: { type: "addLearner", node: t } };
  }
  for (const l of learners) {
    if (target.includes(l) && caughtUp(l)) return { change: { type: "addVoter", node: l } };
  }
  if (!target.every((t) => voters.includes(t))) return null; // wait for learners to catch up
  for (const id of [...learners, ...voters]) {
    if (target.includes(id)) continue;
    // A leader cannot remove itself safely while leading: hand leadership to the preferred replica first.
    if (id === v.self) {
      const to = target.find(canLead);
      return to === undefined ? null : { transferTo: to };
    }
    return { change: { type: "removeNode", node: id } };
  }
  const preferred = target[0]!;
  if (canLead(preferred)) return { transferTo: preferred };
  return null;
}
