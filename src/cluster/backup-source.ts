// What a backup (GET /backup, src/http/backup.ts) needs of the node serving it: the cluster's
// identity and shape, this node's own replicas' snapshots, and where the other replicas of a
// partition are. A standalone node is the same with one member and no cluster id.
import type { Config } from "../config/schema.ts";
import { groupOf } from "../keyspace/groups.ts";
import type { ClusterNode } from "./cluster-node.ts";
import type { ReplicaHost } from "./replica-host.ts";

export interface PartitionSnapshot {
  readonly index: number;
  readonly data: Uint8Array;
}

export interface BackupSource {
  readonly mode: "standalone" | "cluster";
  /** "" on a standalone node. */
  clusterId(): string;
  partitionCount(): number;
  readonly databases: number;
  /** Partition `part` from this node's replica (ReplicaHost.partitionSnapshot); undefined when it holds none. */
  local(part: number): Promise<PartitionSnapshot | undefined>;
  /** The HTTP addresses of the other members holding a replica of `part`, the leader first when known. */
  peers(part: number): string[];
}

export function standaloneBackupSource(config: Config, replicas: ReplicaHost): BackupSource {
  return {
    mode: "standalone",
    clusterId: () => "",
    partitionCount: () => config.partition_count,
    databases: config.databases,
    local: (part) => replicas.partitionSnapshot(part),
    peers: () => [],
  };
}

export function clusterBackupSource(config: Config, node: ClusterNode): BackupSource {
  return {
    mode: "cluster",
    clusterId: () => node.meta().clusterId,
    partitionCount: () => node.meta().partitionCount,
    databases: config.databases,
    local: (part) => node.replicas.partitionSnapshot(part),
    peers: (part) => {
      const meta = node.meta();
      const leader = node.replicas.raft.status(groupOf(part))?.leader;
      const ids = [...(meta.map[part] ?? [])].filter((id) => id !== node.self);
      ids.sort((a, b) => Number(b === leader) - Number(a === leader));
      return ids.flatMap((id) => {
        const http = meta.members[id]?.addrs.http;
        return http ? [http] : [];
      });
    },
  };
}
