// Founding a cluster on this node's replica host: group 0 with the founding metadata, then the
// partitions the founding map gives this node. Needs no network: the other founders learn the
// groups from the leader's messages.
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { recordBootstrap } from "../node-identity.ts";
import { bootstrapWrite } from "../raft/storage.ts";
import type { GroupWrite } from "../raft/types.ts";
import { MAX_META_VOTERS } from "./core/controller.ts";
import { groupOf, META_GROUP } from "../keyspace/groups.ts";
import type { MemberInfo, MetaOp } from "./core/meta.ts";
import { place, type PartitionMap } from "./core/placement.ts";
import type { ReplicaHost } from "./replica-host.ts";
import { encodeMetaOp } from "./state-machine.ts";

export interface Founder {
  readonly config: Pick<
    Config,
    "node_id" | "data_dir" | "partition_count" | "replication_factor" | "discovery_cluster_id"
  >;
  readonly log: Logger;
  readonly replicas: Pick<ReplicaHost, "holdsGroups" | "canFound" | "found" | "meta">;
}

/**
 * Founds a new cluster whose members are `founders` (this node among them; one for --bootstrap,
 * `bootstrap_expect` for discovery). Group 0 starts with the founders as voters (up to five, the
 * rest learners) and, committed at index 2, the founding metadata: settings, the founders as
 * members and a partition map over all of them. Only this node writes it; the other founders
 * learn it from the leader's messages. Every founder then founds the partitions that map gives
 * it (`foundPartitions`). Only on an empty Raft state, and once per data dir (flydb-node.json).
 */
export function foundCluster({ config, log, replicas }: Founder, founders: readonly MemberInfo[]): void {
  const self = config.node_id;
  if (replicas.holdsGroups()) throw new Error(`node ${self} already holds cluster state; it never bootstraps again`);
  const ids = founders.map((m) => m.id).sort();
  if (!ids.includes(self)) {
    throw new Error(`node ${self} cannot bootstrap a cluster it is not a founder of (${ids.join(", ")})`);
  }
  const map = place({
    members: founders.map((m) => ({ id: m.id, zone: m.zone })),
    partitionCount: config.partition_count,
    replicationFactor: config.replication_factor,
  });
  const init: MetaOp = {
    t: "init",
    clusterId: config.discovery_cluster_id,
    partitionCount: config.partition_count,
    replicationFactor: config.replication_factor,
    members: founders,
    map,
  };
  recordBootstrap(config.data_dir, new Date());
  const meta = bootstrapWrite(META_GROUP, ids.slice(0, MAX_META_VOTERS), {
    learners: ids.slice(MAX_META_VOTERS),
    data: [encodeMetaOp(init)],
  });
  replicas.found([meta, ...partitionFoundings({ config, log, replicas }, map)]);
  log.info("bootstrapped a new cluster", {
    cluster_id: config.discovery_cluster_id,
    partitions: config.partition_count,
    founders: ids.join(","),
  });
}

/** The founding writes of the partitions `map` (the founding map) gives this node that it does not hold yet. */
function partitionFoundings({ config, replicas }: Founder, map: PartitionMap): GroupWrite[] {
  const writes: GroupWrite[] = [];
  map.forEach((members, p) => {
    const g = groupOf(p);
    if (members.includes(config.node_id) && replicas.canFound(g)) writes.push(bootstrapWrite(g, members));
  });
  return writes;
}

/**
 * A founder opens the partitions of the founding map (map version 1, exactly the init entry's
 * map, so every replica writes the same conf at index 1). A replica that a leader reached first
 * already holds the group, and one that never gets here learns it from the leader's messages.
 */
export function foundPartitions(f: Founder): void {
  const meta = f.replicas.meta();
  if (meta.mapVersion !== 1 || founded.get(f) === meta.map) return;
  const writes = partitionFoundings(f, meta.map);
  if (writes.length > 0) f.replicas.found(writes);
  founded.set(f, meta.map);
}

/**
 * The founding map each founder has opened all its partitions of. The control loop calls
 * foundPartitions every round, and a cluster of one keeps map version 1 for good: walking its
 * hundreds of partitions each round was a sizeable share of the event loop. A group the map
 * gives this node is only dropped after a newer map moved it, so it never needs founding again.
 */
const founded = new WeakMap<Founder, PartitionMap>();
