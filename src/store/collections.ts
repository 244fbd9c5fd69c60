// The registry of per-key row tables in data.db (DESIGN §5: a collection is rows, not a blob).
// Every table that stores rows of a key is listed here, so deleting, retyping, renaming and
// copying a key reaches all of its rows from one place (state.ts derives triggers and copy
// statements from this list). Issue 6 adds the hash, list, set and zset tables.
import type { KeyType } from "../commands/types.ts";

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

export const COLLECTION_TABLES: readonly CollectionTable[] = [];
