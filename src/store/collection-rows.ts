// Row-per-element storage of hashes, lists, sets and sorted sets in data.db (docs/design/storage.md), and the
// per-key write versions WATCH compares. SqliteKeyspace delegates its collection methods here.
//
// A collection's `keys` row holds type 'hash'/'list'/'set'/'zset' and, in `value`, an integer:
// element count × 4, + LARGE once the collection has outgrown Redis's compact encoding, + CHUNKED
// once a sorted set keeps rank chunks. HLEN, ZCARD, … are then one indexed lookup, and OBJECT
// ENCODING stays sticky as in Redis.
//
// Ranks in big sorted sets (ZRANK, ZRANGE by rank in the middle): SQLite has no order statistics,
// and COUNT over the (score, member) index costs one step per member counted (~70 ms for a rank
// of 500,000). So a sorted set past CHUNK_BUILD members is cut into chunks of consecutive members,
// each a zset_chunks row with its lower bound (score, member) and member count, kept up to date
// on every insert and delete (split past CHUNK_MAX). A rank is then the sum of the counts of the
// chunks before the member's chunk (one row per ~CHUNK_TARGET members) plus a COUNT inside that
// chunk (at most CHUNK_MAX): O(n / CHUNK_TARGET + CHUNK_MAX) instead of O(rank).
import { StatementCache } from "./statement-cache.ts";
import type { Database, Statement } from "bun:sqlite";
import type { CollectionInfo, KeyType, LexBound, ListItem, ScoreBound, ZEntry, ZRange } from "../commands/types.ts";
import { byteKey } from "../commands/util.ts";

/** Gap between the sequence numbers of pushed list items; LINSERT takes the midpoint. */
const LIST_STEP = 1 << 16;
/** Flags in the keys row's value, below the element count (× 4). */
const LARGE = 1;
const CHUNKED = 2;
const COUNT_UNIT = 4;
/** Sorted sets bigger than this get rank chunks; smaller ones count their index directly. */
const CHUNK_BUILD = 4096;
const CHUNK_TARGET = 1024;
const CHUNK_MAX = 2 * CHUNK_TARGET;
/** Versions of more keys than this are forgotten at once (see Versions). */
const MAX_TRACKED_VERSIONS = 1_000_000;

/**
 * Per-key write versions for WATCH. WATCH records the watch point: the newest log index applied
 * by the key's log group. EXEC's op is broken (transactions.ts) when the key's version, the index
 * of the op that last wrote it, is above that point. Every replica applies the same ops, so one
 * that saw the last write agrees with the leader exactly. Only keys written since this process
 * opened the database (or since the map was last emptied) are remembered; any other key reports
 * its partition's floor, an index at least as new as its real last write, which is still at or
 * below any watch point taken after the replica opened. So the answer differs from the leader's
 * only on a replica that (re)opened between a client's WATCH and its EXEC, and then only towards
 * aborting; a write after WATCH is never missed.
 */
export class Versions {
  private readonly byKey = new Map<string, number>();
  /** Per partition: raised past every index forgotten when the map is emptied. */
  private readonly floors = new Map<number, number>();
  /** Per partition: the newest index touched, for raising its floor when the map is emptied. */
  private readonly newest = new Map<number, number>();
  /**
   * The index of the last SWAPDB that involved a database: per database ("db") for a whole swap,
   * per database and partition ("db:part") for one partition's swap, which in a cluster is an
   * index of that partition's log group only, comparable with its keys' watch points alone.
   */
  private readonly swaps = new Map<string, number>();
  /** The newest index each log group has applied: the watch points. */
  private readonly applied = new Map<number, number>();
  private groupsOf: (part: number) => readonly number[] = () => [];
  /** The log index of the op being applied; the store sets it before each op (begin). */
  opIndex = 0;
  /** That op's clock: writers use it to tell an expired row from a live one. */
  opNow = 0;

  constructor(private readonly partOf: (key: Uint8Array) => number) {}

  private openFloor: (part: number) => number = () => 0;

  /**
   * After opening data.db: `applied` holds each group's applied index, `groupsOf(part)` the groups
   * whose ops write the partition's keys.
   */
  reset(applied: ReadonlyMap<number, number>, groupsOf: (part: number) => readonly number[]): void {
    this.byKey.clear();
    this.floors.clear();
    this.newest.clear();
    this.swaps.clear();
    this.applied.clear();
    for (const [grp, idx] of applied) this.applied.set(grp, idx);
    this.groupsOf = groupsOf;
    this.openFloor = (part) => this.watchPointOf(part, applied);
  }

  /** Before each op is applied. */
  begin(grp: number, index: number, now: number): void {
    this.applied.set(grp, index);
    this.opIndex = index;
    this.opNow = now;
  }

  watchPoint(key: Uint8Array): number {
    return this.watchPointOf(this.partOf(key), this.applied);
  }

  private watchPointOf(part: number, applied: ReadonlyMap<number, number>): number {
    let point = 0;
    for (const grp of this.groupsOf(part)) point = Math.max(point, applied.get(grp) ?? 0);
    return point;
  }

  /** A write of `key` in database `db` (a key's identity is both: see DB_STRIDE in state.ts). */
  touch(key: Uint8Array, db: number): void {
    if (this.byKey.size >= MAX_TRACKED_VERSIONS) {
      for (const [part, index] of this.newest) this.floors.set(part, Math.max(this.floorOf(part), index));
      this.byKey.clear();
    }
    this.byKey.set(`${db}:${byteKey(key)}`, this.opIndex);
    const part = this.partOf(key);
    if ((this.newest.get(part) ?? -Infinity) < this.opIndex) this.newest.set(part, this.opIndex);
  }

  /** The floor still applies to a remembered key: a snapshot install can raise it past the entry. */
  of(key: Uint8Array, db: number): number {
    return Math.max(this.byKey.get(`${db}:${byteKey(key)}`) ?? 0, this.floorOf(this.partOf(key)));
  }

  /**
   * SWAPDB moved database `db`'s rows (of partition `part` only, when given) in the op being
   * applied. Only remembered since this process opened data.db: a replica that reopens between
   * WATCH and EXEC sees the keys' floors instead.
   */
  swapped(db: number, part: number | undefined): void {
    this.swaps.set(part === undefined ? `${db}` : `${db}:${part}`, this.opIndex);
  }

  swappedAt(db: number, part: number): number {
    return Math.max(this.swaps.get(`${db}`) ?? 0, this.swaps.get(`${db}:${part}`) ?? 0);
  }

  /**
   * A snapshot replaced partition `part` with group `grp`'s state at `index`: any of its keys may
   * have been written up to there without this replica applying the op.
   */
  installed(part: number, grp: number, index: number): void {
    this.floors.set(part, Math.max(this.floorOf(part), index));
    this.applied.set(grp, index);
  }

  private floorOf(part: number): number {
    return this.floors.get(part) ?? this.openFloor(part);
  }
}

type Sql = string;

export class CollectionRows {
  private statementCache: StatementCache<Sql> | undefined;

  constructor(
    private readonly db: Database,
    private readonly partOf: (key: Uint8Array) => number,
    private readonly versions: Versions,
    /** The database these rows belong to, for the WATCH versions. */
    private readonly dbIndex: number,
  ) {}

  private q(sql: Sql): Statement {
    this.statementCache ??= new StatementCache(this.db);
    return this.statementCache.get(sql);
  }

  finalize(): void {
    this.statementCache?.finalize();
  }

  // --- the keys row: count and encoding -------------------------------------------------------

  collection(key: Uint8Array, now: number): CollectionInfo | undefined {
    const row = this.q(
      "SELECT value FROM keys WHERE part = ? AND key = ? AND (expire_at IS NULL OR expire_at > ?)",
    ).get(this.partOf(key), key, now) as { value: number } | null;
    if (!row || typeof row.value !== "number") return undefined;
    return { size: Math.floor(row.value / COUNT_UNIT), compact: (row.value & LARGE) === 0 };
  }

  markLarge(key: Uint8Array): void {
    this.q(`UPDATE keys SET value = value | ${LARGE} WHERE part = ? AND key = ?`).run(this.partOf(key), key);
  }

  /**
   * Makes sure a live keys row of `type` exists for a write. An expired row still in the table
   * (its deletion has not come through the log yet) is replaced, with its rows.
   */
  private ensure(part: number, key: Uint8Array, type: KeyType): void {
    const row = this.q("SELECT type, expire_at FROM keys WHERE part = ? AND key = ?").get(part, key) as {
      type: KeyType;
      expire_at: number | null;
    } | null;
    if (row && row.type === type && (row.expire_at === null || row.expire_at > this.versions.opNow)) return;
    if (row) this.q("DELETE FROM keys WHERE part = ? AND key = ?").run(part, key);
    this.q("INSERT INTO keys (part, key, type, value, expire_at) VALUES (?, ?, ?, 0, NULL)").run(part, key, type);
  }

  /** Adjusts the element count by delta; the key goes when none are left. Returns the new value (0: gone). */
  private resize(part: number, key: Uint8Array, delta: number): number {
    if (delta === 0) return this.valueOf(part, key);
    this.versions.touch(key, this.dbIndex);
    const row = this.q("UPDATE keys SET value = value + ? WHERE part = ? AND key = ? RETURNING value").get(
      COUNT_UNIT * delta,
      part,
      key,
    ) as { value: number } | null;
    if (row && row.value < COUNT_UNIT) {
      this.q("DELETE FROM keys WHERE part = ? AND key = ?").run(part, key);
      return 0;
    }
    return row?.value ?? 0;
  }

  private valueOf(part: number, key: Uint8Array): number {
    const row = this.q("SELECT value FROM keys WHERE part = ? AND key = ?").get(part, key) as { value: number } | null;
    return row && typeof row.value === "number" ? row.value : 0;
  }

  // --- hashes -----------------------------------------------------------------------------------

  hashGet(key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    const row = this.q("SELECT value FROM hash_fields WHERE part = ? AND key = ? AND field = ?").get(
      this.partOf(key),
      key,
      field,
    ) as { value: Uint8Array } | null;
    return row?.value;
  }

  hashSet(key: Uint8Array, field: Uint8Array, value: Uint8Array): boolean {
    const part = this.partOf(key);
    this.ensure(part, key, "hash");
    this.versions.touch(key, this.dbIndex);
    if (
      this.q("INSERT OR IGNORE INTO hash_fields (part, key, field, value) VALUES (?, ?, ?, ?)").run(
        part,
        key,
        field,
        value,
      ).changes > 0
    ) {
      this.resize(part, key, 1);
      return true;
    }
    this.q("UPDATE hash_fields SET value = ? WHERE part = ? AND key = ? AND field = ?").run(value, part, key, field);
    return false;
  }

  hashDelete(key: Uint8Array, field: Uint8Array): boolean {
    const part = this.partOf(key);
    if (this.q("DELETE FROM hash_fields WHERE part = ? AND key = ? AND field = ?").run(part, key, field).changes === 0)
      return false;
    this.resize(part, key, -1);
    return true;
  }

  hashEntries(key: Uint8Array, offset = 0, limit = -1): [Uint8Array, Uint8Array][] {
    return this.q(
      "SELECT field, value FROM hash_fields WHERE part = ? AND key = ? ORDER BY field LIMIT ? OFFSET ?",
    ).values(this.partOf(key), key, limit, offset) as [Uint8Array, Uint8Array][];
  }

  hashEntriesFrom(key: Uint8Array, from: Uint8Array, limit: number): [Uint8Array, Uint8Array][] {
    const sql = "SELECT field, value FROM hash_fields WHERE part = ? AND key = ? AND field >= ? ORDER BY field LIMIT ?";
    return this.q(sql).values(this.partOf(key), key, from, limit) as [Uint8Array, Uint8Array][];
  }

  // --- lists ------------------------------------------------------------------------------------

  listRange(key: Uint8Array, start: number, stop: number): ListItem[] {
    const part = this.partOf(key);
    const size = this.sizeOf(part, key);
    const n = stop - start + 1;
    if (n <= 0) return [];
    // Walk from the nearer end: OFFSET costs the rows it skips.
    if (start > size - 1 - stop) {
      const rows = this.q(
        "SELECT seq, value FROM list_items WHERE part = ? AND key = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
      ).values(part, key, n, size - 1 - stop) as [number, Uint8Array][];
      return rows.reverse().map(([seq, value]) => ({ seq, value }));
    }
    const rows = this.q(
      "SELECT seq, value FROM list_items WHERE part = ? AND key = ? ORDER BY seq LIMIT ? OFFSET ?",
    ).values(part, key, n, start) as [number, Uint8Array][];
    return rows.map(([seq, value]) => ({ seq, value }));
  }

  private sizeOf(part: number, key: Uint8Array): number {
    return Math.floor(this.valueOf(part, key) / COUNT_UNIT);
  }

  listPush(key: Uint8Array, values: readonly Uint8Array[], left: boolean): number {
    const part = this.partOf(key);
    this.ensure(part, key, "list");
    const end = this.q(`SELECT ${left ? "min" : "max"}(seq) AS s FROM list_items WHERE part = ? AND key = ?`).get(
      part,
      key,
    ) as {
      s: number | null;
    };
    let seq = end.s ?? (left ? LIST_STEP : -LIST_STEP);
    const insert = this.q("INSERT INTO list_items (part, key, seq, value) VALUES (?, ?, ?, ?)");
    for (const v of values) {
      seq += left ? -LIST_STEP : LIST_STEP;
      insert.run(part, key, seq, v);
    }
    this.resize(part, key, values.length);
    return this.sizeOf(part, key);
  }

  listInsert(key: Uint8Array, seq: number, value: Uint8Array, after: boolean): void {
    const part = this.partOf(key);
    const neighbour = this.q(
      after
        ? "SELECT min(seq) AS s FROM list_items WHERE part = ? AND key = ? AND seq > ?"
        : "SELECT max(seq) AS s FROM list_items WHERE part = ? AND key = ? AND seq < ?",
    ).get(part, key, seq) as { s: number | null };
    let at: number;
    if (neighbour.s === null) at = after ? seq + LIST_STEP : seq - LIST_STEP;
    else {
      at = Math.floor((seq + neighbour.s) / 2);
      if (at === seq || at === neighbour.s) {
        // No gap left between the two: space the whole list out again, then retry.
        const index = this.renumber(part, key, seq);
        this.listInsert(key, index, value, after);
        return;
      }
    }
    this.q("INSERT INTO list_items (part, key, seq, value) VALUES (?, ?, ?, ?)").run(part, key, at, value);
    this.resize(part, key, 1);
  }

  /** Rewrites the list's sequence numbers LIST_STEP apart; returns the new number of `seq`. */
  private renumber(part: number, key: Uint8Array, seq: number): number {
    const rows = this.q("SELECT seq, value FROM list_items WHERE part = ? AND key = ? ORDER BY seq").values(
      part,
      key,
    ) as [number, Uint8Array][];
    this.q("DELETE FROM list_items WHERE part = ? AND key = ?").run(part, key);
    const insert = this.q("INSERT INTO list_items (part, key, seq, value) VALUES (?, ?, ?, ?)");
    let found = 0;
    rows.forEach(([s, v], i) => {
      insert.run(part, key, i * LIST_STEP, v);
      if (s === seq) found = i * LIST_STEP;
    });
    return found;
  }

  listReplace(key: Uint8Array, seq: number, value: Uint8Array): void {
    this.versions.touch(key, this.dbIndex);
    this.q("UPDATE list_items SET value = ? WHERE part = ? AND key = ? AND seq = ?").run(
      value,
      this.partOf(key),
      key,
      seq,
    );
  }

  listDelete(key: Uint8Array, seqs: readonly number[]): void {
    const part = this.partOf(key);
    const del = this.q("DELETE FROM list_items WHERE part = ? AND key = ? AND seq = ?");
    let n = 0;
    for (const seq of seqs) n += del.run(part, key, seq).changes;
    this.resize(part, key, -n);
  }

  listTrim(key: Uint8Array, start: number, stop: number): void {
    const part = this.partOf(key);
    const [first] = this.listRange(key, start, start);
    const [last] = this.listRange(key, stop, stop);
    if (!first || !last) return;
    const n = this.q("DELETE FROM list_items WHERE part = ? AND key = ? AND (seq < ? OR seq > ?)").run(
      part,
      key,
      first.seq,
      last.seq,
    ).changes;
    this.resize(part, key, -n);
  }

  // --- sets -------------------------------------------------------------------------------------

  setHas(key: Uint8Array, member: Uint8Array): boolean {
    return (
      this.q("SELECT 1 FROM set_members WHERE part = ? AND key = ? AND member = ?").get(
        this.partOf(key),
        key,
        member,
      ) !== null
    );
  }

  setAdd(key: Uint8Array, members: readonly Uint8Array[]): number {
    const part = this.partOf(key);
    this.ensure(part, key, "set");
    const insert = this.q("INSERT OR IGNORE INTO set_members (part, key, member) VALUES (?, ?, ?)");
    let n = 0;
    for (const m of members) n += insert.run(part, key, m).changes;
    this.resize(part, key, n);
    return n;
  }

  setRemove(key: Uint8Array, members: readonly Uint8Array[]): number {
    const part = this.partOf(key);
    const del = this.q("DELETE FROM set_members WHERE part = ? AND key = ? AND member = ?");
    let n = 0;
    for (const m of members) n += del.run(part, key, m).changes;
    this.resize(part, key, -n);
    return n;
  }

  setMembers(key: Uint8Array, offset = 0, limit = -1): Uint8Array[] {
    const rows = this.q(
      "SELECT member FROM set_members WHERE part = ? AND key = ? ORDER BY member LIMIT ? OFFSET ?",
    ).values(this.partOf(key), key, limit, offset) as [Uint8Array][];
    return rows.map(([m]) => m);
  }

  setMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): Uint8Array[] {
    const sql = "SELECT member FROM set_members WHERE part = ? AND key = ? AND member >= ? ORDER BY member LIMIT ?";
    const rows = this.q(sql).values(this.partOf(key), key, from, limit) as [Uint8Array][];
    return rows.map(([m]) => m);
  }

  // --- sorted sets --------------------------------------------------------------------------------

  zsetMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): ZEntry[] {
    const sql =
      "SELECT member, score FROM zset_members WHERE part = ? AND key = ? AND member >= ?" + " ORDER BY member LIMIT ?";
    const rows = this.q(sql).values(this.partOf(key), key, from, limit) as [Uint8Array, number][];
    return rows.map(([member, score]) => ({ member, score }));
  }

  zsetScore(key: Uint8Array, member: Uint8Array): number | undefined {
    const row = this.q("SELECT score FROM zset_members WHERE part = ? AND key = ? AND member = ?").get(
      this.partOf(key),
      key,
      member,
    ) as { score: number } | null;
    return row?.score;
  }

  zsetAdd(key: Uint8Array, member: Uint8Array, score: number): boolean {
    const part = this.partOf(key);
    this.ensure(part, key, "zset");
    this.versions.touch(key, this.dbIndex);
    // Redis prints a zero score as "0" whatever its sign.
    const s = score === 0 ? 0 : score;
    const old = this.zsetScore(key, member);
    if (old === undefined) {
      this.q("INSERT INTO zset_members (part, key, member, score) VALUES (?, ?, ?, ?)").run(part, key, member, s);
      const value = this.resize(part, key, 1);
      if (value & CHUNKED) this.chunkCount(part, key, s, member, 1);
      else if (value / COUNT_UNIT > CHUNK_BUILD) this.buildChunks(part, key);
      return true;
    }
    if (old !== s) {
      this.q("UPDATE zset_members SET score = ? WHERE part = ? AND key = ? AND member = ?").run(s, part, key, member);
      if (this.valueOf(part, key) & CHUNKED) {
        this.chunkCount(part, key, old, member, -1);
        this.chunkCount(part, key, s, member, 1);
      }
    }
    return false;
  }

  zsetInsertNew(key: Uint8Array, entries: readonly ZEntry[]): void {
    if (entries.length === 0) return;
    const part = this.partOf(key);
    this.ensure(part, key, "zset");
    const insert = this.q("INSERT INTO zset_members (part, key, member, score) VALUES (?, ?, ?, ?)");
    for (const e of entries) insert.run(part, key, e.member, e.score === 0 ? 0 : e.score);
    const value = this.resize(part, key, entries.length);
    if (value & CHUNKED) for (const e of entries) this.chunkCount(part, key, e.score === 0 ? 0 : e.score, e.member, 1);
    else if (value / COUNT_UNIT > CHUNK_BUILD) this.buildChunks(part, key);
  }

  zsetRemove(key: Uint8Array, member: Uint8Array): boolean {
    const part = this.partOf(key);
    const row = this.q("DELETE FROM zset_members WHERE part = ? AND key = ? AND member = ? RETURNING score").get(
      part,
      key,
      member,
    ) as { score: number } | null;
    if (!row) return false;
    if (this.resize(part, key, -1) & CHUNKED) this.chunkCount(part, key, row.score, member, -1);
    return true;
  }

  /** The chunk holding (score, member): the last one whose lower bound is not above it. */
  private chunkOf(
    part: number,
    key: Uint8Array,
    score: number,
    member: Uint8Array,
  ): { lo_score: number; lo_member: Uint8Array; n: number } {
    return this.q(
      `SELECT lo_score, lo_member, n FROM zset_chunks WHERE part = ?1 AND key = ?2 AND (lo_score, lo_member) <= (?3, ?4)
       ORDER BY lo_score DESC, lo_member DESC LIMIT 1`,
    ).get(part, key, score, member) as { lo_score: number; lo_member: Uint8Array; n: number };
  }

  /** A member joined (+1) or left (-1) its chunk: count it, split a full chunk, drop an empty one. */
  private chunkCount(part: number, key: Uint8Array, score: number, member: Uint8Array, delta: 1 | -1): void {
    const c = this.chunkOf(part, key, score, member);
    const n = c.n + delta;
    const first = c.lo_score === -Infinity && c.lo_member.length === 0;
    if (n === 0 && !first) {
      this.q("DELETE FROM zset_chunks WHERE part = ? AND key = ? AND lo_score = ? AND lo_member = ?").run(
        part,
        key,
        c.lo_score,
        c.lo_member,
      );
      return;
    }
    const setCount = this.q(
      "UPDATE zset_chunks SET n = ? WHERE part = ? AND key = ? AND lo_score = ? AND lo_member = ?",
    );
    if (n <= CHUNK_MAX) {
      setCount.run(n, part, key, c.lo_score, c.lo_member);
      return;
    }
    const half = Math.floor(n / 2);
    const mid = this.q(
      `SELECT score, member FROM zset_members WHERE part = ?1 AND key = ?2 AND (score, member) >= (?3, ?4)
       ORDER BY score, member LIMIT 1 OFFSET ?5`,
    ).get(part, key, c.lo_score, c.lo_member, half) as { score: number; member: Uint8Array };
    setCount.run(half, part, key, c.lo_score, c.lo_member);
    this.q("INSERT INTO zset_chunks (part, key, lo_score, lo_member, n) VALUES (?, ?, ?, ?, ?)").run(
      part,
      key,
      mid.score,
      mid.member,
      n - half,
    );
  }

  /** Cuts a sorted set that has just grown past CHUNK_BUILD into chunks of CHUNK_TARGET members. */
  private buildChunks(part: number, key: Uint8Array): void {
    const rows = this.q(
      "SELECT score, member FROM zset_members WHERE part = ? AND key = ? ORDER BY score, member",
    ).values(part, key) as [number, Uint8Array][];
    const insert = this.q("INSERT INTO zset_chunks (part, key, lo_score, lo_member, n) VALUES (?, ?, ?, ?, ?)");
    for (let i = 0; i < rows.length; i += CHUNK_TARGET) {
      const [score, member] = i === 0 ? [-Infinity, new Uint8Array(0)] : rows[i]!;
      insert.run(part, key, score, member, Math.min(CHUNK_TARGET, rows.length - i));
    }
    this.q(`UPDATE keys SET value = value | ${CHUNKED} WHERE part = ? AND key = ?`).run(part, key);
  }

  /** Members before (score, member) in (score, member) order. */
  private rankOf(part: number, key: Uint8Array, score: number, member: Uint8Array): number {
    if (!(this.valueOf(part, key) & CHUNKED)) {
      return (
        this.q(
          "SELECT count(*) AS n FROM zset_members WHERE part = ?1 AND key = ?2 AND (score, member) < (?3, ?4)",
        ).get(part, key, score, member) as { n: number }
      ).n;
    }
    const c = this.chunkOf(part, key, score, member);
    const before = this.q(
      "SELECT coalesce(sum(n), 0) AS n FROM zset_chunks WHERE part = ?1 AND key = ?2 AND (lo_score, lo_member) < (?3, ?4)",
    ).get(part, key, c.lo_score, c.lo_member) as { n: number };
    const within = this.q(
      `SELECT count(*) AS n FROM zset_members WHERE part = ?1 AND key = ?2
       AND (score, member) >= (?3, ?4) AND (score, member) < (?5, ?6)`,
    ).get(part, key, c.lo_score, c.lo_member, score, member) as { n: number };
    return before.n + within.n;
  }

  zsetRank(key: Uint8Array, member: Uint8Array, rev: boolean): number | undefined {
    const part = this.partOf(key);
    const score = this.zsetScore(key, member);
    if (score === undefined) return undefined;
    const rank = this.rankOf(part, key, score, member);
    return rev ? this.sizeOf(part, key) - 1 - rank : rank;
  }

  /** Members at ranks start..stop in ascending order, reading from the cheapest place. */
  private rankRange(part: number, key: Uint8Array, start: number, stop: number): [Uint8Array, number][] {
    const size = this.sizeOf(part, key);
    const n = stop - start + 1;
    const fromEnd = size - 1 - stop;
    if (fromEnd < start && fromEnd <= CHUNK_MAX) {
      const rows = this.q(
        "SELECT member, score FROM zset_members WHERE part = ? AND key = ? ORDER BY score DESC, member DESC LIMIT ? OFFSET ?",
      ).values(part, key, n, fromEnd) as [Uint8Array, number][];
      return rows.reverse();
    }
    if (start <= CHUNK_MAX || !(this.valueOf(part, key) & CHUNKED)) {
      return this.q(
        "SELECT member, score FROM zset_members WHERE part = ? AND key = ? ORDER BY score, member LIMIT ? OFFSET ?",
      ).values(part, key, n, start) as [Uint8Array, number][];
    }
    // The chunk holding rank `start`, from the running total of chunk counts.
    const c = this.q(
      `SELECT lo_score, lo_member, cum - n AS before FROM
         (SELECT lo_score, lo_member, n, sum(n) OVER (ORDER BY lo_score, lo_member) AS cum FROM zset_chunks WHERE part = ?1 AND key = ?2)
       WHERE cum > ?3 LIMIT 1`,
    ).get(part, key, start) as { lo_score: number; lo_member: Uint8Array; before: number };
    return this.q(
      `SELECT member, score FROM zset_members WHERE part = ?1 AND key = ?2 AND (score, member) >= (?3, ?4)
       ORDER BY score, member LIMIT ?5 OFFSET ?6`,
    ).values(part, key, c.lo_score, c.lo_member, n, start - c.before) as [Uint8Array, number][];
  }

  zsetRange(key: Uint8Array, range: ZRange, rev: boolean, offset: number, limit: number): ZEntry[] {
    const part = this.partOf(key);
    let rows: [Uint8Array, number][];
    if (range.by === "rank") {
      if (range.stop < range.start) return [];
      if (rev) {
        const size = this.sizeOf(part, key);
        rows = this.rankRange(part, key, size - 1 - range.stop, size - 1 - range.start).reverse();
      } else rows = this.rankRange(part, key, range.start, range.stop);
    } else {
      const dir = rev ? "DESC" : "ASC";
      const [where, params] = this.rangeWhere(range);
      rows = this.q(
        `SELECT member, score FROM zset_members WHERE part = ? AND key = ? AND ${where} ORDER BY score ${dir}, member ${dir} LIMIT ? OFFSET ?`,
      ).values(part, key, ...params, limit, offset) as [Uint8Array, number][];
    }
    return rows.map(([member, score]) => ({ member, score }));
  }

  zsetCount(key: Uint8Array, range: Exclude<ZRange, { by: "rank" }>): number {
    const [where, params] = this.rangeWhere(range);
    const row = this.q(`SELECT count(*) AS n FROM zset_members WHERE part = ? AND key = ? AND ${where}`).get(
      this.partOf(key),
      key,
      ...params,
    ) as {
      n: number;
    };
    return row.n;
  }

  private rangeWhere(range: Exclude<ZRange, { by: "rank" }>): [string, (number | Uint8Array)[]] {
    if (range.by === "score") {
      const b = (bound: ScoreBound, op: "<" | ">") => `score ${op}${bound.exclusive ? "" : "="} ?`;
      return [`${b(range.min, ">")} AND ${b(range.max, "<")}`, [range.min.value, range.max.value]];
    }
    const parts: string[] = [];
    const params: Uint8Array[] = [];
    const b = (bound: LexBound, op: "<" | ">") => {
      if ("inf" in bound) {
        // "-" as a max or "+" as a min selects nothing.
        if ((op === ">" && bound.inf === 1) || (op === "<" && bound.inf === -1)) parts.push("0");
        return;
      }
      parts.push(`member ${op}${bound.exclusive ? "" : "="} ?`);
      params.push(bound.value);
    };
    b(range.min, ">");
    b(range.max, "<");
    return [parts.length ? parts.join(" AND ") : "1", params];
  }
}
