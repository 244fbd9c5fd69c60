// Streams in data.db as rows (docs/design/storage.md): one row per entry keyed by its 16-byte
// big-endian ID (byte order = ID order, so XRANGE is an index range scan), plus rows for the
// stream's own fields, its consumer groups, their consumers and pending entries. A stream's keys
// row has type 'stream' and no value; unlike the other collections an empty stream stays.
//
// Redis keeps entries in radix-tree nodes of up to stream-node-max-entries entries, and `~`
// trimming only drops whole nodes, so XLEN after `MAXLEN ~ n` depends on where nodes begin. The
// stream_nodes rows record those boundaries (each node's first ID, its live entries, entries ever
// appended to it and its approximate listpack bytes) so approximate trimming answers as Redis does.
import { StatementCache } from "./statement-cache.ts";
import type { Database, Statement } from "bun:sqlite";
import { decodeId, encodeId, type StreamId, u32 } from "../commands/stream-ids.ts";
import type {
  NodeLimits,
  PendingEntry,
  StreamConsumer,
  StreamEntry,
  StreamGroup,
  StreamState,
  StreamStore,
  StreamTrim,
} from "../commands/stream-store.ts";
import type { CollectionTable } from "./collections.ts";
import type { Versions } from "./collection-rows.ts";

export const STREAM_TABLES: readonly CollectionTable[] = [
  {
    // entries_added and entries_read are decimal text: XSETID may set any 64-bit value.
    name: "stream_meta",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_meta (part INTEGER NOT NULL, key BLOB NOT NULL, length INTEGER NOT NULL,
       last_id BLOB NOT NULL, max_deleted BLOB NOT NULL, added TEXT NOT NULL, PRIMARY KEY (part, key)) WITHOUT ROWID`,
    ],
    columns: ["length", "last_id", "max_deleted", "added"],
  },
  {
    name: "stream_entries",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_entries (part INTEGER NOT NULL, key BLOB NOT NULL, id BLOB NOT NULL,
       fields BLOB NOT NULL, PRIMARY KEY (part, key, id)) WITHOUT ROWID`,
    ],
    columns: ["id", "fields"],
  },
  {
    name: "stream_nodes",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_nodes (part INTEGER NOT NULL, key BLOB NOT NULL, master BLOB NOT NULL,
       live INTEGER NOT NULL, total INTEGER NOT NULL, bytes INTEGER NOT NULL,
       PRIMARY KEY (part, key, master)) WITHOUT ROWID`,
    ],
    columns: ["master", "live", "total", "bytes"],
  },
  {
    name: "stream_groups",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_groups (part INTEGER NOT NULL, key BLOB NOT NULL, name BLOB NOT NULL,
       last_id BLOB NOT NULL, entries_read TEXT, PRIMARY KEY (part, key, name)) WITHOUT ROWID`,
    ],
    columns: ["name", "last_id", "entries_read"],
  },
  {
    name: "stream_consumers",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_consumers (part INTEGER NOT NULL, key BLOB NOT NULL, grp BLOB NOT NULL,
       name BLOB NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY (part, key, grp, name)) WITHOUT ROWID`,
    ],
    columns: ["grp", "name", "seen"],
  },
  {
    name: "stream_pel",
    type: "stream",
    ddl: [
      `CREATE TABLE IF NOT EXISTS stream_pel (part INTEGER NOT NULL, key BLOB NOT NULL, grp BLOB NOT NULL,
       id BLOB NOT NULL, consumer BLOB NOT NULL, delivered INTEGER NOT NULL, count INTEGER NOT NULL,
       PRIMARY KEY (part, key, grp, id)) WITHOUT ROWID`,
      "CREATE INDEX IF NOT EXISTS stream_pel_by_consumer ON stream_pel (part, key, grp, consumer, id)",
    ],
    columns: ["grp", "id", "consumer", "delivered", "count"],
  },
];

/** An entry's field/value list as one blob: a 4-byte big-endian length before each element. */
export function encodeFields(fields: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const f of fields) n += 4 + f.length;
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of fields) {
    view.setUint32(at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

export function decodeFields(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < b.length; ) {
    const n = u32(b, at);
    out.push(b.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Roughly what an entry adds to a listpack node (element headers, flags, ID deltas, back-count). */
const entryBytes = (fields: readonly Uint8Array[]): number => fields.reduce((n, f) => n + f.length + 2, 8);

const RANGE = "SELECT id, fields FROM stream_entries WHERE part = ? AND key = ? AND id >= ? AND id <= ? ORDER BY id";
const RANGE_ASC = `${RANGE} ASC LIMIT ?`;
const RANGE_DESC = `${RANGE} DESC LIMIT ?`;

type MetaRow = { length: number; last_id: Uint8Array; max_deleted: Uint8Array; added: string };
type NodeRow = { master: Uint8Array; live: number; total: number; bytes: number };
type PelRow = [Uint8Array, Uint8Array, number, number];

const pel = ([id, consumer, delivered, count]: PelRow): PendingEntry => ({
  id: decodeId(id),
  consumer,
  deliveryTime: delivered,
  deliveryCount: count,
});

export class StreamRows implements StreamStore {
  private statementCache: StatementCache<string> | undefined;

  constructor(
    private readonly db: Database,
    private readonly partOf: (key: Uint8Array) => number,
    private readonly versions: Versions,
    private readonly dbIndex: number,
  ) {}

  private q(sql: string): Statement {
    this.statementCache ??= new StatementCache(this.db);
    return this.statementCache.get(sql);
  }

  finalize(): void {
    this.statementCache?.finalize();
  }

  private touch(key: Uint8Array): number {
    this.versions.touch(key, this.dbIndex);
    return this.partOf(key);
  }

  state(key: Uint8Array): StreamState | undefined {
    const row = this.q("SELECT length, last_id, max_deleted, added FROM stream_meta WHERE part = ? AND key = ?").get(
      this.partOf(key),
      key,
    ) as MetaRow | null;
    if (!row) return undefined;
    return {
      length: row.length,
      lastId: decodeId(row.last_id),
      maxDeletedId: decodeId(row.max_deleted),
      entriesAdded: BigInt(row.added),
    };
  }

  create(key: Uint8Array): void {
    const part = this.touch(key);
    // An expired row whose deletion has not come through the log yet goes first, with its rows.
    this.q("DELETE FROM keys WHERE part = ? AND key = ?").run(part, key);
    this.q("INSERT INTO keys (part, key, type, value, expire_at) VALUES (?, ?, 'stream', NULL, NULL)").run(part, key);
    const zero = encodeId({ ms: 0n, seq: 0n });
    this.q("INSERT INTO stream_meta (part, key, length, last_id, max_deleted, added) VALUES (?, ?, 0, ?, ?, '0')").run(
      part,
      key,
      zero,
      zero,
    );
  }

  setState(key: Uint8Array, s: Omit<StreamState, "length">): void {
    const part = this.touch(key);
    this.q("UPDATE stream_meta SET last_id = ?, max_deleted = ?, added = ? WHERE part = ? AND key = ?").run(
      encodeId(s.lastId),
      encodeId(s.maxDeletedId),
      s.entriesAdded.toString(),
      part,
      key,
    );
  }

  private addLength(part: number, key: Uint8Array, delta: number): void {
    if (delta !== 0)
      this.q("UPDATE stream_meta SET length = length + ? WHERE part = ? AND key = ?").run(delta, part, key);
  }

  append(key: Uint8Array, id: StreamId, fields: readonly Uint8Array[], limits: NodeLimits): void {
    const part = this.touch(key);
    const at = encodeId(id);
    const size = entryBytes(fields);
    const tail = this.q(
      "SELECT master, live, total, bytes FROM stream_nodes WHERE part = ? AND key = ? ORDER BY master DESC LIMIT 1",
    ).get(part, key) as NodeRow | null;
    const maxBytes = limits.bytes <= 0 || limits.bytes > 1 << 30 ? 1 << 30 : limits.bytes;
    if (!tail || tail.bytes + size >= maxBytes || (limits.entries > 0 && tail.total >= limits.entries)) {
      // A new node starts with its master entry: the first entry's fields once more.
      this.q("INSERT INTO stream_nodes (part, key, master, live, total, bytes) VALUES (?, ?, ?, 1, 1, ?)").run(
        part,
        key,
        at,
        2 * size + 16,
      );
    } else {
      this.q(
        `UPDATE stream_nodes SET live = live + 1, total = total + 1, bytes = bytes + ?
         WHERE part = ? AND key = ? AND master = ?`,
      ).run(size, part, key, tail.master);
    }
    this.q("INSERT INTO stream_entries (part, key, id, fields) VALUES (?, ?, ?, ?)").run(
      part,
      key,
      at,
      encodeFields(fields),
    );
    this.q(
      `UPDATE stream_meta SET length = length + 1, last_id = ?, added = CAST(CAST(added AS INTEGER) + 1 AS TEXT)
       WHERE part = ? AND key = ?`,
    ).run(at, part, key);
  }

  range(key: Uint8Array, start: StreamId, end: StreamId, rev: boolean, count: number): StreamEntry[] {
    const rows = this.q(rev ? RANGE_DESC : RANGE_ASC).values(
      this.partOf(key),
      key,
      encodeId(start),
      encodeId(end),
      count > 0 ? count : -1,
    ) as [Uint8Array, Uint8Array][];
    return rows.map(([id, fields]) => ({ id: decodeId(id), fields: decodeFields(fields) }));
  }

  remove(key: Uint8Array, ids: readonly StreamId[]): number {
    const part = this.touch(key);
    let n = 0;
    for (const id of ids) {
      const at = encodeId(id);
      if (this.q("DELETE FROM stream_entries WHERE part = ? AND key = ? AND id = ?").run(part, key, at).changes === 0)
        continue;
      n++;
      const node = this.q(
        `UPDATE stream_nodes SET live = live - 1 WHERE part = ?1 AND key = ?2 AND master =
           (SELECT max(master) FROM stream_nodes WHERE part = ?1 AND key = ?2 AND master <= ?3) RETURNING master, live`,
      ).get(part, key, at) as { master: Uint8Array; live: number } | null;
      // A node whose entries are all deleted goes, as Redis frees it.
      if (node && node.live <= 0) {
        this.q("DELETE FROM stream_nodes WHERE part = ? AND key = ? AND master = ?").run(part, key, node.master);
      }
    }
    this.addLength(part, key, -n);
    return n;
  }

  trim(key: Uint8Array, t: StreamTrim): number {
    const part = this.touch(key);
    let length = this.state(key)?.length ?? 0;
    const minid = encodeId(t.minid);
    let deleted = 0;
    let node = this.q(
      "SELECT master, live, total, bytes FROM stream_nodes WHERE part = ? AND key = ? ORDER BY master LIMIT 1",
    ).get(part, key) as NodeRow | null;
    while (node) {
      if (t.strategy === "maxlen" && length <= t.maxlen) break;
      const entries = node.live;
      if (t.limit > 0 && deleted + entries > t.limit) break;
      const next = this.q(
        `SELECT master, live, total, bytes FROM stream_nodes WHERE part = ? AND key = ? AND master > ?
         ORDER BY master LIMIT 1`,
      ).get(part, key, node.master) as NodeRow | null;
      const endSql = next ? "AND id < ?" : "";
      const bounds = next ? [node.master, next.master] : [node.master];
      let remove: boolean;
      if (t.strategy === "maxlen") remove = length - entries >= t.maxlen;
      else {
        const last = this.q(
          `SELECT max(id) AS id FROM stream_entries WHERE part = ? AND key = ? AND id >= ? ${endSql}`,
        ).get(part, key, ...bounds) as { id: Uint8Array | null };
        remove = last.id === null || Buffer.compare(last.id, minid) < 0;
      }
      if (remove) {
        this.q(`DELETE FROM stream_entries WHERE part = ? AND key = ? AND id >= ? ${endSql}`).run(part, key, ...bounds);
        this.q("DELETE FROM stream_nodes WHERE part = ? AND key = ? AND master = ?").run(part, key, node.master);
        length -= entries;
        deleted += entries;
        node = next;
        continue;
      }
      if (t.approx) break;
      // Within the first node that stays: exactly as many entries as still have to go.
      const gone =
        t.strategy === "maxlen"
          ? this.q(
              `DELETE FROM stream_entries WHERE part = ?1 AND key = ?2 AND id IN
                 (SELECT id FROM stream_entries WHERE part = ?1 AND key = ?2 ORDER BY id LIMIT ?3)`,
            ).run(part, key, length - t.maxlen).changes
          : this.q("DELETE FROM stream_entries WHERE part = ? AND key = ? AND id < ?").run(part, key, minid).changes;
      this.q("UPDATE stream_nodes SET live = live - ? WHERE part = ? AND key = ? AND master = ?").run(
        gone,
        part,
        key,
        node.master,
      );
      length -= gone;
      deleted += gone;
      break;
    }
    this.addLength(part, key, -deleted);
    return deleted;
  }

  nodeCount(key: Uint8Array): number {
    const sql = "SELECT count(*) AS n FROM stream_nodes WHERE part = ? AND key = ?";
    return (this.q(sql).get(this.partOf(key), key) as { n: number }).n;
  }

  groups(key: Uint8Array): StreamGroup[] {
    const rows = this.q(
      "SELECT name, last_id, entries_read FROM stream_groups WHERE part = ? AND key = ? ORDER BY name",
    ).values(this.partOf(key), key) as [Uint8Array, Uint8Array, string | null][];
    return rows.map(([name, last, read]) => ({
      name,
      lastId: decodeId(last),
      entriesRead: read === null ? undefined : BigInt(read),
    }));
  }

  group(key: Uint8Array, name: Uint8Array): StreamGroup | undefined {
    const row = this.q("SELECT last_id, entries_read FROM stream_groups WHERE part = ? AND key = ? AND name = ?").get(
      this.partOf(key),
      key,
      name,
    ) as { last_id: Uint8Array; entries_read: string | null } | null;
    if (!row) return undefined;
    return {
      name,
      lastId: decodeId(row.last_id),
      entriesRead: row.entries_read === null ? undefined : BigInt(row.entries_read),
    };
  }

  putGroup(key: Uint8Array, g: StreamGroup): void {
    const part = this.touch(key);
    this.q(
      `INSERT INTO stream_groups (part, key, name, last_id, entries_read) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (part, key, name) DO UPDATE SET last_id = excluded.last_id, entries_read = excluded.entries_read`,
    ).run(part, key, g.name, encodeId(g.lastId), g.entriesRead === undefined ? null : g.entriesRead.toString());
  }

  deleteGroup(key: Uint8Array, name: Uint8Array): boolean {
    const part = this.touch(key);
    if (this.q("DELETE FROM stream_groups WHERE part = ? AND key = ? AND name = ?").run(part, key, name).changes === 0)
      return false;
    this.q("DELETE FROM stream_consumers WHERE part = ? AND key = ? AND grp = ?").run(part, key, name);
    this.q("DELETE FROM stream_pel WHERE part = ? AND key = ? AND grp = ?").run(part, key, name);
    return true;
  }

  consumers(key: Uint8Array, group: Uint8Array): StreamConsumer[] {
    const rows = this.q(
      "SELECT name, seen FROM stream_consumers WHERE part = ? AND key = ? AND grp = ? ORDER BY name",
    ).values(this.partOf(key), key, group) as [Uint8Array, number][];
    return rows.map(([name, seen]) => ({ name, seenTime: seen }));
  }

  consumer(key: Uint8Array, group: Uint8Array, name: Uint8Array): StreamConsumer | undefined {
    const row = this.q("SELECT seen FROM stream_consumers WHERE part = ? AND key = ? AND grp = ? AND name = ?").get(
      this.partOf(key),
      key,
      group,
      name,
    ) as { seen: number } | null;
    return row ? { name, seenTime: row.seen } : undefined;
  }

  putConsumer(key: Uint8Array, group: Uint8Array, c: StreamConsumer): void {
    const part = this.touch(key);
    this.q(
      `INSERT INTO stream_consumers (part, key, grp, name, seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (part, key, grp, name) DO UPDATE SET seen = excluded.seen`,
    ).run(part, key, group, c.name, c.seenTime);
  }

  deleteConsumer(key: Uint8Array, group: Uint8Array, name: Uint8Array): number | undefined {
    const part = this.touch(key);
    const sql = "DELETE FROM stream_consumers WHERE part = ? AND key = ? AND grp = ? AND name = ?";
    if (this.q(sql).run(part, key, group, name).changes === 0) return undefined;
    return this.q("DELETE FROM stream_pel WHERE part = ? AND key = ? AND grp = ? AND consumer = ?").run(
      part,
      key,
      group,
      name,
    ).changes;
  }

  pending(
    key: Uint8Array,
    group: Uint8Array,
    start: StreamId,
    end: StreamId,
    count: number,
    consumer?: Uint8Array,
  ): PendingEntry[] {
    const limit = count > 0 ? count : -1;
    const part = this.partOf(key);
    const rows =
      consumer === undefined
        ? this.q(
            `SELECT id, consumer, delivered, count FROM stream_pel WHERE part = ? AND key = ? AND grp = ?
             AND id >= ? AND id <= ? ORDER BY id LIMIT ?`,
          ).values(part, key, group, encodeId(start), encodeId(end), limit)
        : this.q(
            `SELECT id, consumer, delivered, count FROM stream_pel WHERE part = ? AND key = ? AND grp = ?
             AND consumer = ? AND id >= ? AND id <= ? ORDER BY id LIMIT ?`,
          ).values(part, key, group, consumer, encodeId(start), encodeId(end), limit);
    return (rows as PelRow[]).map(pel);
  }

  pendingEntry(key: Uint8Array, group: Uint8Array, id: StreamId): PendingEntry | undefined {
    const row = this.q(
      "SELECT id, consumer, delivered, count FROM stream_pel WHERE part = ? AND key = ? AND grp = ? AND id = ?",
    ).values(this.partOf(key), key, group, encodeId(id))[0] as PelRow | undefined;
    return row ? pel(row) : undefined;
  }

  putPending(key: Uint8Array, group: Uint8Array, e: PendingEntry): void {
    const part = this.touch(key);
    this.q(
      `INSERT INTO stream_pel (part, key, grp, id, consumer, delivered, count) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (part, key, grp, id) DO UPDATE SET consumer = excluded.consumer, delivered = excluded.delivered,
       count = excluded.count`,
    ).run(part, key, group, encodeId(e.id), e.consumer, e.deliveryTime, e.deliveryCount);
  }

  deletePending(key: Uint8Array, group: Uint8Array, id: StreamId): boolean {
    const part = this.touch(key);
    return (
      this.q("DELETE FROM stream_pel WHERE part = ? AND key = ? AND grp = ? AND id = ?").run(
        part,
        key,
        group,
        encodeId(id),
      ).changes > 0
    );
  }

  lastPending(key: Uint8Array, group: Uint8Array): StreamId | undefined {
    const row = this.q("SELECT max(id) AS id FROM stream_pel WHERE part = ? AND key = ? AND grp = ?").get(
      this.partOf(key),
      key,
      group,
    ) as { id: Uint8Array | null };
    return row.id ? decodeId(row.id) : undefined;
  }

  pendingCount(key: Uint8Array, group: Uint8Array, consumer?: Uint8Array): number {
    const part = this.partOf(key);
    const row =
      consumer === undefined
        ? this.q("SELECT count(*) AS n FROM stream_pel WHERE part = ? AND key = ? AND grp = ?").get(part, key, group)
        : this.q("SELECT count(*) AS n FROM stream_pel WHERE part = ? AND key = ? AND grp = ? AND consumer = ?").get(
            part,
            key,
            group,
            consumer,
          );
    return (row as { n: number }).n;
  }

  pendingByConsumer(key: Uint8Array, group: Uint8Array): [Uint8Array, number][] {
    return this.q(
      `SELECT consumer, count(*) FROM stream_pel WHERE part = ? AND key = ? AND grp = ?
       GROUP BY consumer ORDER BY consumer`,
    ).values(this.partOf(key), key, group) as [Uint8Array, number][];
  }
}
