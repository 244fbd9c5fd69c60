// The registry of per-key row tables in data.db (a collection is rows, not a blob: docs/design/storage.md).
// Every table that stores rows of a key is listed here, so deleting, retyping, renaming and
// copying a key reaches all of its rows from one place (state.ts derives triggers and copy
// statements from this list). collection-rows.ts reads and writes these tables.
import type { KeyType } from "../commands/types.ts";
import { STREAM_TABLES } from "./stream-rows.ts";

export interface CollectionTable {
  /** SQL identifier of the table, e.g. "hash_fields". */
  readonly name: string;
  /** The key type whose rows live in this table. */
  readonly type: KeyType;
  /**
   * CREATE TABLE / CREATE INDEX statements (use IF NOT EXISTS). The table must have columns
   * `part INTEGER NOT NULL` and `key BLOB NOT NULL` leading its primary key.
   */
  readonly ddl: readonly string[];
  /** The columns besides (part, key), copied as they are by COPY. */
  readonly columns: readonly string[];
}

export const COLLECTION_TABLES: readonly CollectionTable[] = [
  {
    name: "hash_fields",
    type: "hash",
    ddl: [
      "CREATE TABLE IF NOT EXISTS hash_fields (part INTEGER NOT NULL, key BLOB NOT NULL, field BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (part, key, field)) WITHOUT ROWID",
    ],
    columns: ["field", "value"],
  },
  {
    name: "list_items",
    type: "list",
    ddl: [
      "CREATE TABLE IF NOT EXISTS list_items (part INTEGER NOT NULL, key BLOB NOT NULL, seq INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (part, key, seq)) WITHOUT ROWID",
    ],
    columns: ["seq", "value"],
  },
  {
    name: "set_members",
    type: "set",
    ddl: [
      "CREATE TABLE IF NOT EXISTS set_members (part INTEGER NOT NULL, key BLOB NOT NULL, member BLOB NOT NULL, PRIMARY KEY (part, key, member)) WITHOUT ROWID",
    ],
    columns: ["member"],
  },
  {
    name: "zset_members",
    type: "zset",
    ddl: [
      "CREATE TABLE IF NOT EXISTS zset_members (part INTEGER NOT NULL, key BLOB NOT NULL, member BLOB NOT NULL, score REAL NOT NULL, PRIMARY KEY (part, key, member)) WITHOUT ROWID",
      "CREATE INDEX IF NOT EXISTS zset_by_score ON zset_members (part, key, score, member)",
    ],
    columns: ["member", "score"],
  },
  {
    // Rank chunks of big sorted sets (see collection-rows.ts): lower bound and member count.
    name: "zset_chunks",
    type: "zset",
    ddl: [
      "CREATE TABLE IF NOT EXISTS zset_chunks (part INTEGER NOT NULL, key BLOB NOT NULL, lo_score REAL NOT NULL, lo_member BLOB NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (part, key, lo_score, lo_member)) WITHOUT ROWID",
    ],
    columns: ["lo_score", "lo_member", "n"],
  },
  ...STREAM_TABLES,
];
