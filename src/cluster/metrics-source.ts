// What the cluster series of /metrics read at scrape time (ClusterMetricsSource in
// src/http/metrics.ts), from the parts of a cluster member that count them.
import type { GossipNode } from "../gossip/index.ts";
import type { Transport } from "../transport/transport.ts";
import type { MultiRaft } from "./core/multiraft.ts";
import type { RaftStats } from "./raft-stats.ts";
import type { ReadStats } from "./read-stats.ts";

export function clusterMetricsSource(
  stats: RaftStats,
  raft: Pick<MultiRaft, "groupIds" | "status" | "quietGroups">,
  gossip: Pick<GossipNode, "members" | "counters">,
  transport: Pick<Transport, "stats">,
  reads: ReadStats,
) {
  return {
    raft: stats,
    groups: () => raft.groupIds().flatMap((g) => raft.status(g) ?? []),
    quietGroups: () => raft.quietGroups().length,
    gossipMembers: () => gossip.members(),
    gossipCounters: () => gossip.counters(),
    transport: () => transport.stats,
    reads,
  };
}
