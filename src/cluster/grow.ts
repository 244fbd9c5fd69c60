// Growing: a standalone node's data dir becomes the founder of a cluster, in place (see
// docs/CLUSTER_SETUP.md, "Growing a standalone node into a cluster"). The steps, each safe to be
// killed after:
//   0. flydb-node.json takes the configured node id (admitGrowing);
//   1. the standalone op log (raft.db group -1) is applied into data.db (applyStandaloneLog);
//   2. flydb-node.json records bootstrapped_at, still as a standalone data dir (recordBootstrap);
//   3. one raft.db transaction founds the cluster's groups, each partition group with a snapshot
//      of its rows, and drops group -1 (saveFounding), after data.db was made durable;
//   4. flydb-node.json says "cluster".
// A restart tells how far it got from flydb-node.json and whether raft.db still holds group -1:
// before 3 it redoes the conversion (or runs standalone, if started so), after 3 it finishes 4.
import { join } from "node:path";
import { ConfigError, type Config } from "../config/schema.ts";
import { readIdentity, writeIdentity, type NodeIdentity } from "../node-identity.ts";
import { groupOf, META_GROUP, partitionOfGroup, STANDALONE_GROUP } from "../keyspace/groups.ts";
import { decodeConf } from "../raft/conf.ts";
import type { GroupWrite } from "../raft/types.ts";
import type { Logger } from "../log.ts";
import { StandaloneHost } from "./standalone.ts";
import { exportPartition } from "../store/partition-snapshot.ts";
import { SqliteRaftStorage } from "../store/raft-log.ts";
import type { WorkerRaftStorage } from "../store/worker-raft-storage.ts";
import type { StateDb } from "../store/state.ts";

/**
 * For a data dir whose flydb-node.json says standalone, started as a cluster member: only as the
 * one founder of a new cluster (--bootstrap), since it alone holds the data. The standalone id is
 * only a label; from here on the data dir carries the configured node id.
 */
export function admitGrowing(c: Config, id: NodeIdentity): void {
  const why = `data_dir ${c.data_dir} holds a standalone node's data`;
  if (c.bootstrap_expect > 0) {
    throw new ConfigError(
      `${why}; it cannot found a cluster with bootstrap_expect = ${c.bootstrap_expect}: ` +
        "only this node holds data, so it founds the cluster alone. " +
        "Start it with --bootstrap, then let the other nodes join it",
    );
  }
  if (c.cluster_peers.length > 0) {
    throw new ConfigError(
      `${why}; it cannot join an existing cluster (--peers ${c.cluster_peers.join(",")}): ` +
        "its data would be lost or conflict with that cluster's. " +
        "Start it with --bootstrap (and no --peers) to found a cluster with its data, then let the other nodes join it",
    );
  }
  if (!c.bootstrap) {
    throw new ConfigError(
      `${why}; start it with --bootstrap to found a cluster with its data (it cannot join one by discovery)`,
    );
  }
  if (id.node_id !== c.node_id) writeIdentity(c.data_dir, { ...id, node_id: c.node_id });
}

/**
 * Finishes a conversion that committed its founding transaction (step 3) but not the identity
 * (step 4): the data dir is a cluster member already. Returns the identity to go by.
 */
export function finishGrowing(dataDir: string, id: NodeIdentity): NodeIdentity {
  if (id.mode !== "standalone" || id.bootstrapped_at === undefined) return id;
  const storage = new SqliteRaftStorage(join(dataDir, "raft.db"));
  let founded: boolean;
  try {
    const groups = storage.groups();
    founded = groups.includes(META_GROUP) && !groups.includes(STANDALONE_GROUP);
  } finally {
    storage.close();
  }
  if (!founded) return id;
  const member: NodeIdentity = { ...id, mode: "cluster" };
  writeIdentity(dataDir, member);
  return member;
}

/**
 * Step 1, before the cluster node opens the data dir: what group -1 logged is in data.db. The
 * standalone group opens as it would for a standalone node, which applies its whole log.
 */
export async function applyStandaloneLog(config: Config, log: Logger): Promise<void> {
  if (readIdentity(config.data_dir)?.mode !== "standalone") return;
  const holdsLog = new SqliteRaftStorage(join(config.data_dir, "raft.db"));
  try {
    if (!holdsLog.groups().includes(STANDALONE_GROUP)) return;
  } finally {
    holdsLog.close();
  }
  await (await StandaloneHost.open(config, log)).stop();
}

/**
 * Stores a new cluster's founding `writes` (bootstrapWrite's, from ClusterNode.bootstrapNew). On a
 * standalone data dir (flydb-node.json says so) each partition group is founded instead with a
 * snapshot of its rows at the standalone log's applied index, so a replica added later receives
 * them by InstallSnapshot (its log holds none of them), and its indexes continue the standalone
 * log's, which keeps WATCH points (src/store/collection-rows.ts Versions) ordered. A data dir
 * written by `flydb restore` is standalone without a raft.db: its rows are in no log either.
 */
export function saveFounding(
  dataDir: string,
  storage: WorkerRaftStorage,
  state: StateDb,
  writes: readonly GroupWrite[],
): void {
  const id = readIdentity(dataDir);
  if (id?.mode !== "standalone") {
    storage.saveNow(writes);
    return;
  }
  const founded = new Set(writes.map((w) => w.grp));
  const missing = Array.from({ length: id.partition_count }, (_, p) => p).filter((p) => !founded.has(groupOf(p)));
  if (missing.length > 0) {
    throw new Error(
      `data_dir ${dataDir} cannot grow into a cluster whose founding map gives partitions ` +
        `${missing.slice(0, 10).join(", ")} to other nodes: only this node holds their rows`,
    );
  }
  // raft.db forgets the standalone log below: every op it held must be durable in data.db first.
  if (!state.checkpoint()) {
    throw new Error(`data_dir ${dataDir}: data.db could not be checkpointed before the founding; restart to retry`);
  }
  const index = Math.max(1, state.appliedIndex(STANDALONE_GROUP));
  storage.writeNow((direct) => {
    direct.db.transaction(() => {
      for (const w of writes) direct.writeBatch([w.grp === META_GROUP ? w : withRows(w, state, index)]);
      direct.dropGroup(STANDALONE_GROUP);
    })();
    direct.sync();
  });
  writeIdentity(dataDir, { ...id, mode: "cluster" });
}

/** Partition group founding `w` (its conf entry at index 1) as a snapshot of the partition's rows at `index`. */
function withRows(w: GroupWrite, state: StateDb, index: number): GroupWrite {
  const founding = w.entries?.[0];
  if (founding?.index !== 1) {
    throw new Error(`raft group ${w.grp}: a founding write starts with its conf entry at index 1`);
  }
  const conf = decodeConf(founding.data);
  const data = exportPartition(state, partitionOfGroup(w.grp), w.grp);
  return {
    grp: w.grp,
    snapshot: { meta: { index, term: founding.term, conf }, data },
    discardLog: true,
    hardState: { term: founding.term, vote: null, commit: index },
  };
}
