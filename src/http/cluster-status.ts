// /cluster/status in cluster mode: members as gossip sees them, the metadata leader,
// and partition health computed from every member's view of the groups it hosts.
import { freshestGroups } from "../cluster/core/group-view.ts";
import { groupOf, META_GROUP } from "../keyspace/groups.ts";
import { SLOT_COUNT } from "../keyspace/slot.ts";
import type { MetaState } from "../cluster/core/meta.ts";
import type { MemberView } from "../gossip/index.ts";
import type { GroupStatus } from "../cluster/status.ts";

/** What the status documents need of the cluster node. */
export interface ClusterStatusSource {
  readonly self: string;
  meta(): MetaState;
  /** Every member gossip knows, this node included. */
  gossipMembers(): readonly MemberView[];
  /** Every member's report of the groups it hosts. */
  clusterGroups(): Promise<Map<string, GroupStatus[]>>;
}

type Health = "healthy" | "under_replicated" | "leaderless";

/**
 * The one rule both views use: a leader gossip does not see alive serves nobody, so its partition
 * counts as leaderless; fewer live voters than the map's replicas is under-replicated.
 */
function health(g: GroupStatus | undefined, want: number, alive: (id: string) => boolean): Health {
  if (!g || g.leader === null || !alive(g.leader)) return "leaderless";
  return g.voters.filter(alive).length < want ? "under_replicated" : "healthy";
}

type Views = ReadonlyMap<string, MemberView>;

function gossipViews(node: ClusterStatusSource): Views {
  return new Map(node.gossipMembers().map((v) => [v.id, v]));
}

function liveness(node: ClusterStatusSource, views: Views): (id: string) => boolean {
  return (id) => id === node.self || views.get(id)?.state === "alive";
}

export async function clusterStatus(node: ClusterStatusSource) {
  const meta = node.meta();
  const views = gossipViews(node);
  const alive = liveness(node, views);
  const byGroup = freshestGroups((await node.clusterGroups()).values());
  const leadersPerNode: Record<string, number> = {};
  const count: Record<Health, number> = { healthy: 0, under_replicated: 0, leaderless: 0 };
  for (let p = 0; p < meta.partitionCount; p++) {
    const g = byGroup.get(groupOf(p));
    const h = health(g, meta.map[p]?.length ?? 0, alive);
    count[h]++;
    if (h !== "leaderless") leadersPerNode[g!.leader!] = (leadersPerNode[g!.leader!] ?? 0) + 1;
  }
  return {
    cluster_id: meta.clusterId,
    metadata_leader: byGroup.get(META_GROUP)?.leader ?? null,
    map_version: meta.mapVersion,
    members: Object.values(meta.members).map((m) => {
      const v = views.get(m.id);
      return {
        id: m.id,
        state: m.id === node.self ? "alive" : (v?.state ?? "unknown"),
        zone: m.zone,
        load: v?.meta.load ?? 0,
        version: m.version,
        addresses: m.addrs,
      };
    }),
    partitions: { total: meta.partitionCount, ...count, leaders_per_node: leadersPerNode },
  };
}

/** GET /cluster/partitions: every partition with its slots, target replicas, Raft voters and leader. */
export async function clusterPartitions(node: ClusterStatusSource) {
  const meta = node.meta();
  const alive = liveness(node, gossipViews(node));
  const byGroup = freshestGroups((await node.clusterGroups()).values());
  const per = SLOT_COUNT / (meta.partitionCount || 1);
  const partitions = Array.from({ length: meta.partitionCount }, (_, p) => {
    const g = byGroup.get(groupOf(p));
    const replicas = meta.map[p] ?? [];
    const leader = g?.leader ?? null;
    return {
      partition: p,
      group: groupOf(p),
      slots: [p * per, (p + 1) * per - 1],
      replicas,
      voters: g?.voters ?? [],
      learners: g?.learners ?? [],
      leader,
      term: g?.term ?? 0,
      healthy: health(g, replicas.length, alive) === "healthy",
    };
  });
  return { cluster_id: meta.clusterId, map_version: meta.mapVersion, partition_count: meta.partitionCount, partitions };
}
