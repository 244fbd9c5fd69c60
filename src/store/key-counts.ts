// How many keys each shard of data.db holds (docs/design/storage.md, "data.db"): DBSIZE, INFO
// keyspace and a cluster's per-partition counts read these instead of counting rows, which took
// ~1 s of CPU at 1M keys (issue #20).
import type { Database } from "bun:sqlite";

/** `n` keys rows per shard (`part`), `expiring` of them with an expiry, expired or not. */
const COUNTS_TABLE =
  "CREATE TABLE IF NOT EXISTS shard_keys (part INTEGER PRIMARY KEY, n INTEGER NOT NULL, expiring INTEGER NOT NULL)";

const add = `INSERT INTO shard_keys (part, n, expiring) VALUES (new.part, 1, new.expire_at IS NOT NULL)
  ON CONFLICT (part) DO UPDATE SET n = n + 1, expiring = expiring + (new.expire_at IS NOT NULL)`;
const remove =
  "UPDATE shard_keys SET n = n - 1, expiring = expiring - (old.expire_at IS NOT NULL) WHERE part = old.part";

/**
 * Triggers on `keys`, so every writer (string upserts, collections, streams, snapshots, SWAPDB,
 * MOVE, FLUSHDB) keeps the counts inside its own statement, applied through the log like the rows
 * themselves: every replica's counts follow from its rows. The update trigger runs only when a
 * row changes shard or gains or loses its expiry (not on a plain SET over a string).
 */
export const KEY_COUNTS_DDL: readonly string[] = [
  COUNTS_TABLE,
  `CREATE TRIGGER IF NOT EXISTS keys_count_insert AFTER INSERT ON keys BEGIN ${add}; END`,
  `CREATE TRIGGER IF NOT EXISTS keys_count_delete AFTER DELETE ON keys BEGIN ${remove}; END`,
  `CREATE TRIGGER IF NOT EXISTS keys_count_update AFTER UPDATE OF part, expire_at ON keys
     WHEN old.part <> new.part OR (old.expire_at IS NULL) <> (new.expire_at IS NULL)
     BEGIN ${remove}; ${add}; END`,
];

/** Before KEY_COUNTS_DDL runs: whether data.db predates the counts (or is new), so fillCounts must run. */
export function countsMissing(db: Database): boolean {
  return (
    db
      .query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'shard_keys'")
      .get()!.n === 0
  );
}

/**
 * Counts the rows once, in the open's transaction, for a data.db from before the counts: `n` from
 * the (part, key) index alone, `expiring` through the expiry index (one `count(expire_at)` over
 * the table looked up every row: 12–31 s for 1M keys on a loaded machine).
 */
export function fillCounts(db: Database): void {
  db.run("INSERT INTO shard_keys (part, n, expiring) SELECT part, count(*), 0 FROM keys GROUP BY part");
  db.run(
    `UPDATE shard_keys SET expiring = e.n FROM (SELECT part, count(*) AS n FROM keys INDEXED BY keys_by_expiry
       WHERE expire_at IS NOT NULL GROUP BY part) AS e WHERE shard_keys.part = e.part`,
  );
}
