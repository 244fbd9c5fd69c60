// The cluster as Redis Cluster clients see it: CLUSTER SLOTS/SHARDS/NODES/INFO and the -MOVED
// redirects of sessions in cluster mode. Each slot range is served by the leader this node
// believes in for its partition (src/cluster/router.ts).
import { createHash } from "node:crypto";
import type { ClusterNodeRef, ClusterView, SlotRange } from "../commands/types.ts";
import type { NodeId } from "../raft/types.ts";
import type { MetaState } from "./core/meta.ts";
import { partitionOf, SLOT_COUNT } from "../keyspace/slot.ts";
import { parseHostPort } from "../net/hostport.ts";

export interface RedisViewSource {
  readonly self: NodeId;
  /** This node's partition_count, until the cluster's metadata says otherwise. */
  readonly partitionCount: number;
  meta(): MetaState;
  believedLeader(p: number): NodeId | undefined;
  alive(id: NodeId): boolean;
  ready(): boolean;
}

/**
 * Redis Cluster tools (redis-cli --cluster, client libraries) take a node id to be 40 hex characters;
 * FlyDB's are names. The SHA-1 of the name is stable for the node's life, as its name is.
 */
export function redisNodeId(id: NodeId): string {
  return createHash("sha1").update(id).digest("hex");
}

export function redisClusterView(src: RedisViewSource): ClusterView {
  const hexIds = new Map<NodeId, string>();
  const hexId = (id: NodeId) => {
    let hex = hexIds.get(id);
    if (!hex) hexIds.set(id, (hex = redisNodeId(id)));
    return hex;
  };
  const port = (addr: string | undefined) => (addr ? parseHostPort(addr, "").port : 0);
  const respRef = (id: NodeId): ClusterNodeRef => {
    const addrs = src.meta().members[id]?.addrs;
    const resp = addrs?.resp ? parseHostPort(addrs.resp, "") : { host: "", port: 0 };
    return { id: hexId(id), name: id, host: resp.host, port: resp.port, busPort: port(addrs?.raft) };
  };
  return {
    myId: hexId(src.self),
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
          prev.master.name === master &&
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
