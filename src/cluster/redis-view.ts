// The cluster as Redis Cluster clients see it: CLUSTER SLOTS/SHARDS/NODES/INFO and the -MOVED
// redirects of sessions in cluster mode. Each slot range is served by the leader this node
// believes in for its partition (src/cluster/router.ts).
import type { ClusterNodeRef, ClusterView, SlotRange } from "../commands/types.ts";
import type { NodeId } from "../raft/types.ts";
import type { MetaState } from "./core/meta.ts";
import { partitionOf, SLOT_COUNT } from "../keyspace/slot.ts";

export interface RedisViewSource {
  readonly self: NodeId;
  /** This node's partition_count, until the cluster's metadata says otherwise. */
  readonly partitionCount: number;
  meta(): MetaState;
  believedLeader(p: number): NodeId | undefined;
  alive(id: NodeId): boolean;
  ready(): boolean;
}

export function redisClusterView(src: RedisViewSource): ClusterView {
  const respRef = (id: NodeId): ClusterNodeRef => {
    const addr = src.meta().members[id]?.addrs.resp ?? "";
    const i = addr.lastIndexOf(":");
    return { id, host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
  };
  return {
    myId: src.self,
    slots: () => {
      const meta = src.meta();
      const per = SLOT_COUNT / meta.partitionCount;
      const out: SlotRange[] = [];
      for (let p = 0; p < meta.partitionCount; p++) {
        const master = src.believedLeader(p);
        if (!master) continue;
        const replicas = (meta.map[p] ?? []).filter((id) => id !== master).map(respRef);
        const prev = out[out.length - 1];
        // Neighbouring partitions with the same leader and replicas read as one range.
        if (
          prev &&
          prev.end === p * per - 1 &&
          prev.master.id === master &&
          JSON.stringify(prev.replicas) === JSON.stringify(replicas)
        ) {
          out[out.length - 1] = { ...prev, end: (p + 1) * per - 1 };
        } else {
          out.push({ start: p * per, end: (p + 1) * per - 1, master: respRef(master), replicas });
        }
      }
      return out;
    },
    members: () => Object.keys(src.meta().members).map((id) => ({ ...respRef(id), alive: src.alive(id) })),
    redirect: (slot) => {
      const meta = src.meta();
      const leader = src.believedLeader(partitionOf(slot, meta.partitionCount || src.partitionCount));
      if (!leader || leader === src.self) return undefined;
      return meta.members[leader]?.addrs.resp;
    },
    state: () => (src.ready() ? "ok" : "fail"),
  };
}
