// Stream rows in a real data.db (src/store/stream-rows.ts): an existing data directory written
// before streams opens and gains the stream tables; a stream's rows go with its key (DEL, RENAME,
// a type change); range reads are index range scans.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_ID, MIN_ID } from "../../src/commands/stream-ids.ts";
import { COLLECTION_TABLES } from "../../src/store/collections.ts";
import { StateDb } from "../../src/store/state.ts";
import { STREAM_TABLES } from "../../src/store/stream-rows.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-streams-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const b = (s: string) => new TextEncoder().encode(s);
const LIMITS = { entries: 100, bytes: 4096 };

test("a data.db from before streams opens with the stream tables added, its keys kept", () => {
  const path = join(root, "old.db");
  const before = StateDb.open({
    path,
    partitionCount: 16,
    collections: COLLECTION_TABLES.filter((t) => t.type !== "stream"),
  });
  before.inTransaction(() => before.keyspace.setString(b("kept"), b("v"), null));
  const tables = (db: StateDb) =>
    (db.db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  expect(tables(before)).not.toContain("stream_entries");
  before.close();

  const after = StateDb.open({ path, partitionCount: 16 });
  for (const t of STREAM_TABLES) expect(tables(after)).toContain(t.name);
  const ks = after.keyspace;
  expect(ks.getString(b("kept"), 0)).toEqual(b("v"));
  after.inTransaction(() => {
    ks.streams.create(b("s"));
    ks.streams.append(b("s"), { ms: 1n, seq: 0n }, [b("f"), b("v")], LIMITS);
  });
  expect(ks.meta(b("s"), 0)?.type).toBe("stream");
  expect(ks.streams.range(b("s"), MIN_ID, MAX_ID, false, 0)).toEqual([
    { id: { ms: 1n, seq: 0n }, fields: [b("f"), b("v")] },
  ]);
  after.close();
});

test("a stream's rows go with its key: RENAME moves them, a type change and DEL remove them", () => {
  const db = StateDb.open({ path: join(root, "rows.db"), partitionCount: 16 });
  const ks = db.keyspace;
  const rowsOf = (key: string) =>
    STREAM_TABLES.map(
      (t) => (db.db.query(`SELECT count(*) AS n FROM ${t.name} WHERE key = ?`).get(b(key)) as { n: number }).n,
    );
  db.inTransaction(() => {
    ks.streams.create(b("a"));
    for (let i = 1; i <= 150; i++) ks.streams.append(b("a"), { ms: BigInt(i), seq: 0n }, [b("f"), b(`${i}`)], LIMITS);
    ks.streams.putGroup(b("a"), { name: b("g"), lastId: { ms: 2n, seq: 0n }, entriesRead: 2n });
    ks.streams.putConsumer(b("a"), b("g"), { name: b("c"), seenTime: 5 });
    ks.streams.putPending(b("a"), b("g"), {
      id: { ms: 1n, seq: 0n },
      consumer: b("c"),
      deliveryTime: 5,
      deliveryCount: 1,
    });
  });
  // meta, 150 entries, 2 nodes, group, consumer, pending entry.
  expect(rowsOf("a")).toEqual([1, 150, 2, 1, 1, 1]);
  db.inTransaction(() => ks.rename(b("a"), b("b"), 0));
  expect(rowsOf("a")).toEqual([0, 0, 0, 0, 0, 0]);
  expect(rowsOf("b")).toEqual([1, 150, 2, 1, 1, 1]);
  db.inTransaction(() => ks.copy(b("b"), b("c"), 0));
  expect(rowsOf("c")).toEqual([1, 150, 2, 1, 1, 1]);
  db.inTransaction(() => ks.setString(b("b"), b("now a string"), null));
  expect(rowsOf("b")).toEqual([0, 0, 0, 0, 0, 0]);
  db.inTransaction(() => ks.delete(b("c"), 0));
  expect(rowsOf("c")).toEqual([0, 0, 0, 0, 0, 0]);
  db.close();
});

test("XRANGE and a group's pending entries are index range scans", () => {
  const db = StateDb.open({ path: join(root, "plan.db"), partitionCount: 16 });
  const plan = (sql: string) =>
    (db.db.query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
  expect(
    plan(
      "SELECT id, fields FROM stream_entries WHERE part = 1 AND key = x'61' AND id >= x'00' AND id <= x'ff' ORDER BY id",
    ),
  ).toMatch(/SEARCH stream_entries USING PRIMARY KEY \(part=\? AND key=\? AND id>\? AND id<\?\)/);
  expect(
    plan(
      "SELECT id FROM stream_pel WHERE part = 1 AND key = x'61' AND grp = x'67' AND consumer = x'63' AND id >= x'00' ORDER BY id",
    ),
  ).toMatch(/SEARCH stream_pel USING (COVERING )?INDEX stream_pel_by_consumer/);
  db.close();
});
