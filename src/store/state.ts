// The state machine database (data.db, docs/design/storage.md): the keyspace rows plus the log index each
// group has applied, written in the same transaction so a crash never separates them. It is not
// fsynced per batch (synchronous=NORMAL): whatever it loses is replayed from raft.db.
import { Database, SQLiteError, type Statement } from "bun:sqlite";
import {
  type CollectionInfo,
  type KeyMeta,
  type KeyType,
  type Keyspace,
  type LexRange,
  type ListItem,
  type Op,
  type ScoreRange,
  type StringForm,
  type StringSlice,
  WRONG_TYPE,
  type WrongType,
  type ZEntry,
  type ZRange,
} from "../commands/types.ts";
import { err, type Reply } from "../resp/reply.ts";
import { groupOf, STANDALONE_GROUP } from "../keyspace/groups.ts";
import { isValidPartitionCount, keySlot, partitionOf } from "../keyspace/slot.ts";
import { CollectionRows, Versions } from "./collection-rows.ts";
import { FUNCTIONS_DDL, readLibraries, STANDALONE_PART, writeLibraries } from "./function-libraries.ts";
import { keepScript, readScript, SCRIPTS_DDL } from "./script-bodies.ts";
import { COLLECTION_TABLES, type CollectionTable } from "./collections.ts";
import { countsMissing, fillCounts, KEY_COUNTS_DDL } from "./key-counts.ts";
import { SESSIONS_DDL } from "./proposal-sessions.ts";
import { StreamRows } from "./stream-rows.ts";
import { synchronousOf, type SynchronousMode } from "./sqlite-sync.ts";

export interface StateDbOptions {
  readonly path: string;
  /** The configured partition_count; stored in data.db and checked on every later open. */
  readonly partitionCount: number;
  /** Redis's `databases`: SELECT, MOVE, … accept indexes below it (default 16). */
  readonly databases?: number;
  /** The per-key row tables; defaults to the registry in collections.ts. */
  readonly collections?: readonly CollectionTable[];
  /** A cluster member: only a partition's own keys are at hand when one of its ops runs. */
  readonly clustered?: boolean;
  /**
   * Locked from open to close (a standalone node): a second process on the same data_dir, a
   * second node or a second start by hand, is refused instead of writing beside the first.
   */
  readonly exclusive?: boolean;
}

export type ApplyFn = (op: Op, ks: Keyspace) => Reply;

const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const LIVE = "(expire_at IS NULL OR expire_at > ?)";
/**
 * The `part` column of every row table holds a shard: database × DB_STRIDE + partition. The
 * database is part of a key's identity while its partition still comes from the key alone, and
 * rows written before databases existed (part < DB_STRIDE) are database 0 as they are: no
 * migration. Partition numbers are below 16384 (keyspace/slot.ts), so one database's shards are
 * the range [db × DB_STRIDE, (db + 1) × DB_STRIDE) and one partition's are p, p + DB_STRIDE, ….
 */
export const DB_STRIDE = 16384;
export const DEFAULT_DATABASES = 16;

/** Where one database's shards start and end (exclusive). */
const dbRange = (db: number): [number, number] => [db * DB_STRIDE, (db + 1) * DB_STRIDE];

function schema(collections: readonly CollectionTable[]): string[] {
  const statements = [
    "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value ANY) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS applied (grp INTEGER PRIMARY KEY, idx INTEGER NOT NULL)",
    // id is the rowid: SCAN cursors are ids, stable while other keys come and go.
    `CREATE TABLE IF NOT EXISTS keys (
       id INTEGER PRIMARY KEY, part INTEGER NOT NULL, key BLOB NOT NULL, type TEXT NOT NULL,
       value BLOB, expire_at INTEGER, enc INTEGER)`,
    "CREATE UNIQUE INDEX IF NOT EXISTS keys_by_part_key ON keys (part, key)",
    "CREATE INDEX IF NOT EXISTS keys_by_expiry ON keys (expire_at) WHERE expire_at IS NOT NULL",
    ...KEY_COUNTS_DDL,
    SESSIONS_DDL,
    FUNCTIONS_DDL,
    ...SCRIPTS_DDL,
  ];
  for (const table of collections) {
    if (!SQL_IDENTIFIER.test(table.name) || !table.columns.every((c) => SQL_IDENTIFIER.test(c))) {
      throw new Error(
        `collection table ${JSON.stringify(table.name)} has a name or column that is not a plain SQL identifier`,
      );
    }
    const t = table.name;
    const ofOld = `DELETE FROM ${t} WHERE part = old.part AND key = old.key`;
    statements.push(
      ...table.ddl,
      // Triggers, so the hot single-statement upsert in setString also clears a replaced collection.
      `CREATE TRIGGER IF NOT EXISTS ${t}_on_delete AFTER DELETE ON keys WHEN old.type = '${table.type}'
         BEGIN ${ofOld}; END`,
      `CREATE TRIGGER IF NOT EXISTS ${t}_on_retype AFTER UPDATE OF type ON keys
         WHEN old.type = '${table.type}' AND new.type <> old.type BEGIN ${ofOld}; END`,
      `CREATE TRIGGER IF NOT EXISTS ${t}_on_move AFTER UPDATE OF part, key ON keys WHEN old.type = '${table.type}'
         BEGIN UPDATE ${t} SET part = new.part, key = new.key WHERE part = old.part AND key = old.key; END`,
    );
  }
  return statements;
}

/** Bytes the WAL is truncated to after a checkpoint. */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024;
/** Free pages returned to the file system per step, and how often a step may run. */
const VACUUM_PAGES = 8192;
const VACUUM_EVERY_MS = 1_000;

/** data.db: open, schema, applied indexes, batch application, checkpoints. */
export class StateDb {
  private nextVacuumAt = 0;
  readonly keyspace: SqliteKeyspace;
  private readonly getApplied: Statement;
  private readonly putApplied: Statement;
  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;
  private readonly savepoint: Statement;
  private readonly release: Statement;
  private readonly rollbackTo: Statement;
  private readonly batchSavepoint: Statement;
  private readonly batchRelease: Statement;
  private readonly batchRollbackTo: Statement;

  private constructor(
    readonly db: Database,
    partitionCount: number,
    /** The configured `databases`. */
    readonly databases: number,
    collections: readonly CollectionTable[],
    clustered: boolean,
  ) {
    const versions = new Versions((key) => partitionOf(keySlot(key), partitionCount));
    this.keyspace = new SqliteKeyspace({ sql: db, partitionCount, databases, collections, versions, clustered }, 0);
    // A partition's keys are written by the standalone group or by the partition's own group
    // (keyspace/groups.ts); whichever has applied entries sets the partition's WATCH floor.
    const applied = new Map(
      db
        .query<{ grp: number; idx: number }, []>("SELECT grp, idx FROM applied")
        .all()
        .map((r) => [r.grp, r.idx]),
    );
    this.keyspace.versions.reset(applied, (part) => [STANDALONE_GROUP, groupOf(part)]);
    this.getApplied = db.prepare("SELECT idx FROM applied WHERE grp = ?");
    this.putApplied = db.prepare(
      "INSERT INTO applied (grp, idx) VALUES (?, ?) ON CONFLICT (grp) DO UPDATE SET idx = excluded.idx",
    );
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
    this.savepoint = db.prepare("SAVEPOINT op");
    this.release = db.prepare("RELEASE op");
    this.rollbackTo = db.prepare("ROLLBACK TO op");
    this.batchSavepoint = db.prepare("SAVEPOINT batch");
    this.batchRelease = db.prepare("RELEASE batch");
    this.batchRollbackTo = db.prepare("ROLLBACK TO batch");
  }

  /** Opens (creating if needed) data.db. Throws a SQLiteError when the file is not a database. */
  static open(options: StateDbOptions): StateDb {
    const { path, partitionCount } = options;
    const databases = options.databases ?? DEFAULT_DATABASES;
    if (!Number.isInteger(databases) || databases < 1 || databases > 1 << 16) {
      throw new RangeError(`databases = ${databases} is not an integer between 1 and 65536`);
    }
    const collections = options.collections ?? COLLECTION_TABLES;
    if (!isValidPartitionCount(partitionCount)) {
      throw new RangeError(`partition count ${partitionCount} is not a power of two between 1 and 16384`);
    }
    const db = new Database(path, { create: true, strict: true });
    try {
      // Deleted values' pages go back to the file system (reclaimFreePages); the mode only takes
      // on a database without tables, so a data.db created before keeps its own.
      db.run("PRAGMA auto_vacuum = INCREMENTAL");
      // A WAL grown by one large transaction is cut back to this at the next checkpoint.
      db.run(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
      if (options.exclusive) db.run("PRAGMA locking_mode = EXCLUSIVE");
      db.run("PRAGMA journal_mode = WAL");
      db.run("PRAGMA synchronous = NORMAL");
      db.run("PRAGMA cache_size = -32768");
      db.transaction(() => {
        const fill = countsMissing(db);
        for (const statement of schema(collections)) db.run(statement);
        addStringFormColumn(db);
        if (fill) fillCounts(db);
        db.run("INSERT OR IGNORE INTO settings (name, value) VALUES ('partition_count', ?)", [partitionCount]);
      })();
      const stored = db.query<{ value: number }, []>("SELECT value FROM settings WHERE name = 'partition_count'").get();
      if (stored?.value !== partitionCount) {
        throw new Error(
          `${path} was written with partition_count = ${stored?.value}, but partition_count = ${partitionCount} is configured; ` +
            "partition_count cannot change for existing data",
        );
      }
      return new StateDb(db, partitionCount, databases, collections, options.clustered === true);
    } catch (e) {
      db.close();
      if (e instanceof SQLiteError && e.code?.startsWith("SQLITE_BUSY")) {
        throw new Error(`${path} is in use by another process (or another node in this one)`);
      }
      throw e;
    }
  }

  /** Records that entries up to idx of grp are applied (entries with nothing to apply). */
  markApplied(grp: number, idx: number): void {
    this.putApplied.run(grp, idx);
  }

  appliedIndex(grp: number): number {
    return (this.getApplied.get(grp) as { idx: number } | null)?.idx ?? 0;
  }

  /**
   * Applies ops firstIdx, firstIdx+1, … of group grp in ONE transaction that also records the
   * applied index. An op whose apply throws leaves no writes and gets an ERR reply; the others are
   * unaffected. Apply never throws for a valid op, so the batch first runs without a savepoint per
   * op (two statements per op were a quarter of a write's CPU); only when an op throws is the batch
   * rolled back and replayed with one savepoint per op. Apply is deterministic, so the replay gives
   * every other op the same result.
   */
  applyBatch(grp: number, firstIdx: number, ops: readonly Op[], apply: ApplyFn): Reply[] {
    // Inside a caller's transaction (a multi-raft turn applying many groups) this batch joins it.
    const own = !this.db.inTransaction;
    if (own) this.begin.run();
    try {
      let replies: Reply[];
      this.batchSavepoint.run();
      try {
        replies = this.applyOps(grp, firstIdx, ops, apply, false);
      } catch {
        this.batchRollbackTo.run();
        replies = this.applyOps(grp, firstIdx, ops, apply, true);
      }
      this.batchRelease.run();
      this.putApplied.run(grp, firstIdx + ops.length - 1);
      if (own) this.commit.run();
      return replies;
    } catch (e) {
      if (own && this.db.inTransaction) this.rollback.run();
      throw e;
    }
  }

  private applyOps(grp: number, firstIdx: number, ops: readonly Op[], apply: ApplyFn, isolate: boolean): Reply[] {
    const replies: Reply[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) {
      this.keyspace.versions.begin(grp, firstIdx + i, ops[i].now);
      if (!isolate) {
        replies[i] = apply(ops[i], this.keyspace);
        continue;
      }
      this.savepoint.run();
      try {
        replies[i] = apply(ops[i], this.keyspace);
      } catch (e) {
        this.rollbackTo.run();
        replies[i] = err(
          `ERR apply failed at log index ${firstIdx + i}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      this.release.run();
    }
    return replies;
  }

  /**
   * Starts a transaction that applyBatch calls join until commitTransaction, unless one is open:
   * one kept open across batches whose log entries are already durable writes each page once.
   */
  openTransaction(): void {
    if (!this.db.inTransaction) this.begin.run();
  }

  commitTransaction(): void {
    if (this.db.inTransaction) this.commit.run();
    this.reclaimFreePages();
  }

  /** Drops everything since the last commit (the log replays it on restart). */
  rollbackTransaction(): void {
    if (this.db.inTransaction) this.rollback.run();
  }

  /** Runs fn in one transaction; applyBatch calls inside it share it (one commit per turn). */
  inTransaction<T>(fn: () => T): T {
    const result = this.db.transaction(fn)();
    this.reclaimFreePages();
    return result;
  }

  /**
   * After a commit, at most once a second: returns up to VACUUM_PAGES free pages (deleted values)
   * to the file system, so a large DEL shrinks data.db in bounded steps instead of one long stall.
   */
  private reclaimFreePages(): void {
    const now = Date.now();
    if (now < this.nextVacuumAt || this.db.inTransaction) return;
    this.nextVacuumAt = now + VACUUM_EVERY_MS;
    const free = this.db.query<{ freelist_count: number }, []>("PRAGMA freelist_count").get()?.freelist_count ?? 0;
    if (free === 0) return;
    this.db.run(`PRAGMA incremental_vacuum(${VACUUM_PAGES})`);
    // The file shrinks when the truncation reaches it: checkpoint now rather than whenever the
    // log's compaction next does (a checkpoint only makes more of data.db durable).
    this.db.run("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /**
   * Copies the WAL into the database file and fsyncs it. True when every committed transaction
   * is now durable, so the applied indexes read before the call are safe compaction points.
   */
  checkpoint(): boolean {
    const result = this.db
      .query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)")
      .get();
    return result !== null && result.busy === 0 && result.log === result.checkpointed;
  }

  /** The connection's PRAGMA synchronous (for /metrics). */
  synchronous(): SynchronousMode {
    return synchronousOf(this.db);
  }

  close(): void {
    this.keyspace.finalize();
    for (const s of [
      this.getApplied,
      this.putApplied,
      this.begin,
      this.commit,
      this.rollback,
      this.savepoint,
      this.release,
      this.rollbackTo,
      this.batchSavepoint,
      this.batchRelease,
      this.batchRollbackTo,
    ]) {
      s.finalize();
    }
    this.db.close();
  }
}

type Row = { type: KeyType; value: Uint8Array | null; expire_at: number | null; enc: number | null };

/** The keys table's enc column: NULL for "encoded", the common case, so most rows carry nothing. */
const FORM_CODES: Record<StringForm, number | null> = { encoded: null, plain: 1, raw: 2 };
const FORMS: readonly StringForm[] = ["encoded", "plain", "raw"];

/** data.db files written before the enc column existed get it (NULL: "encoded"). */
function addStringFormColumn(db: Database): void {
  const columns = db.query<{ name: string }, []>("PRAGMA table_info(keys)").all();
  if (!columns.some((c) => c.name === "enc")) db.run("ALTER TABLE keys ADD COLUMN enc INTEGER");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What every database's view of data.db shares. */
interface SharedStore {
  readonly sql: Database;
  readonly partitionCount: number;
  readonly databases: number;
  readonly collections: readonly CollectionTable[];
  readonly versions: Versions;
  /** A cluster member's store: keys of different partitions may live on different nodes. */
  readonly clustered: boolean;
}

/**
 * The Keyspace of one database over data.db; a key's partition comes from its slot. Database 0's
 * view (StateDb.keyspace) opens the others on first use and closes them with itself.
 */
export class SqliteKeyspace implements Keyspace {
  private readonly statements: Statement[] = [];
  private readonly selectMeta: Statement;
  private readonly selectAnyMeta: Statement;
  private readonly selectValue: Statement;
  private readonly selectValueRange: Statement;
  private readonly selectRow: Statement;
  private readonly selectForm: Statement;
  private readonly updateForm: Statement;
  private readonly upsertString: Statement;
  private readonly overwriteString: Statement;
  private readonly keepTtlString: Statement;
  private readonly deleteReturning: Statement;
  private readonly deleteExpired: Statement;
  private readonly updateExpiry: Statement;
  private readonly moveKey: Statement;
  private readonly insertCopy: Statement;
  private readonly countLive: Statement;
  private readonly countExpiring: Statement;
  private readonly scanFrom: Statement;
  private readonly idRange: Statement;
  private readonly firstLiveFrom: Statement;
  private readonly expiredAnywhere: Statement;
  private readonly copyRows: ReadonlyMap<KeyType, Statement[]>;
  private readonly flushDb: Statement[];
  private readonly flushEverything: Statement[];
  private readonly moveShard: Statement;
  private readonly partStats: Statement;
  private readonly partFrom: Statement;
  private readonly partAfter: Statement;
  private readonly partNth: Statement;
  private readonly flushPart: Statement[];
  /** WATCH versions: which op last wrote each key (shared by all databases). */
  readonly versions: Versions;
  private readonly rows: CollectionRows;
  readonly streams: StreamRows;
  private readonly partitionCount: number;
  /** This database's shards: [lo, hi). */
  private readonly lo: number;
  private readonly hi: number;

  constructor(
    private readonly shared: SharedStore,
    /** The database index (SELECT). */
    readonly index: number,
    private readonly siblings = new Map<number, SqliteKeyspace>(),
  ) {
    const { sql: db, collections } = shared;
    siblings.set(index, this);
    this.versions = shared.versions;
    this.partitionCount = shared.partitionCount;
    [this.lo, this.hi] = dbRange(index);
    this.rows = new CollectionRows(db, (key) => this.partOf(key), this.versions, index);
    this.streams = new StreamRows(db, (key) => this.partOf(key), this.versions, index);
    const prepare = (sql: string): Statement => {
      const s = db.prepare(sql);
      this.statements.push(s);
      return s;
    };
    this.selectMeta = prepare(`SELECT type, expire_at FROM keys WHERE part = ? AND key = ? AND ${LIVE}`);
    // meta() and getString() judge expiry themselves, so a read can note the expired rows it meets.
    this.selectAnyMeta = prepare("SELECT type, expire_at FROM keys WHERE part = ? AND key = ?");
    this.selectValue = prepare("SELECT type, value, expire_at FROM keys WHERE part = ? AND key = ?");
    // As a BLOB so substr and length count bytes whatever type the value was bound with.
    this.selectValueRange = prepare(
      `SELECT type, CASE WHEN type = 'string' THEN substr(CAST(value AS BLOB), ?, ?) END AS bytes,
         length(CAST(value AS BLOB)) AS length FROM keys WHERE part = ? AND key = ? AND ${LIVE}`,
    );
    this.selectRow = prepare(`SELECT type, value, expire_at, enc FROM keys WHERE part = ? AND key = ? AND ${LIVE}`);
    this.updateForm = prepare("UPDATE keys SET enc = ? WHERE part = ? AND key = ? AND type = 'string'");
    this.selectForm = prepare(`SELECT enc FROM keys WHERE part = ? AND key = ? AND type = 'string' AND ${LIVE}`);
    // A string over a string (almost every SET) leaves type alone, so none of the collection
    // tables' "UPDATE OF type" triggers run; a string over another type takes upsertString.
    // The row is a string (or an expired row of any type the fallback replaces): keep a live expiry.
    this.keepTtlString = prepare(
      `INSERT INTO keys (part, key, type, value, expire_at, enc) VALUES (?1, ?2, 'string', ?3, NULL, ?5)
       ON CONFLICT (part, key) DO UPDATE SET value = excluded.value, enc = excluded.enc,
         expire_at = CASE WHEN expire_at > ?4 THEN expire_at END
       WHERE type = 'string'`,
    );
    this.overwriteString = prepare(
      `INSERT INTO keys (part, key, type, value, expire_at, enc) VALUES (?, ?, 'string', ?, ?, ?)
       ON CONFLICT (part, key) DO UPDATE SET value = excluded.value, expire_at = excluded.expire_at, enc = excluded.enc
       WHERE type = 'string'`,
    );
    this.upsertString = prepare(
      `INSERT INTO keys (part, key, type, value, expire_at, enc) VALUES (?, ?, 'string', ?, ?, ?)
       ON CONFLICT (part, key) DO UPDATE SET type = 'string', value = excluded.value, expire_at = excluded.expire_at,
         enc = excluded.enc`,
    );
    this.deleteReturning = prepare("DELETE FROM keys WHERE part = ? AND key = ? RETURNING expire_at");
    this.deleteExpired = prepare("DELETE FROM keys WHERE part = ? AND key = ? AND expire_at <= ?");
    this.updateExpiry = prepare("UPDATE keys SET expire_at = ? WHERE part = ? AND key = ?");
    this.moveKey = prepare("UPDATE keys SET part = ?, key = ? WHERE part = ? AND key = ?");
    this.insertCopy = prepare("INSERT INTO keys (part, key, type, value, expire_at, enc) VALUES (?, ?, ?, ?, ?, ?)");
    // ?2, ?3: this database's shard range (DB_STRIDE).
    const IN_DB = "part >= ?2 AND part < ?3";
    // The counts kept by key-counts.ts's triggers, less the expired rows the sweep has not deleted
    // yet: O(shards + expired rows), not O(keys). Left to itself the planner walks (part, key) and
    // looks up every row (13 s at 1M keys), hence INDEXED BY.
    const EXPIRED = `(SELECT count(*) FROM keys INDEXED BY keys_by_expiry WHERE expire_at <= ?1 AND ${IN_DB})`;
    this.countLive = prepare(`SELECT coalesce(sum(n), 0) - ${EXPIRED} AS n FROM shard_keys WHERE ${IN_DB}`);
    this.countExpiring = prepare(`SELECT coalesce(sum(expiring), 0) - ${EXPIRED} AS n FROM shard_keys WHERE ${IN_DB}`);
    this.scanFrom = prepare(
      `SELECT id, key, type, expire_at FROM keys WHERE id > ?1 AND ${IN_DB} ORDER BY id LIMIT ?4`,
    );
    this.idRange = prepare(`SELECT min(id) AS lo, max(id) AS hi FROM keys WHERE part >= ?1 AND part < ?2`);
    this.firstLiveFrom = prepare(
      `SELECT key FROM keys WHERE id >= ?1 AND ${IN_DB} AND (expire_at IS NULL OR expire_at > ?4) ORDER BY id LIMIT 1`,
    );
    this.expiredAnywhere = prepare("SELECT part, key FROM keys WHERE expire_at <= ? ORDER BY expire_at LIMIT ?");
    const copyRows = new Map<KeyType, Statement[]>();
    for (const table of collections) {
      const cols = table.columns.join(", ");
      const sql = `INSERT INTO ${table.name} (part, key${cols ? `, ${cols}` : ""})
                   SELECT ?, ?${cols ? `, ${cols}` : ""} FROM ${table.name} WHERE part = ? AND key = ?`;
      copyRows.set(table.type, [...(copyRows.get(table.type) ?? []), prepare(sql)]);
    }
    this.copyRows = copyRows;
    // Collection rows first: the keys delete then finds nothing left for its triggers to do.
    const tableNames = [...collections.map((t) => t.name), "keys"];
    this.flushDb = tableNames.map((t) => prepare(`DELETE FROM ${t} WHERE part >= ? AND part < ?`));
    this.flushEverything = tableNames.map((t) => prepare(`DELETE FROM ${t}`));
    // Shifts a shard range; the keys table's _on_move triggers carry the collection rows along.
    this.moveShard = prepare("UPDATE keys SET part = part + ?3 WHERE part >= ?1 AND part < ?2");
    // Partition-scoped reads walk the (part, key) index in key order: the same order on every
    // replica, so a SCAN cursor stays valid when the partition's leader changes.
    this.partStats = prepare(
      `SELECT n - e AS keys, expiring - e AS expires FROM shard_keys,
         (SELECT count(*) AS e FROM keys INDEXED BY keys_by_expiry WHERE expire_at <= ?2 AND part = ?1) WHERE part = ?1`,
    );
    this.partFrom = prepare("SELECT key, type, expire_at FROM keys WHERE part = ? AND key >= ? ORDER BY key LIMIT ?");
    this.partAfter = prepare("SELECT key, type, expire_at FROM keys WHERE part = ? AND key > ? ORDER BY key LIMIT ?");
    this.partNth = prepare(`SELECT key FROM keys WHERE part = ? AND ${LIVE} ORDER BY key LIMIT 1 OFFSET ?`);
    this.flushPart = [
      ...collections.map((t) => prepare(`DELETE FROM ${t.name} WHERE part = ?`)),
      prepare("DELETE FROM keys WHERE part = ?"),
    ];
  }

  /** The shard (database and partition, see DB_STRIDE) a key's rows are stored under. */
  partOf(key: Uint8Array): number {
    return this.lo + partitionOf(keySlot(key), this.partitionCount);
  }

  private shard(part: number): number {
    return this.lo + part;
  }

  database(index: number): SqliteKeyspace | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.shared.databases) return undefined;
    return this.siblings.get(index) ?? new SqliteKeyspace(this.shared, index, this.siblings);
  }

  /**
   * SWAPDB: the rows of the two databases trade shard ranges (through a free range below 0, as
   * (part, key) is unique at every step). A watched key of either database then counts as
   * written by this op when it is live afterwards (see version()).
   */
  swapDatabase(other: number, part?: number): void {
    const that = this.database(other);
    if (!that || that === this) return;
    const [from, to] = part === undefined ? [0, DB_STRIDE] : [part, part + 1];
    const parked = -DB_STRIDE;
    this.moveShard.run(this.lo + from, this.lo + to, parked - this.lo);
    this.moveShard.run(that.lo + from, that.lo + to, this.lo - that.lo);
    this.moveShard.run(parked + from, parked + to, that.lo - parked);
    this.versions.swapped(this.index, part);
    this.versions.swapped(other, part);
  }

  functionLibraries(at: Uint8Array | number | undefined): Uint8Array | undefined {
    return readLibraries(this.shared.sql, this.machinePart(at));
  }

  setFunctionLibraries(at: Uint8Array | number | undefined, payload: Uint8Array | undefined): void {
    writeLibraries(this.shared.sql, this.machinePart(at), payload);
  }

  scriptBody(at: Uint8Array, sha: string): Uint8Array | undefined {
    return readScript(this.shared.sql, this.machinePart(at), sha);
  }

  keepScript(at: Uint8Array, sha: string, body: Uint8Array): void {
    keepScript(this.shared.sql, this.machinePart(at), sha, body);
  }

  /** The row of the functions and scripts tables for the state machine that applies `at`'s ops. */
  private machinePart(at: Uint8Array | number | undefined): number {
    if (!this.shared.clustered) return STANDALONE_PART;
    if (typeof at === "number") return at;
    return at ? partitionOf(keySlot(at), this.partitionCount) : STANDALONE_PART;
  }

  colocated(key: Uint8Array, slot: number | undefined): boolean {
    if (!this.shared.clustered) return true;
    const partition = partitionOf(keySlot(key), this.partitionCount);
    return slot !== undefined && partition === partitionOf(slot, this.partitionCount);
  }

  /**
   * While set (a local read runs: ReplicaHost.runLocal), meta() and getString() add here the keys
   * they found expired but not yet deleted, which the reader then proposes to delete: Redis's
   * lazy expiry, counted in INFO's expired_keys where the deletion applies.
   */
  expiredReads: Uint8Array[] | undefined;

  /** Whether a row read without the liveness filter is expired at `now`, noting it for expiredReads. */
  private expired(key: Uint8Array, expireAt: number | null, now: number): boolean {
    if (expireAt === null || expireAt > now) return false;
    this.expiredReads?.push(key);
    return true;
  }

  meta(key: Uint8Array, now: number): KeyMeta | undefined {
    const row = this.selectAnyMeta.get(this.partOf(key), key) as { type: KeyType; expire_at: number | null } | null;
    return row && !this.expired(key, row.expire_at, now) ? { type: row.type, expireAt: row.expire_at } : undefined;
  }

  getString(key: Uint8Array, now: number): Uint8Array | undefined | WrongType {
    const row = this.selectValue.get(this.partOf(key), key) as {
      type: KeyType;
      value: Uint8Array;
      expire_at: number | null;
    } | null;
    if (!row || this.expired(key, row.expire_at, now)) return undefined;
    return row.type === "string" ? row.value : WRONG_TYPE;
  }

  getStringRange(key: Uint8Array, start: number, length: number, now: number): StringSlice | undefined | WrongType {
    const row = this.selectValueRange.get(start + 1, length, this.partOf(key), key, now) as {
      type: KeyType;
      bytes: Uint8Array | null;
      length: number;
    } | null;
    if (!row) return undefined;
    return row.type === "string" ? { bytes: row.bytes ?? new Uint8Array(0), length: row.length } : WRONG_TYPE;
  }

  setString(key: Uint8Array, value: Uint8Array, expireAt: number | null, form: StringForm = "encoded"): void {
    this.versions.touch(key, this.index);
    const part = this.partOf(key);
    const enc = FORM_CODES[form];
    if (this.overwriteString.run(part, key, value, expireAt, enc).changes === 0)
      this.upsertString.run(part, key, value, expireAt, enc);
  }

  updateString(key: Uint8Array, value: Uint8Array, now: number, form: StringForm = "encoded"): void {
    this.versions.touch(key, this.index);
    const part = this.partOf(key);
    const enc = FORM_CODES[form];
    if (this.keepTtlString.run(part, key, value, now, enc).changes === 0)
      this.upsertString.run(part, key, value, null, enc);
  }

  setStringForm(key: Uint8Array, form: StringForm): void {
    this.updateForm.run(FORM_CODES[form], this.partOf(key), key);
  }

  stringForm(key: Uint8Array, now: number): StringForm {
    const row = this.selectForm.get(this.partOf(key), key, now) as { enc: number | null } | null;
    return FORMS[row?.enc ?? 0] ?? "encoded";
  }

  delete(key: Uint8Array, now: number): boolean {
    const row = this.deleteReturning.get(this.partOf(key), key) as { expire_at: number | null } | null;
    if (row) this.versions.touch(key, this.index);
    return row !== null && (row.expire_at === null || row.expire_at > now);
  }

  setExpireAt(key: Uint8Array, expireAt: number | null): void {
    this.versions.touch(key, this.index);
    this.updateExpiry.run(expireAt, this.partOf(key), key);
  }

  rename(src: Uint8Array, dst: Uint8Array, now: number, toDb = this.index): void {
    const to = this.database(toDb);
    if (!to || (to === this && sameBytes(src, dst))) return;
    const srcPart = this.partOf(src);
    if (!this.selectMeta.get(srcPart, src, now)) return;
    const dstPart = to.partOf(dst);
    this.versions.touch(src, this.index);
    this.versions.touch(dst, toDb);
    this.deleteReturning.get(dstPart, dst);
    this.moveKey.run(dstPart, dst, srcPart, src);
  }

  copy(src: Uint8Array, dst: Uint8Array, now: number, toDb = this.index): void {
    const to = this.database(toDb);
    if (!to || (to === this && sameBytes(src, dst))) return;
    const srcPart = this.partOf(src);
    const row = this.selectRow.get(srcPart, src, now) as Row | null;
    if (!row) return;
    const dstPart = to.partOf(dst);
    this.versions.touch(dst, toDb);
    this.deleteReturning.get(dstPart, dst);
    this.insertCopy.run(dstPart, dst, row.type, row.value, row.expire_at, row.enc);
    for (const copy of this.copyRows.get(row.type) ?? []) copy.run(dstPart, dst, srcPart, src);
  }

  count(now: number): number {
    return (this.countLive.get(now, this.lo, this.hi) as { n: number }).n;
  }

  /** Live keys of every database (metrics, status). */
  countEverywhere(now: number): number {
    let n = 0;
    for (let i = 0, ks = this.database(0); ks; ks = this.database(++i)) n += ks.count(now);
    return n;
  }

  /** Live keys with an expiry (INFO keyspace `expires`), through the expiry index. */
  countWithExpiry(now: number): number {
    return (this.countExpiring.get(now, this.lo, this.hi) as { n: number }).n;
  }

  scan(cursor: number, count: number, now: number, type?: KeyType): { cursor: number; keys: Uint8Array[] } {
    const limit = Math.max(1, Math.floor(count));
    type ScanRow = [number, Uint8Array, KeyType, number | null];
    const rows = this.scanFrom.values(cursor, this.lo, this.hi, limit) as ScanRow[];
    const keys: Uint8Array[] = [];
    for (const [, key, keyType, expireAt] of rows) {
      if ((expireAt === null || expireAt > now) && (type === undefined || keyType === type)) keys.push(key);
    }
    // COUNT bounds the rows visited (Redis: work per call), not the keys returned.
    return { cursor: rows.length < limit ? 0 : rows[rows.length - 1][0], keys };
  }

  randomKey(now: number, r: number): Uint8Array | undefined {
    const { lo, hi } = this.idRange.get(this.lo, this.hi) as { lo: number | null; hi: number | null };
    if (lo === null || hi === null) return undefined;
    const target = lo + Math.floor(r * (hi - lo + 1));
    const from = (id: number) => this.firstLiveFrom.get(id, this.lo, this.hi, now);
    const row = (from(target) ?? from(lo)) as { key: Uint8Array } | null;
    return row?.key;
  }

  /**
   * Keys whose expiry is <= now, soonest first (at most limit), of every database, with their
   * database and partition: what the active-expiry sweep proposes `__expire` for.
   */
  expiredEverywhere(now: number, limit: number): { db: number; part: number; key: Uint8Array }[] {
    const rows = this.expiredAnywhere.values(now, limit) as [number, Uint8Array][];
    return rows.map(([shard, key]) => ({ db: Math.floor(shard / DB_STRIDE), part: shard % DB_STRIDE, key }));
  }

  deleteIfExpired(key: Uint8Array, now: number): boolean {
    const deleted = this.deleteExpired.run(this.partOf(key), key, now).changes > 0;
    if (deleted) this.versions.touch(key, this.index);
    return deleted;
  }

  /**
   * Versions are not touched: as in Redis 7.0, FLUSHALL breaks a WATCH only on keys that
   * existed, and EXEC sees those gone (WatchedKey.existed).
   */
  flush(): void {
    for (const statement of this.flushDb) statement.run(this.lo, this.hi);
  }

  flushAll(): void {
    for (const statement of this.flushEverything) statement.run();
  }

  partitionStats(part: number, now: number): { keys: number; expires: number } {
    const stats = this.partStats.get(this.shard(part), now) as { keys: number; expires: number } | null;
    return stats ?? { keys: 0, expires: 0 };
  }

  scanPartition(
    part: number,
    from: Uint8Array,
    count: number,
    now: number,
    groupBytes: number,
    type?: KeyType,
  ): { keys: Uint8Array[]; next: Uint8Array | undefined } {
    const limit = Math.max(1, Math.floor(count));
    type ScanRow = [Uint8Array, KeyType, number | null];
    // Trailing zero bytes of a padded group prefix are padding: every key of that group or a later
    // one sorts at or after the prefix without them.
    let end = from.length;
    while (end > 0 && from[end - 1] === 0) end--;
    const rows = this.partFrom.values(this.shard(part), from.subarray(0, end), limit + 1) as ScanRow[];
    const visited = rows.slice(0, limit);
    let peek: ScanRow | undefined = rows[limit];
    if (peek && visited.length > 0) {
      // Finish the last group, or the next batch would start inside it again.
      const group = groupPrefix(visited[visited.length - 1]![0], groupBytes);
      let ahead: ScanRow[] = [];
      while (peek && sameBytes(groupPrefix(peek[0], groupBytes), group)) {
        visited.push(peek);
        if (ahead.length === 0) ahead = this.partAfter.values(this.shard(part), peek[0], 64) as ScanRow[];
        peek = ahead.shift();
      }
    }
    const keys: Uint8Array[] = [];
    for (const [key, keyType, expireAt] of visited) {
      if ((expireAt === null || expireAt > now) && (type === undefined || keyType === type)) keys.push(key);
    }
    return { keys, next: peek ? groupPrefix(peek[0], groupBytes) : undefined };
  }

  randomKeyInPartition(part: number, now: number, r: number): Uint8Array | undefined {
    const { keys } = this.partitionStats(part, now);
    if (keys === 0) return undefined;
    const nth = Math.min(keys - 1, Math.floor(r * keys));
    const row = this.partNth.get(this.shard(part), now, nth) as { key: Uint8Array } | null;
    return row?.key;
  }

  flushPartition(part: number, allDatabases = false): void {
    if (!allDatabases) {
      for (const statement of this.flushPart) statement.run(this.shard(part));
      return;
    }
    for (let db = 0; db < this.shared.databases; db++) this.database(db)!.flushPartition(part);
  }

  /** A SWAPDB after WATCH counts as a write of every key live in the database now (Redis's touchAllWatchedKeysInDb). */
  version(key: Uint8Array): number {
    const written = this.versions.of(key, this.index);
    const swapped = this.versions.swappedAt(this.index, partitionOf(keySlot(key), this.partitionCount));
    if (swapped <= written) return written;
    return this.selectMeta.get(this.partOf(key), key, this.versions.opNow) ? swapped : written;
  }
  watchPoint(key: Uint8Array): number {
    return this.versions.watchPoint(key);
  }

  collection(key: Uint8Array, now: number): CollectionInfo | undefined {
    return this.rows.collection(key, now);
  }
  markLarge(key: Uint8Array): void {
    this.rows.markLarge(key);
  }
  hashGet(key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    return this.rows.hashGet(key, field);
  }
  hashSet(key: Uint8Array, field: Uint8Array, value: Uint8Array): boolean {
    return this.rows.hashSet(key, field, value);
  }
  hashDelete(key: Uint8Array, field: Uint8Array): boolean {
    return this.rows.hashDelete(key, field);
  }
  hashEntries(key: Uint8Array, offset?: number, limit?: number): [Uint8Array, Uint8Array][] {
    return this.rows.hashEntries(key, offset, limit);
  }

  hashEntriesFrom(key: Uint8Array, from: Uint8Array, limit: number): [Uint8Array, Uint8Array][] {
    return this.rows.hashEntriesFrom(key, from, limit);
  }
  listRange(key: Uint8Array, start: number, stop: number): ListItem[] {
    return this.rows.listRange(key, start, stop);
  }
  listPush(key: Uint8Array, values: readonly Uint8Array[], left: boolean): number {
    return this.rows.listPush(key, values, left);
  }
  listInsert(key: Uint8Array, seq: number, value: Uint8Array, after: boolean): void {
    this.rows.listInsert(key, seq, value, after);
  }
  listReplace(key: Uint8Array, seq: number, value: Uint8Array): void {
    this.rows.listReplace(key, seq, value);
  }
  listDelete(key: Uint8Array, seqs: readonly number[]): void {
    this.rows.listDelete(key, seqs);
  }
  listTrim(key: Uint8Array, start: number, stop: number): void {
    this.rows.listTrim(key, start, stop);
  }
  setHas(key: Uint8Array, member: Uint8Array): boolean {
    return this.rows.setHas(key, member);
  }
  setAdd(key: Uint8Array, members: readonly Uint8Array[]): number {
    return this.rows.setAdd(key, members);
  }
  setRemove(key: Uint8Array, members: readonly Uint8Array[]): number {
    return this.rows.setRemove(key, members);
  }
  setMembers(key: Uint8Array, offset?: number, limit?: number): Uint8Array[] {
    return this.rows.setMembers(key, offset, limit);
  }

  setMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): Uint8Array[] {
    return this.rows.setMembersFrom(key, from, limit);
  }
  zsetScore(key: Uint8Array, member: Uint8Array): number | undefined {
    return this.rows.zsetScore(key, member);
  }
  zsetAdd(key: Uint8Array, member: Uint8Array, score: number): boolean {
    return this.rows.zsetAdd(key, member, score);
  }

  zsetInsertNew(key: Uint8Array, entries: readonly ZEntry[]): void {
    this.rows.zsetInsertNew(key, entries);
  }
  zsetRemove(key: Uint8Array, member: Uint8Array): boolean {
    return this.rows.zsetRemove(key, member);
  }
  zsetRank(key: Uint8Array, member: Uint8Array, rev: boolean): number | undefined {
    return this.rows.zsetRank(key, member, rev);
  }
  zsetRange(key: Uint8Array, range: ZRange, rev: boolean, offset: number, limit: number): ZEntry[] {
    return this.rows.zsetRange(key, range, rev, offset, limit);
  }

  zsetMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): ZEntry[] {
    return this.rows.zsetMembersFrom(key, from, limit);
  }
  zsetCount(key: Uint8Array, range: ScoreRange | LexRange): number {
    return this.rows.zsetCount(key, range);
  }

  /** Closes every database's statements (call on database 0's view). */
  finalize(): void {
    for (const ks of this.siblings.values()) ks.finalizeOwn();
    this.siblings.clear();
  }

  private finalizeOwn(): void {
    this.rows.finalize();
    this.streams.finalize();
    for (const s of this.statements) s.finalize();
  }
}

/** The first n bytes of a key, zero padded: the group a partition scan never splits. */
function groupPrefix(key: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(key.subarray(0, n));
  return out;
}
