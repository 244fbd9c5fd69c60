// What a cluster member reports of itself and gathers from the others: the Raft groups it hosts,
// whether it is ready to serve, its key count and applied index (/health/ready, /cluster/status,
// the leave drain, INFO).
import type { NodeId } from "../raft/types.ts";
import type { GroupReport } from "./core/group-view.ts";
import { groupOf, META_GROUP, partitionOfGroup } from "../keyspace/groups.ts";
import type { KnownNode } from "./core/formation.ts";
import { type MemberInfo, type MetaState, placeableMembers } from "./core/meta.ts";
import { MAX_META_VOTERS } from "./core/controller.ts";
import type { MultiRaft } from "./core/multiraft.ts";

/** What a member reports of each group it hosts (for /cluster/status and the leave drain). */
export interface GroupStatus extends GroupReport {
  readonly applied: number;
}

export interface MemberStatusDeps {
  readonly self: NodeId;
  readonly raft: Pick<MultiRaft, "groupIds" | "status">;
  meta(): MetaState;
  /** Gossip's liveness of a member (this node: always). */
  alive(id: NodeId): boolean;
  /** Another member's group statuses, asked over the transport. */
  askGroups(member: MemberInfo): Promise<GroupStatus[]>;
}

/**
 * Once ready, a group without a leader makes the node unready only after this long: an election
 * (a restarted peer waking quiet groups, a leader moving) takes a fraction of it, and a request
 * meanwhile waits for the new leader instead of failing (src/cluster/router.ts retries for 5 s).
 */
export const READY_GRACE_MS = 3_000;

export class MemberStatus {
  /** Set at the first ready answer; from then on READY_GRACE_MS applies. */
  private wasReady = false;
  /** When ready() first saw each hosted group without a leader, until it has one again. */
  private readonly leaderlessSince = new Map<number, number>();

  constructor(private readonly d: MemberStatusDeps) {}

  groupStatuses(): GroupStatus[] {
    const { raft } = this.d;
    return raft.groupIds().map((grp) => {
      const s = raft.status(grp)!;
      return {
        grp,
        role: s.role,
        leader: s.leader,
        term: s.term,
        voters: s.conf.voters,
        learners: s.conf.learners,
        applied: s.applied,
      };
    });
  }

  /** Node ids the cluster may still count a vote of: metadata members and the voters of hosted groups. */
  identities(): readonly KnownNode[] {
    const { raft } = this.d;
    const meta = this.d.meta();
    // A founder that has group 0's founding conf but not yet the metadata after it would list
    // the other founders without their data dir ids: it knows nothing yet.
    if (meta.clusterId === "") return [];
    const known = new Map<NodeId, KnownNode>(Object.values(meta.members).map((m) => [m.id, m]));
    for (const grp of raft.groupIds()) {
      for (const id of raft.status(grp)?.conf.voters ?? []) if (!known.has(id)) known.set(id, { id });
    }
    return [...known.values()].map(({ id, dataDirId }) => (dataDirId === undefined ? { id } : { id, dataDirId }));
  }

  /** Sum of the applied indexes of every group hosted here. */
  appliedIndex(): number {
    return this.groupStatuses().reduce((n, g) => n + g.applied, 0);
  }

  /**
   * Joined (a member in the metadata) and every group hosted here has a leader; once that held,
   * a group stays counted as led for READY_GRACE_MS after it lost its leader (one meaning for
   * load balancers: requests sent here are served, no 200/503 flapping while elections settle).
   * The first time, the node must also hold its share (`unplaced`): all members of a forming
   * cluster ready means every partition has all its replicas as voters, so losing any one node
   * right then leaves every partition a quorum (issue #18: no lone-founder window).
   */
  ready(): { ready: boolean; reason?: string } {
    const { self } = this.d;
    const meta = this.d.meta();
    if (!(self in meta.members)) return { ready: false, reason: "not yet admitted to a cluster" };
    const unplaced = this.wasReady ? undefined : this.unplaced(meta);
    if (unplaced) return { ready: false, reason: unplaced };
    // A replica moved away while this node was down hosts nothing but stays open until the
    // controller drops it: only the partitions the map gives this node count.
    const hosted = this.groupStatuses().filter(
      (g) => g.grp === META_GROUP || (meta.map[partitionOfGroup(g.grp)] ?? []).includes(self),
    );
    const now = Date.now();
    const leaderless: number[] = [];
    const seen = new Set<number>();
    for (const g of hosted) {
      if (g.leader !== null) continue;
      seen.add(g.grp);
      const since = this.leaderlessSince.get(g.grp) ?? now;
      this.leaderlessSince.set(g.grp, since);
      if (!this.wasReady || now - since >= READY_GRACE_MS) leaderless.push(g.grp);
    }
    for (const grp of this.leaderlessSince.keys()) if (!seen.has(grp)) this.leaderlessSince.delete(grp);
    if (leaderless.length > 0) {
      return { ready: false, reason: `groups without a leader: ${leaderless.slice(0, 10).join(", ")}` };
    }
    this.wasReady = true;
    return { ready: true };
  }

  /**
   * Why this node does not hold its share of a fully replicated cluster yet, or undefined: the map
   * gives some partition fewer replicas than min(replication_factor, live members) (placement has
   * not caught up with members that just joined), or a partition the map places here (or the
   * metadata group, while every member is one of its voters) is not hosted here as a voter yet:
   * its replica is still being added, or catching up as a learner.
   */
  private unplaced(meta: MetaState): string | undefined {
    const placeable = placeableMembers(meta);
    const want = Math.min(meta.replicationFactor, placeable.filter((m) => this.d.alive(m.id)).length);
    const short = meta.map.findIndex((replicas) => replicas.length < want);
    if (short >= 0) return `partition ${short} is placed on fewer than ${want} nodes yet`;
    const voterOf = new Set(
      this.groupStatuses()
        .filter((g) => g.voters.includes(this.d.self))
        .map((g) => g.grp),
    );
    const missing: string[] = [];
    const metaVoter = placeable.length <= MAX_META_VOTERS && placeable.some((m) => m.id === this.d.self);
    if (metaVoter && !voterOf.has(META_GROUP)) missing.push("metadata");
    meta.map.forEach((replicas, p) => {
      if (replicas.includes(this.d.self) && !voterOf.has(groupOf(p))) missing.push(String(p));
    });
    if (missing.length === 0) return undefined;
    return `not yet a voter of ${missing.length} groups this node holds: ${missing.slice(0, 10).join(", ")}`;
  }

  /** Group statuses of every member (for /cluster/status), each asked over the transport. */
  async clusterGroups(): Promise<Map<NodeId, GroupStatus[]>> {
    const out = new Map<NodeId, GroupStatus[]>([[this.d.self, this.groupStatuses()]]);
    await Promise.all(
      Object.values(this.d.meta().members)
        .filter((m) => m.id !== this.d.self)
        .map(async (m) => {
          try {
            out.set(m.id, await this.d.askGroups(m));
          } catch {
            // unreachable members simply contribute nothing
          }
        }),
    );
    return out;
  }
}
