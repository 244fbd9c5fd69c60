// PRAGMA synchronous of one open SQLite connection: what its commits wait for before they
// return. Asked of the connection itself, not derived from the fsync setting, so /metrics shows
// what a running node really does (docs/API.md, flydb_sqlite_synchronous).
import type { Database } from "bun:sqlite";

/**
 * The `fsync` setting (src/config/schema.ts): "always" commits raft.db with synchronous = FULL,
 * "everysec" and "no" with NORMAL (commits survive kill -9, not power loss), "everysec" with a
 * WAL sync once a second.
 */
export type FsyncMode = "always" | "everysec" | "no";

/** SQLite's levels, indexed by the number PRAGMA synchronous returns. */
export const SYNCHRONOUS_MODES = ["OFF", "NORMAL", "FULL", "EXTRA"] as const;
export type SynchronousMode = (typeof SYNCHRONOUS_MODES)[number];

export function synchronousOf(db: Database): SynchronousMode {
  const { synchronous } = db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!;
  const mode = SYNCHRONOUS_MODES[synchronous];
  if (mode === undefined) throw new Error(`PRAGMA synchronous returned ${synchronous}, not a known level`);
  return mode;
}

/** The PRAGMA synchronous of a node's two databases, as their open connections report it. */
export interface SqliteSynchronous {
  readonly raft: SynchronousMode;
  readonly data: SynchronousMode;
}
