// A partition's rows as one blob: what a Raft snapshot of partition group p carries (with the
// applied index; see docs/design/cluster.md). Covers the keys table and every
// collection table in the registry, so new data types are included without touching this file.
// A cluster group's snapshot also carries its proposal session records (proposal-sessions.ts), so a
// replica that got the partition by snapshot answers retried writes as the others do.
import type { Database } from "bun:sqlite";
import { Packr } from "msgpackr";
import { COLLECTION_TABLES, type CollectionTable } from "./collections.ts";
import { exportSessions, importSessions, type SessionRow } from "./proposal-sessions.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });
const KEY_COLUMNS = ["key", "type", "value", "expire_at"];
/** Not a row table: the snapshot's entry for the group's session records. */
const SESSIONS = "proposal_sessions";

type Rows = unknown[][];

function tables(collections: readonly CollectionTable[]): { name: string; columns: string[] }[] {
  return [
    { name: "keys", columns: KEY_COLUMNS },
    ...collections.map((t) => ({ name: t.name, columns: ["key", ...t.columns] })),
  ];
}

/**
 * Every row of partition `part` and the session records of its group `grp`, encoded. Call inside
 * the transaction that read the applied index.
 */
export function exportPartition(db: Database, part: number, grp: number, collections = COLLECTION_TABLES): Uint8Array {
  const out: Record<string, Rows> = {};
  for (const t of tables(collections)) {
    out[t.name] = db.query(`SELECT ${t.columns.join(", ")} FROM ${t.name} WHERE part = ?`).values(part) as Rows;
  }
  out[SESSIONS] = exportSessions(db, grp);
  return packr.pack(out);
}

/**
 * Replaces partition `part` with the rows of a snapshot and records `appliedIdx` for group `grp`,
 * in one transaction: a crash leaves either the old partition or the new one.
 */
export function importPartition(db: Database, part: number, data: Uint8Array, grp: number, appliedIdx: number, collections = COLLECTION_TABLES): void {
  const decoded = packr.unpack(data) as Record<string, Rows>;
  if (typeof decoded !== "object" || decoded === null || !Array.isArray(decoded.keys)) {
    throw new Error(`snapshot for partition ${part} (${data.length} bytes) is not a partition snapshot`);
  }
  db.transaction(() => {
    // Collection rows first, then keys (their delete triggers then find nothing left to do).
    for (const t of tables(collections).reverse()) db.run(`DELETE FROM ${t.name} WHERE part = ?`, [part]);
    for (const t of tables(collections)) {
      const rows = decoded[t.name] ?? [];
      if (rows.length === 0) continue;
      const insert = db.prepare(`INSERT INTO ${t.name} (part, ${t.columns.join(", ")}) VALUES (?${", ?".repeat(t.columns.length)})`);
      for (const row of rows) insert.run(part, ...(row as never[]));
      insert.finalize();
    }
    // Snapshots taken before session records existed carry none.
    importSessions(db, grp, (decoded[SESSIONS] ?? []) as SessionRow[]);
    db.run("INSERT INTO applied (grp, idx) VALUES (?, ?) ON CONFLICT (grp) DO UPDATE SET idx = excluded.idx", [grp, appliedIdx]);
  })();
}

/** Deletes partition `part`'s rows and group `grp`'s applied index and sessions (the replica moved away). */
export function dropPartition(db: Database, part: number, grp: number, collections = COLLECTION_TABLES): void {
  db.transaction(() => {
    for (const t of tables(collections).reverse()) db.run(`DELETE FROM ${t.name} WHERE part = ?`, [part]);
    importSessions(db, grp, []);
    db.run("DELETE FROM applied WHERE grp = ?", [grp]);
  })();
}
