// A partition's rows as one blob: what a Raft snapshot of partition group p carries (with the
// applied index; see docs/design/cluster.md). Covers the keys table and every
// collection table in the registry, so new data types are included without touching this file.
// A cluster group's snapshot also carries its proposal session records (proposal-sessions.ts), so a
// replica that got the partition by snapshot answers retried writes as the others do.
// The partition's rows of database d > 0 (src/store/state.ts, DB_STRIDE) are under "<table>@d";
// database 0's under the table's name, as in snapshots taken before databases existed.
import type { Database } from "bun:sqlite";
import { Packr } from "msgpackr";
import { COLLECTION_TABLES, type CollectionTable } from "./collections.ts";
import { DB_STRIDE } from "./state.ts";
import { keySlot, partitionOf } from "../keyspace/slot.ts";
import { exportSessions, importSessions, type SessionRow } from "./proposal-sessions.ts";
import { readLibraries, writeLibraries } from "./function-libraries.ts";
import { exportScripts, importScripts } from "./script-bodies.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });
/** enc (the string form, src/store/state.ts) came last: older snapshots' rows stop before it. */
const KEY_COLUMNS = ["key", "type", "value", "expire_at", "enc"];
/** Not a row table: the snapshot's entry for the group's session records. */
const SESSIONS = "proposal_sessions";
/** Not a row table: the partition's FUNCTION libraries (function-libraries.ts), as [[payload]] or []. */
const FUNCTIONS = "functions";
/** Not a row table: the script bodies EVALSHA ops of the partition name (script-bodies.ts), as [sha, body] rows. */
const SCRIPTS = "scripts";

type Rows = unknown[][];

/** data.db and its configured number of databases (a StateDb). */
export interface PartitionStore {
  readonly db: Database;
  readonly databases: number;
}

const entryName = (table: string, db: number) => (db === 0 ? table : `${table}@${db}`);

function tables(collections: readonly CollectionTable[]): { name: string; columns: string[] }[] {
  return [
    { name: "keys", columns: KEY_COLUMNS },
    ...collections.map((t) => ({ name: t.name, columns: ["key", ...t.columns] })),
  ];
}

/**
 * Every row of partition `part` and the session records of its group `grp`, encoded. Call inside
 * the transaction that read the applied index. `librariesPart`: the functions and scripts rows to carry (a
 * standalone store keeps one for all partitions: function-libraries.ts).
 */
export function exportPartition(
  store: PartitionStore,
  part: number,
  grp: number,
  collections = COLLECTION_TABLES,
  librariesPart = part,
): Uint8Array {
  const { db } = store;
  const out: Record<string, Rows> = {};
  for (const t of tables(collections)) {
    const select = db.query(`SELECT ${t.columns.join(", ")} FROM ${t.name} WHERE part = ?`);
    for (let d = 0; d < store.databases; d++) {
      const rows = select.values(d * DB_STRIDE + part) as Rows;
      if (d === 0 || rows.length > 0) out[entryName(t.name, d)] = rows;
    }
  }
  out[SESSIONS] = exportSessions(db, grp);
  const libraries = readLibraries(db, librariesPart);
  out[FUNCTIONS] = libraries ? [[libraries]] : [];
  out[SCRIPTS] = exportScripts(db, librariesPart);
  return packr.pack(out);
}

/**
 * Replaces partition `part` with the rows of a snapshot and records `appliedIdx` for group `grp`,
 * in one transaction: a crash leaves either the old partition or the new one.
 */
export function importPartition(
  store: PartitionStore,
  part: number,
  data: Uint8Array,
  grp: number,
  appliedIdx: number,
  collections = COLLECTION_TABLES,
): void {
  const { db } = store;
  const decoded = packr.unpack(data) as Record<string, Rows>;
  if (typeof decoded !== "object" || decoded === null || !Array.isArray(decoded.keys)) {
    throw new Error(`snapshot for partition ${part} (${data.length} bytes) is not a partition snapshot`);
  }
  for (const name of Object.keys(decoded)) {
    const d = Number(name.split("@")[1] ?? 0);
    if (!(d < store.databases)) {
      throw new Error(
        `snapshot for partition ${part} has rows of database ${d}, but databases = ${store.databases} here`,
      );
    }
  }
  db.transaction(() => {
    deleteRows(store, part, collections);
    for (const t of tables(collections)) {
      const insert = db.prepare(
        `INSERT INTO ${t.name} (part, ${t.columns.join(", ")}) VALUES (?${", ?".repeat(t.columns.length)})`,
      );
      for (let d = 0; d < store.databases; d++) {
        for (const row of decoded[entryName(t.name, d)] ?? []) {
          const values = [...(row as never[]), ...Array<null>(t.columns.length - row.length).fill(null)];
          insert.run(d * DB_STRIDE + part, ...(values as never[]));
        }
      }
      insert.finalize();
    }
    // Snapshots taken before session records existed carry none.
    importSessions(db, grp, (decoded[SESSIONS] ?? []) as SessionRow[]);
    writeLibraries(db, part, (decoded[FUNCTIONS]?.[0]?.[0] as Uint8Array | undefined) ?? undefined);
    importScripts(db, part, decoded[SCRIPTS] ?? []);
    db.run("INSERT INTO applied (grp, idx) VALUES (?, ?) ON CONFLICT (grp) DO UPDATE SET idx = excluded.idx", [
      grp,
      appliedIdx,
    ]);
  })();
}

/**
 * Adds a snapshot's rows to `store` (a data.db being restored, src/store/backup-restore.ts), each
 * row under the partition its key falls in out of `partitionCount`, so a backup restores into any
 * partition count. Session records are left out (a restored store has no clients yet); returns the
 * snapshot's FUNCTION libraries, if any. Call inside a transaction.
 */
export function addRepartitioned(
  store: PartitionStore,
  data: Uint8Array,
  partitionCount: number,
  collections = COLLECTION_TABLES,
): Uint8Array | undefined {
  const decoded = packr.unpack(data) as Record<string, Rows>;
  if (typeof decoded !== "object" || decoded === null || !Array.isArray(decoded.keys)) {
    throw new Error(`a ${data.length}-byte section is not a partition snapshot`);
  }
  for (const t of tables(collections)) {
    const insert = store.db.prepare(
      `INSERT INTO ${t.name} (part, ${t.columns.join(", ")}) VALUES (?${", ?".repeat(t.columns.length)})`,
    );
    for (let d = 0; d < store.databases; d++) {
      for (const row of decoded[entryName(t.name, d)] ?? []) {
        const part = partitionOf(keySlot(row[0] as Uint8Array), partitionCount);
        insert.run(d * DB_STRIDE + part, ...(row as never[]));
      }
    }
    insert.finalize();
  }
  return (decoded[FUNCTIONS]?.[0]?.[0] as Uint8Array | undefined) ?? undefined;
}

/** Deletes partition `part`'s rows and group `grp`'s applied index and sessions (the replica moved away). */
export function dropPartition(store: PartitionStore, part: number, grp: number, collections = COLLECTION_TABLES): void {
  const { db } = store;
  db.transaction(() => {
    deleteRows(store, part, collections);
    importSessions(db, grp, []);
    writeLibraries(db, part, undefined);
    importScripts(db, part, []);
    db.run("DELETE FROM applied WHERE grp = ?", [grp]);
  })();
}

/** Every row of partition `part` in every database; collection rows first (the keys' triggers then find none). */
function deleteRows(store: PartitionStore, part: number, collections: readonly CollectionTable[]): void {
  for (const t of tables(collections).reverse()) {
    const del = store.db.prepare(`DELETE FROM ${t.name} WHERE part = ?`);
    for (let d = 0; d < store.databases; d++) del.run(d * DB_STRIDE + part);
    del.finalize();
  }
}
