// The script bodies a state machine has applied EVALs of (src/commands/scripting.ts): per partition
// in a cluster (row `part`), under STANDALONE_PART in a standalone store. They let an EVALSHA's op
// carry the SHA1 alone through the Raft log: every replica reads the body here, at the op's own log
// position. This is replicated state, not a cache a node may drop on its own: a replica without
// a body the others have would answer differently, so the rows travel in the partition's snapshot
// (partition-snapshot.ts), and eviction is by apply order, the same on every replica.
import type { Database } from "bun:sqlite";

export const SCRIPTS_DDL = [
  // id orders a partition's rows by when they were added: the oldest is evicted first.
  "CREATE TABLE IF NOT EXISTS scripts (id INTEGER PRIMARY KEY, part INTEGER NOT NULL, sha TEXT NOT NULL, body BLOB NOT NULL)",
  "CREATE UNIQUE INDEX IF NOT EXISTS scripts_by_part_sha ON scripts (part, sha)",
];

/** Bodies kept per partition, as Redis 7.4 keeps at most 500 EVAL scripts; an evicted one is sent again. */
export const SCRIPTS_KEPT = 500;
/** And at most these bytes of bodies per partition: they are in every snapshot of it. */
const SCRIPT_BYTES_KEPT = 16 * 1024 * 1024;

export function readScript(db: Database, part: number, sha: string): Uint8Array | undefined {
  const row = db
    .query<{ body: Uint8Array }, [number, string]>("SELECT body FROM scripts WHERE part = ? AND sha = ?")
    .get(part, sha);
  return row?.body ?? undefined;
}

/** Adds a body (no-op when the partition has it), evicting the partition's oldest past the limits. */
export function keepScript(db: Database, part: number, sha: string, body: Uint8Array): void {
  const added = db
    .query("INSERT INTO scripts (part, sha, body) VALUES (?, ?, ?) ON CONFLICT (part, sha) DO NOTHING")
    .run(part, sha, body);
  if (added.changes === 0) return;
  const total = db
    .query<{ n: number; bytes: number }, [number]>(
      "SELECT count(*) AS n, coalesce(sum(length(body)), 0) AS bytes FROM scripts WHERE part = ?",
    )
    .get(part)!;
  let { n, bytes } = total;
  const oldest = db.query<{ id: number; size: number }, [number]>(
    "SELECT id, length(body) AS size FROM scripts WHERE part = ? ORDER BY id LIMIT 1",
  );
  // The body just added is never evicted: the op that added it runs it next.
  while (n > 1 && (n > SCRIPTS_KEPT || bytes > SCRIPT_BYTES_KEPT)) {
    const row = oldest.get(part)!;
    db.run("DELETE FROM scripts WHERE id = ?", [row.id]);
    n--;
    bytes -= row.size;
  }
}

/** A partition's bodies oldest first, as [sha, body] rows (a snapshot's entry). */
export function exportScripts(db: Database, part: number): [string, Uint8Array][] {
  const rows = db.query<{ sha: string; body: Uint8Array }, [number]>(
    "SELECT sha, body FROM scripts WHERE part = ? ORDER BY id",
  );
  return rows.all(part).map((r) => [r.sha, r.body]);
}

/** Replaces a partition's bodies with a snapshot's rows, keeping their order. */
export function importScripts(db: Database, part: number, rows: readonly (readonly unknown[])[]): void {
  db.run("DELETE FROM scripts WHERE part = ?", [part]);
  const insert = db.prepare("INSERT INTO scripts (part, sha, body) VALUES (?, ?, ?)");
  for (const [sha, body] of rows) insert.run(part, sha as string, body as Uint8Array);
  insert.finalize();
}
