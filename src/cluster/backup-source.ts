// What a backup (GET /backup, src/http/backup.ts) needs of the node serving it: the cluster's
// identity and shape, this node's own replicas' snapshots, and where the other replicas of a
// partition are. A standalone node is the same with one member and no cluster id.
import type { Config } from "../config/schema.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRdb } from "../store/backup-rdb.ts";
import { addRepartitioned } from "../store/partition-snapshot.ts";
import { StateDb } from "../store/state.ts";
import { withDeadline } from "./deadline.ts";
import { groupOf } from "../keyspace/groups.ts";
import type { ClusterNode } from "./cluster-node.ts";
import type { ReplicaHost } from "./replica-host.ts";

/** How long one partition may take to find a replica that answers (a leader election fits in it). */
const PARTITION_MS = 15_000;
/** One attempt at one replica: a ReadIndex round, or a remote snapshot's transfer. */
export const ATTEMPT_MS = 5_000;
const REMOTE_MS = 60_000;
const RETRY_MS = 200;
/** GET /backup/partition/:p's header with the snapshot's Raft index. */
export const INDEX_HEADER = "x-flydb-index";

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
  /** The http_auth_token the members share, for GET /backup/partition/:p on another member. */
  readonly token: string;
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
    token: config.http_auth_token,
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
    token: config.http_auth_token,
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

export const late = (part: number) =>
  new Error(`no ReadIndex confirmation for partition ${part} within ${ATTEMPT_MS} ms`);

/** Partition `part` from the first replica that gives it, trying again until PARTITION_MS. */
export async function partitionSnapshot(s: BackupSource, part: number): Promise<PartitionSnapshot> {
  const deadline = performance.now() + PARTITION_MS;
  const errors: string[] = [];
  for (;;) {
    try {
      const mine = await withDeadline(s.local(part), ATTEMPT_MS, () => late(part));
      if (mine) return mine;
    } catch (e) {
      errors.push(`this node: ${(e as Error).message}`);
    }
    for (const http of s.peers(part)) {
      try {
        return await remote(http, part, s.token);
      } catch (e) {
        errors.push(`${http}: ${(e as Error).message}`);
      }
    }
    if (performance.now() > deadline) {
      const why = errors.length > 0 ? errors.slice(-3).join("; ") : "no member holds a replica";
      throw new Error(`partition ${part}: no replica gave a snapshot within ${PARTITION_MS} ms (${why})`);
    }
    await Bun.sleep(RETRY_MS);
  }
}

async function remote(http: string, part: number, token: string): Promise<PartitionSnapshot> {
  const res = await fetch(`http://${http}/backup/partition/${part}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(REMOTE_MS),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const index = Number(res.headers.get(INDEX_HEADER));
  if (!Number.isSafeInteger(index)) throw new Error(`no ${INDEX_HEADER} header`);
  return { index, data: new Uint8Array(await res.arrayBuffer()) };
}

/**
 * Every partition, each as of a committed index as in a backup, as one RDB file of database 0 (SYNC,
 * for `redis-cli --rdb`); built in a scratch data.db and held in memory whole.
 */
export async function rdbSnapshot(s: BackupSource, now: number): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "flydb-sync-"));
  try {
    const count = s.partitionCount();
    const state = StateDb.open({ path: join(dir, "data.db"), partitionCount: count, databases: s.databases });
    try {
      for (let part = 0; part < count; part++) {
        const { data } = await partitionSnapshot(s, part);
        state.db.transaction(() => addRepartitioned(state, data, count))();
      }
      const chunks: Uint8Array[] = [];
      writeRdb(state, (b) => chunks.push(b), now);
      return Buffer.concat(chunks);
    } finally {
      state.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
