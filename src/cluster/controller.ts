// The membership and placement controller: each round it gathers what this node sees (metadata,
// gossip, the Raft groups it hosts), asks the pure decisions of src/cluster/core/controller.ts
// what to do, and does it: a metadata proposal, a membership change, a leadership transfer, or
// dropping a replica this node no longer holds.
import type { MemberView } from "../gossip/index.ts";
import type { Logger } from "../log.ts";
import type { NodeId } from "../raft/types.ts";
import {
  decideMeta,
  decideOrphans,
  decideReconcile,
  type GroupTarget,
  partitionTarget,
  type PeerView,
} from "./core/controller.ts";
import { META_GROUP, partitionOfGroup } from "../keyspace/groups.ts";
import { drainingOf, type MemberInfo, type MetaOp, type MetaState } from "./core/meta.ts";
import type { MultiRaft } from "./core/multiraft.ts";
import { encodeMetaOp } from "./state-machine.ts";

/** How long a replica the map moved away may go without a leader before it is dropped. */
const ORPHAN_MS = 10_000;

/** What the controller needs of gossip's member views: state and the member's advertised addresses. */
export function peerViews(members: readonly MemberView[]): Map<NodeId, PeerView> {
  return new Map(
    members.map((v) => [
      v.id,
      {
        state: v.state,
        info: {
          id: v.id,
          zone: v.meta.zone,
          addrs: { resp: v.meta.respAddr, http: v.meta.httpAddr, raft: v.meta.raftAddr, gossip: v.addr },
          version: v.meta.version,
          ...(v.meta.dataDirId === undefined ? {} : { dataDirId: v.meta.dataDirId }),
        },
      },
    ]),
  );
}

export interface ControllerDeps {
  readonly self: NodeId;
  readonly deadNodeTimeout: number;
  readonly log: Logger;
  readonly raft: Pick<
    MultiRaft,
    "groupIds" | "status" | "progress" | "propose" | "proposeConfChange" | "transferLeader" | "wake"
  >;
  meta(): MetaState;
  selfInfo(): MemberInfo;
  /** Gossip's members by id. */
  peers(): ReadonlyMap<NodeId, PeerView>;
  alive(id: NodeId): boolean;
  /** Closes a group and forgets its log and rows. */
  dropGroup(grp: number): void;
  /** Founds the partitions a new cluster still lacks (src/cluster/founding.ts), before each round. */
  foundPartitions(): void;
}

export class Controller {
  private deadSince: ReadonlyMap<NodeId, number> = new Map();
  private orphanSince: ReadonlyMap<number, number> = new Map();

  constructor(private readonly d: ControllerDeps) {}

  /** Every control interval: found partitions, then a round; an error is logged, the next tick tries again. */
  tick(now: number): void {
    try {
      this.d.foundPartitions();
      this.round(now);
    } catch (e) {
      this.d.log.warn("control loop error", { error: (e as Error).message });
    }
  }

  /** One round: metadata (as group 0's leader), the partitions this node leads, orphaned replicas. */
  round(now: number): void {
    const { raft } = this.d;
    if (raft.status(META_GROUP)?.role === "leader") this.controlMeta(now);
    for (const grp of raft.groupIds()) {
      if (grp === META_GROUP || raft.status(grp)?.role !== "leader") continue;
      const target = partitionTarget(this.d.meta().map, grp);
      if (target) this.reconcile(grp, target);
    }
    this.dropRemovedReplicas(now);
  }

  private controlMeta(now: number): void {
    const { decision, deadSince } = decideMeta({
      meta: this.d.meta(),
      self: this.d.selfInfo(),
      views: this.d.peers(),
      deadSince: this.deadSince,
      now,
      deadNodeTimeout: this.d.deadNodeTimeout,
    });
    this.deadSince = deadSince;
    if (decision.kind === "reconcile") this.reconcile(META_GROUP, decision.target);
    if (decision.kind !== "propose") return;
    if (decision.removed) {
      const { id, state, deadMs } = decision.removed;
      this.d.log.info("removing member", { member: id, state, dead_ms: deadMs });
    }
    this.proposeMeta(decision.op);
  }

  private proposeMeta(op: MetaOp): void {
    this.d.raft
      .propose(META_GROUP, encodeMetaOp(op))
      .catch((e: unknown) => this.d.log.debug("metadata proposal failed", { op: op.t, error: String(e) }));
  }

  /** Takes the next membership step of a group this node leads. */
  private reconcile(grp: number, target: GroupTarget): void {
    const { raft } = this.d;
    const s = raft.status(grp)!;
    const match = new Map(raft.progress(grp).map((p) => [p.id, p.match]));
    const alive = new Set([...s.conf.voters, ...s.conf.learners].filter((id) => this.d.alive(id)));
    const step = decideReconcile(
      { self: this.d.self, conf: s.conf, lastIndex: s.lastIndex, match, alive },
      target,
      drainingOf(this.d.meta()),
    );
    if (!step) return;
    if ("transferTo" in step) {
      raft.transferLeader(grp, step.transferTo);
      return;
    }
    raft
      .proposeConfChange(grp, step.change)
      .catch((e: unknown) => this.d.log.debug("membership change refused", { grp, error: String(e) }));
  }

  private dropRemovedReplicas(now: number): void {
    const { raft } = this.d;
    const groups = raft
      .groupIds()
      .filter((grp) => grp !== META_GROUP)
      .map((grp) => ({
        grp,
        leader: raft.status(grp)!.leader,
      }));
    const { drop, wake, orphanSince } = decideOrphans({
      self: this.d.self,
      map: this.d.meta().map,
      groups,
      orphanSince: this.orphanSince,
      now,
      orphanMs: ORPHAN_MS,
    });
    this.orphanSince = orphanSince;
    for (const grp of wake) raft.wake(grp);
    for (const grp of drop) {
      this.d.log.info("dropping a replica this node no longer holds", { grp, partition: partitionOfGroup(grp) });
      this.d.dropGroup(grp);
    }
  }
}
