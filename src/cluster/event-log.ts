// Takes the snapshots src/cluster/core/cluster-events.ts turns into log lines: gossip's view, the
// metadata, the leaders this node believes in and the placement progress of the groups it leads.
import type { Config } from "../config/schema.ts";
import type { GossipNode } from "../gossip/index.ts";
import { META_GROUP } from "../keyspace/groups.ts";
import type { Logger } from "../log.ts";
import type { NodeId } from "../raft/types.ts";
import { ClusterEventLog, type ClusterSnapshot } from "./core/cluster-events.ts";
import { partitionTarget } from "./core/controller.ts";
import { drainingOf, type MetaState } from "./core/meta.ts";
import type { MultiRaft } from "./core/multiraft.ts";

export interface EventLogDeps {
  readonly config: Pick<Config, "node_id" | "dead_node_timeout">;
  readonly log: Logger;
  readonly replicas: { readonly raft: Pick<MultiRaft, "groupIds" | "status">; meta(): MetaState };
  readonly gossip: Pick<GossipNode, "members">;
  readonly router: { believedLeader(partition: number): NodeId | undefined };
}

export class ClusterEventLogger {
  private readonly events = new ClusterEventLog();

  /** Takes the baseline at once: what is true when the node starts is not news. */
  constructor(private readonly d: EventLogDeps) {
    this.observe(Date.now());
  }

  observe(now: number): void {
    for (const e of this.events.observe(this.snapshot(now))) this.d.log[e.level](e.msg, e.fields);
  }

  private snapshot(at: number): ClusterSnapshot {
    const { raft } = this.d.replicas;
    const self = this.d.config.node_id;
    const meta = this.d.replicas.meta();
    const gossip = new Map(this.d.gossip.members().flatMap((m) => (m.id === self ? [] : [[m.id, m.state] as const])));
    let moving = 0;
    for (const grp of raft.groupIds()) {
      if (grp === META_GROUP) continue;
      const st = raft.status(grp);
      const target = partitionTarget(meta.map, grp);
      if (st?.role !== "leader" || !target) continue;
      const voters = st.conf.voters;
      if (voters.length !== target.voters.length || target.voters.some((v) => !voters.includes(v))) moving++;
    }
    const snapshot = {
      at,
      gossip,
      members: Object.keys(meta.members).sort(),
      draining: drainingOf(meta),
      moving,
      deadNodeTimeoutMs: this.d.config.dead_node_timeout,
    };
    // One node summarises the balance for the cluster: the metadata leader.
    if (raft.status(META_GROUP)?.role !== "leader") return snapshot;
    const leaders: Record<NodeId, number> = Object.fromEntries(snapshot.members.map((m) => [m, 0]));
    let leaderless = 0;
    for (let p = 0; p < meta.partitionCount; p++) {
      const leader = this.d.router.believedLeader(p);
      if (leader === undefined) leaderless++;
      else leaders[leader] = (leaders[leader] ?? 0) + 1;
    }
    return { ...snapshot, leaders, leaderless };
  }
}
