// The keys table of data.db and the per-shard key counts kept beside it (docs/design/storage.md,
// "data.db"), with the conversion of a data.db written in an older layout.
import type { Database } from "bun:sqlite";

/**
 * A new row's id (the SCAN cursor): one past the largest, as SQLite assigned rowids before the
 * table had its own key, so replicas applying the same log give a key the same id.
 */
export const NEXT_KEY_ID = "(SELECT coalesce(max(id), 0) + 1 FROM keys)";

/**
 * Clustered on (part, key): a lookup is one B-tree descent and an overwrite dirties one page
 * (a rowid table with a (part, key) index took two descents). `id` has its own index, which only
 * grows at its right end.
 */
const KEYS_TABLE = (name: string) =>
  `CREATE TABLE IF NOT EXISTS ${name} (
     part INTEGER NOT NULL, key BLOB NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL,
     value BLOB, expire_at INTEGER, enc INTEGER, PRIMARY KEY (part, key)) WITHOUT ROWID`;

/** `n` rows per shard, `expiring` of them with an expiry: DBSIZE without counting rows. */
const COUNTS_TABLE =
  "CREATE TABLE IF NOT EXISTS shard_keys (part INTEGER PRIMARY KEY, n INTEGER NOT NULL, expiring INTEGER NOT NULL)";

const countIn = (row: "new" | "old", sign: "+" | "-") =>
  sign === "+"
    ? `INSERT INTO shard_keys (part, n, expiring) VALUES (new.part, 1, new.expire_at IS NOT NULL)
         ON CONFLICT (part) DO UPDATE SET n = n + 1, expiring = expiring + (new.expire_at IS NOT NULL)`
    : `UPDATE shard_keys SET n = n - 1, expiring = expiring - (${row}.expire_at IS NOT NULL) WHERE part = ${row}.part`;

export const KEYS_DDL: readonly string[] = [
  KEYS_TABLE("keys"),
  "CREATE UNIQUE INDEX IF NOT EXISTS keys_by_id ON keys (id)",
  "CREATE INDEX IF NOT EXISTS keys_by_expiry ON keys (expire_at) WHERE expire_at IS NOT NULL",
  COUNTS_TABLE,
  // Triggers, so every writer (upserts, collections, streams, snapshots, SWAPDB, FLUSH) keeps the
  // counts inside its own statement, applied deterministically like the rows themselves.
  `CREATE TRIGGER IF NOT EXISTS keys_count_insert AFTER INSERT ON keys BEGIN ${countIn("new", "+")}; END`,
  `CREATE TRIGGER IF NOT EXISTS keys_count_delete AFTER DELETE ON keys BEGIN ${countIn("old", "-")}; END`,
  `CREATE TRIGGER IF NOT EXISTS keys_count_update AFTER UPDATE OF part, expire_at ON keys
     WHEN old.part <> new.part OR (old.expire_at IS NULL) <> (new.expire_at IS NULL)
     BEGIN ${countIn("old", "-")}; ${countIn("new", "+")}; END`,
];

const tableSql = (db: Database, name: string): string | undefined =>
  db.query<{ sql: string }, [string]>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(name)?.sql;

/**
 * Before KEYS_DDL, inside the open's transaction: a keys table of the older layout (a rowid
 * table with a (part, key) index; before that, without `enc`) is rebuilt in the current one,
 * keeping every row's id; dropping it drops its index and triggers without running them, and
 * the schema recreates them. An older binary cannot open the converted file.
 */
export function convertKeysTable(db: Database): void {
  const sql = tableSql(db, "keys");
  if (sql === undefined || /WITHOUT ROWID/i.test(sql)) return;
  const columns = db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('keys')").all();
  const enc = columns.some((c) => c.name === "enc") ? "enc" : "NULL";
  db.run(KEYS_TABLE("keys_converted"));
  db.run(
    `INSERT INTO keys_converted (part, key, id, type, value, expire_at, enc)
     SELECT part, key, id, type, value, expire_at, ${enc} FROM keys ORDER BY part, key`,
  );
  db.run("DROP TABLE keys");
  db.run("ALTER TABLE keys_converted RENAME TO keys");
}

/** After KEYS_DDL: whether the counts must be filled (a data.db from before they existed). */
export function countsMissing(db: Database): boolean {
  return tableSql(db, "shard_keys") === undefined;
}

/** Counts the rows once, for a data.db that had no shard_keys (KEYS_DDL has just created it). */
export function fillCounts(db: Database): void {
  db.run("DELETE FROM shard_keys");
  db.run("INSERT INTO shard_keys (part, n, expiring) SELECT part, count(*), count(expire_at) FROM keys GROUP BY part");
}
