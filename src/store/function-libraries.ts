// FUNCTION's libraries in data.db: one FUNCTION DUMP payload per state machine that applies
// FUNCTION LOAD, i.e. per partition in a cluster (row `part`) and one row (part -1) for a
// standalone store. A partition's row travels in its snapshot (partition-snapshot.ts), so a replica
// that joins by snapshot has the libraries its log positions assume.
import type { Database } from "bun:sqlite";

export const FUNCTIONS_DDL = "CREATE TABLE IF NOT EXISTS functions (part INTEGER PRIMARY KEY, payload BLOB NOT NULL)";

/** The row a standalone store keeps its libraries in. */
export const STANDALONE_PART = -1;

export function readLibraries(db: Database, part: number): Uint8Array | undefined {
  const row = db.query<{ payload: Uint8Array }, [number]>("SELECT payload FROM functions WHERE part = ?").get(part);
  return row?.payload ?? undefined;
}

/** Replaces (or with undefined removes) a partition's libraries. */
export function writeLibraries(db: Database, part: number, payload: Uint8Array | undefined): void {
  if (payload === undefined) db.run("DELETE FROM functions WHERE part = ?", [part]);
  else {
    db.run(
      "INSERT INTO functions (part, payload) VALUES (?, ?) ON CONFLICT (part) DO UPDATE SET payload = excluded.payload",
      [part, payload],
    );
  }
}
