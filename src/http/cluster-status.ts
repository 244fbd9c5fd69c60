// /cluster/status in cluster mode (DESIGN §11): members as gossip sees them, the metadata leader,
// and partition health computed from every member's view of the groups it hosts.
import type { ClusterNode } from "../cluster/cluster-node.ts";
import { freshestGroups } from "../cluster/core/group-view.ts";
import { groupOf } from "../cluster/core/meta.ts";
import { SLOT_COUNT } from "../cluster/core/slot.ts";
import { META_GROUP } from "../cluster/state-machine.ts";

export async function clusterStatus(node: ClusterNode) {
  const meta = node.machine.meta;
  const views = new Map(node.gossip.members().map((v) => [v.id, v]));
  const byGroup = freshestGroups((await node.clusterGroups()).values());
  const leadersPerNode: Record<string, number> = {};
  let healthy = 0;
  let underReplicated = 0;
  let leaderless = 0;
  for (let p = 0; p < meta.partitionCount; p++) {
    const g = byGroup.get(groupOf(p));
    const want = meta.map[p]?.length ?? 0;
    if (!g || g.leader === null) {
      leaderless++;
      continue;
    }
    leadersPerNode[g.leader] = (leadersPerNode[g.leader] ?? 0) + 1;
    const aliveVoters = g.voters.filter((v) => v === node.gossip.nodeId || views.get(v)?.state === "alive").length;
    if (aliveVoters < want) underReplicated++;
    else healthy++;
  }
  return {
    cluster_id: meta.clusterId,
    metadata_leader: byGroup.get(META_GROUP)?.leader ?? null,
    map_version: meta.mapVersion,
    members: Object.values(meta.members).map((m) => {
      const v = views.get(m.id);
      return {
        id: m.id,
        state: m.id === node.gossip.nodeId ? "alive" : (v?.state ?? "unknown"),
        zone: m.zone,
        load: v?.meta.load ?? 0,
        version: m.version,
        addresses: m.addrs,
      };
    }),
    partitions: { total: meta.partitionCount, healthy, under_replicated: underReplicated, leaderless, leaders_per_node: leadersPerNode },
  };
}

/** GET /cluster/partitions: every partition with its slots, target replicas, Raft voters and leader. */
export async function clusterPartitions(node: ClusterNode) {
  const meta = node.machine.meta;
  const views = new Map(node.gossip.members().map((v) => [v.id, v]));
  const byGroup = freshestGroups((await node.clusterGroups()).values());
  const per = SLOT_COUNT / (meta.partitionCount || 1);
  const partitions = Array.from({ length: meta.partitionCount }, (_, p) => {
    const g = byGroup.get(groupOf(p));
    const replicas = meta.map[p] ?? [];
    const alive = (id: string) => id === node.gossip.nodeId || views.get(id)?.state === "alive";
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
      healthy: leader !== null && alive(leader) && (g?.voters ?? []).filter(alive).length >= replicas.length,
    };
  });
  return { cluster_id: meta.clusterId, map_version: meta.mapVersion, partition_count: meta.partitionCount, partitions };
}
