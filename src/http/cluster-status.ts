// /cluster/status in cluster mode (DESIGN §11): members as gossip sees them, the metadata leader,
// and partition health computed from every member's view of the groups it hosts.
import type { ClusterNode, GroupStatus } from "../cluster/cluster-node.ts";
import { groupOf } from "../cluster/core/meta.ts";
import { META_GROUP } from "../cluster/state-machine.ts";

export async function clusterStatus(node: ClusterNode) {
  const meta = node.machine.meta;
  const views = new Map(node.gossip.members().map((v) => [v.id, v]));
  const groups = await node.clusterGroups();
  // The freshest report of each group: the highest term any member knows.
  const byGroup = new Map<number, GroupStatus>();
  for (const list of groups.values()) {
    for (const g of list) {
      const seen = byGroup.get(g.grp);
      if (!seen || g.term > seen.term || (g.term === seen.term && g.leader !== null && seen.leader === null)) byGroup.set(g.grp, g);
    }
  }
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
