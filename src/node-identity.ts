// data_dir/flydb-node.json: what a data dir belongs to, written at first start (see resolveMode in
// src/data-plane.ts), and for a cluster member the fact that it founded a cluster, recorded before
// the founding entries are written so that no data dir ever founds two (a standalone data dir
// records it when it grows into a cluster's founder: src/cluster/grow.ts).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "./config/schema.ts";

export interface NodeIdentity {
  readonly node_id: string;
  readonly mode: "standalone" | "cluster";
  readonly partition_count: number;
  /** When this node bootstrapped a cluster (ISO time); absent if it never did. */
  readonly bootstrapped_at?: string;
  /**
   * A random id of this data dir, written with the record: a node id started again on an emptied
   * data dir gets another, so its cluster can tell it from the member that lost its state (and its
   * vote record). Absent in records written by older versions until `dataDirId` adds it.
   */
  readonly data_dir_id?: string;
}

const IDENTITY_FILE = "flydb-node.json";

export function readIdentity(dataDir: string): NodeIdentity | undefined {
  const path = join(dataDir, IDENTITY_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as NodeIdentity) : undefined;
}

/** Written through a temporary file, fsynced and renamed: a crash leaves the old or the new record. */
export function writeIdentity(dataDir: string, id: NodeIdentity): void {
  const path = join(dataDir, IDENTITY_FILE);
  const fd = openSync(`${path}.tmp`, "w");
  try {
    writeSync(fd, `${JSON.stringify(id)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${path}.tmp`, path);
}

/**
 * This data dir's random id (NodeIdentity.data_dir_id), added to the record if it has none, and
 * replaced when `renew`: a data dir without Raft state has no vote record (its raft.db is new,
 * lost or wiped), so it must not pass for the one that voted under this node id.
 */
export function dataDirId(dataDir: string, renew: boolean): string {
  const id = readIdentity(dataDir);
  if (!id) throw new Error(`data_dir ${dataDir} has no ${IDENTITY_FILE}; a cluster member writes it at start`);
  if (id.data_dir_id !== undefined && !renew) return id.data_dir_id;
  const data_dir_id = randomUUID();
  writeIdentity(dataDir, { ...id, data_dir_id });
  return data_dir_id;
}

/** Records that this data dir founds a cluster now; refuses if it already founded one. */
export function recordBootstrap(dataDir: string, now: Date): void {
  const id = readIdentity(dataDir);
  if (!id) throw new Error(`data_dir ${dataDir} has no ${IDENTITY_FILE}; a cluster member writes it at start`);
  // A standalone data dir with bootstrapped_at was growing into a cluster and never committed the
  // founding (that turns it into a cluster member: src/cluster/grow.ts), so it founded none.
  if (id.bootstrapped_at !== undefined && id.mode === "cluster") {
    throw new ConfigError(
      `node ${id.node_id} already bootstrapped a cluster at ${id.bootstrapped_at} (${join(dataDir, IDENTITY_FILE)}) but holds no cluster state now; it never bootstraps a second one: join the existing cluster, or empty data_dir to start over`,
    );
  }
  writeIdentity(dataDir, { ...id, bootstrapped_at: now.toISOString() });
}
