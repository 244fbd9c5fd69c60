import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRONG_TYPE } from "../../src/commands/types.ts";
import type { CollectionTable } from "../../src/store/collections.ts";
import { DB_STRIDE, type SqliteKeyspace, StateDb } from "../../src/store/state.ts";
import { exportPartition, importPartition } from "../../src/store/partition-snapshot.ts";
import { Database } from "bun:sqlite";
import { Packr } from "msgpackr";
import { op, str, utf8 } from "../helpers/ops.ts";
import { err, int } from "../../src/resp/reply.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-keyspace-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshPath = () => join(root, `data-${dirCount++}.db`);

// A stand-in for issue 6's hash table, to prove the registry reaches every row of a key.
const FIELDS: CollectionTable = {
  name: "test_fields",
  type: "hash",
  ddl: [
    `CREATE TABLE IF NOT EXISTS test_fields (part INTEGER NOT NULL, key BLOB NOT NULL, field BLOB NOT NULL,
       value BLOB, PRIMARY KEY (part, key, field)) WITHOUT ROWID`,
  ],
  columns: ["field", "value"],
};

let state: StateDb;
let ks: SqliteKeyspace;
beforeEach(() => {
  state = StateDb.open({ path: freshPath(), partitionCount: 256, collections: [FIELDS] });
  ks = state.keyspace;
});
afterEach(() => state.close());

function putHash(key: string, fields: Record<string, string>, expireAt: number | null = null): void {
  const k = utf8(key);
  const part = ks.partOf(k);
  state.db.run("INSERT INTO keys (part, key, type, value, expire_at) VALUES (?, ?, 'hash', NULL, ?)", [
    part,
    k,
    expireAt,
  ]);
  for (const [f, v] of Object.entries(fields)) {
    state.db.run("INSERT INTO test_fields (part, key, field, value) VALUES (?, ?, ?, ?)", [part, k, utf8(f), utf8(v)]);
  }
}

function hashFields(key: string, in_ = ks): Record<string, string> {
  const k = utf8(key);
  const rows = state.db
    .query<{ field: Uint8Array; value: Uint8Array }, [number, Uint8Array]>(
      "SELECT field, value FROM test_fields WHERE part = ? AND key = ? ORDER BY field",
    )
    .all(in_.partOf(k), k);
  return Object.fromEntries(rows.map((r) => [str(r.field), str(r.value)]));
}

const fieldRows = () => (state.db.query("SELECT count(*) AS n FROM test_fields").get() as { n: number }).n;

describe("strings", () => {
  test("keys and values are binary safe", () => {
    const key = new Uint8Array([0, 255, 10, 13, 0]);
    const value = new Uint8Array([0, 0, 128, 255]);
    ks.setString(key, value, null);
    expect(ks.getString(key, 0)).toEqual(value);
    expect(ks.getString(new Uint8Array([0, 255, 10, 13]), 0)).toBeUndefined();
    expect(ks.meta(key, 0)).toEqual({ type: "string", expireAt: null });
  });

  test("setString replaces the value and the expiry", () => {
    ks.setString(utf8("k"), utf8("a"), 5000);
    ks.setString(utf8("k"), utf8("b"), null);
    expect(str(ks.getString(utf8("k"), 10_000))).toBe("b");
    expect(ks.meta(utf8("k"), 0)?.expireAt).toBeNull();
  });

  test("getStringRange reads bytes of a string and its length, and treats other keys as getString does", () => {
    const value = new Uint8Array([0, 1, 0, 128, 255, 7]);
    ks.setString(utf8("k"), value, 5000);
    expect(ks.getStringRange(utf8("k"), 2, 3, 0)).toEqual({ bytes: value.subarray(2, 5), length: 6 });
    expect(ks.getStringRange(utf8("k"), 4, 100, 0)).toEqual({ bytes: value.subarray(4), length: 6 });
    expect(ks.getStringRange(utf8("k"), 6, 1, 0)).toEqual({ bytes: new Uint8Array(0), length: 6 });
    expect(ks.getStringRange(utf8("k"), 0, 1, 5000)).toBeUndefined();
    // A value stored as TEXT is counted in bytes too.
    state.db.run("UPDATE keys SET value = ? WHERE key = ?", ["é€x", utf8("k")]);
    expect(ks.getStringRange(utf8("k"), 2, 3, 0)).toEqual({ bytes: utf8("€"), length: 6 });
    putHash("h", { f: "v" });
    expect(ks.getStringRange(utf8("h"), 0, 1, 0)).toBe(WRONG_TYPE);
  });
});

describe("expiry", () => {
  test("a key is absent from every reader once expireAt <= now", () => {
    ks.setString(utf8("t"), utf8("v"), 1000);
    ks.setString(utf8("p"), utf8("v"), null);
    expect(str(ks.getString(utf8("t"), 999))).toBe("v");
    expect(ks.meta(utf8("t"), 999)).toEqual({ type: "string", expireAt: 1000 });
    expect(ks.count(999)).toBe(2);
    for (const now of [1000, 1001]) {
      expect(ks.getString(utf8("t"), now)).toBeUndefined();
      expect(ks.meta(utf8("t"), now)).toBeUndefined();
      expect(ks.count(now)).toBe(1);
      expect(ks.scan(0, 100, now).keys.map(str)).toEqual(["p"]);
      for (let i = 0; i < 10; i++) expect(str(ks.randomKey(now, i / 10))).toBe("p");
    }
  });

  test("delete of an expired key removes it but reports no live key removed", () => {
    ks.setString(utf8("t"), utf8("v"), 1000);
    expect(ks.delete(utf8("t"), 1000)).toBe(false);
    expect(ks.getString(utf8("t"), 0)).toBeUndefined();
    ks.setString(utf8("t"), utf8("v"), 1000);
    expect(ks.delete(utf8("t"), 999)).toBe(true);
    expect(ks.delete(utf8("t"), 999)).toBe(false);
  });

  const expiredKeys = (now: number, limit: number) => ks.expiredEverywhere(now, limit).map((e) => str(e.key));

  test("expiredEverywhere() lists only expired keys, soonest first, up to limit; deleteIfExpired spares live keys", () => {
    ks.setString(utf8("a"), utf8("v"), 300);
    ks.setString(utf8("b"), utf8("v"), 100);
    ks.setString(utf8("c"), utf8("v"), 200);
    ks.setString(utf8("d"), utf8("v"), null);
    expect(expiredKeys(250, 10)).toEqual(["b", "c"]);
    expect(expiredKeys(1000, 2)).toEqual(["b", "c"]);
    expect(ks.deleteIfExpired(utf8("a"), 250)).toBe(false);
    expect(ks.deleteIfExpired(utf8("d"), 250)).toBe(false);
    expect(ks.deleteIfExpired(utf8("b"), 250)).toBe(true);
    expect(expiredKeys(1000, 10)).toEqual(["c", "a"]);
    expect(str(ks.getString(utf8("a"), 0))).toBe("v");
  });

  test("setExpireAt changes and removes the expiry", () => {
    ks.setString(utf8("k"), utf8("v"), null);
    ks.setExpireAt(utf8("k"), 50);
    expect(ks.getString(utf8("k"), 50)).toBeUndefined();
    ks.setExpireAt(utf8("k"), null);
    expect(str(ks.getString(utf8("k"), 50))).toBe("v");
  });
});

describe("types and the collection registry", () => {
  test("a hash is WRONGTYPE for getString and setString replaces it with all its rows", () => {
    putHash("h", { f1: "a", f2: "b" });
    putHash("other", { f: "x" });
    expect(ks.getString(utf8("h"), 0)).toBe(WRONG_TYPE);
    expect(ks.meta(utf8("h"), 0)?.type).toBe("hash");
    ks.setString(utf8("h"), utf8("now a string"), null);
    expect(str(ks.getString(utf8("h"), 0))).toBe("now a string");
    expect(hashFields("h")).toEqual({});
    expect(hashFields("other")).toEqual({ f: "x" });
  });

  test("delete, deleteIfExpired and flush remove collection rows", () => {
    putHash("h1", { a: "1" });
    putHash("h2", { b: "2" }, 100);
    putHash("h3", { c: "3" });
    expect(ks.delete(utf8("h1"), 0)).toBe(true);
    expect(ks.deleteIfExpired(utf8("h2"), 100)).toBe(true);
    expect(fieldRows()).toBe(1);
    ks.flush();
    expect(fieldRows()).toBe(0);
    expect(ks.count(0)).toBe(0);
  });

  test("rename moves rows across partitions and replaces the destination's rows", () => {
    putHash("src", { a: "1", b: "2" }, 9000);
    putHash("dst", { old: "x" });
    expect(ks.partOf(utf8("src"))).not.toBe(ks.partOf(utf8("dst")));
    ks.rename(utf8("src"), utf8("dst"), 0);
    expect(ks.meta(utf8("src"), 0)).toBeUndefined();
    expect(ks.meta(utf8("dst"), 0)).toEqual({ type: "hash", expireAt: 9000 });
    expect(hashFields("dst")).toEqual({ a: "1", b: "2" });
    expect(hashFields("src")).toEqual({});
    expect(fieldRows()).toBe(2);
  });

  test("copy duplicates rows and expiry and leaves the source", () => {
    putHash("src", { a: "1" }, 9000);
    ks.setString(utf8("dst"), utf8("string"), null);
    ks.copy(utf8("src"), utf8("dst"), 0);
    expect(ks.meta(utf8("dst"), 0)).toEqual({ type: "hash", expireAt: 9000 });
    expect(hashFields("dst")).toEqual({ a: "1" });
    expect(hashFields("src")).toEqual({ a: "1" });
  });

  test("rename and copy of strings carry value and expiry; a missing or expired source changes nothing", () => {
    ks.setString(utf8("a"), utf8("va"), 7000);
    ks.setString(utf8("b"), utf8("vb"), null);
    ks.copy(utf8("a"), utf8("c"), 0);
    expect(str(ks.getString(utf8("c"), 0))).toBe("va");
    expect(ks.meta(utf8("c"), 0)?.expireAt).toBe(7000);
    ks.rename(utf8("a"), utf8("b"), 0);
    expect(ks.getString(utf8("a"), 0)).toBeUndefined();
    expect(str(ks.getString(utf8("b"), 0))).toBe("va");
    ks.rename(utf8("missing"), utf8("b"), 0);
    ks.copy(utf8("missing"), utf8("b"), 0);
    ks.rename(utf8("c"), utf8("b"), 7000); // c is expired at 7000
    expect(str(ks.getString(utf8("b"), 0))).toBe("va");
    ks.rename(utf8("b"), utf8("b"), 0);
    ks.copy(utf8("b"), utf8("b"), 0);
    expect(str(ks.getString(utf8("b"), 0))).toBe("va");
  });
});

describe("scan, count, randomKey", () => {
  test("a full scan returns every live key exactly once, whatever the COUNT", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ maxLength: 6 }), { maxLength: 60, selector: (k) => k.join(",") }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 }),
        (keys, counts) => {
          ks.flush();
          keys.forEach((k, i) => {
            ks.setString(k, utf8("v"), i % 4 === 0 ? 10 : null);
          });
          const live = keys.filter((_, i) => i % 4 !== 0).map((k) => k.join(","));
          const seen: string[] = [];
          let cursor = 0;
          let calls = 0;
          do {
            const page = ks.scan(cursor, counts[calls % counts.length], 10);
            seen.push(...page.keys.map((k) => k.join(",")));
            cursor = page.cursor;
            calls++;
          } while (cursor !== 0 && calls < 1000);
          expect(seen.sort()).toEqual(live.sort());
          expect(ks.count(10)).toBe(live.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("keys present for the whole scan are returned although others come and go", () => {
    for (let i = 0; i < 200; i++) ks.setString(utf8(`stay${i}`), utf8("v"), null);
    const seen = new Set<string>();
    let cursor = 0;
    let round = 0;
    do {
      const page = ks.scan(cursor, 7, 0);
      for (const k of page.keys) seen.add(str(k)!);
      cursor = page.cursor;
      ks.setString(utf8(`new${round}`), utf8("v"), null);
      ks.delete(utf8(`new${round - 1}`), 0);
      round++;
    } while (cursor !== 0);
    for (let i = 0; i < 200; i++) expect(seen.has(`stay${i}`)).toBe(true);
  });

  test("the TYPE filter keeps only keys of that type", () => {
    ks.setString(utf8("s"), utf8("v"), null);
    putHash("h", { f: "v" });
    expect(ks.scan(0, 10, 0, "hash").keys.map(str)).toEqual(["h"]);
    expect(ks.scan(0, 10, 0, "string").keys.map(str)).toEqual(["s"]);
  });

  test("randomKey: undefined when empty, reaches different keys for different r", () => {
    expect(ks.randomKey(0, 0.5)).toBeUndefined();
    for (let i = 0; i < 20; i++) ks.setString(utf8(`k${i}`), utf8("v"), null);
    const picks = new Set(Array.from({ length: 20 }, (_, i) => str(ks.randomKey(0, i / 20))));
    expect(picks.size).toBe(20);
    expect(str(ks.randomKey(0, 0.999999))).toBe("k19");
  });
});

describe("databases", () => {
  const keysOf = (k: SqliteKeyspace) => k.scan(0, 1000, 0).keys.map(str).sort();

  test("a key's identity includes its database; counts, scans and flushes stay within one", () => {
    const db3 = ks.database(3)!;
    ks.setString(utf8("a"), utf8("0"), null);
    db3.setString(utf8("a"), utf8("3"), 500);
    db3.setString(utf8("b"), utf8("3"), null);
    putHash("h", { f: "v" });
    expect([str(ks.getString(utf8("a"), 0)), str(db3.getString(utf8("a"), 0))]).toEqual(["0", "3"]);
    expect([ks.count(0), db3.count(0), db3.countWithExpiry(0), ks.countEverywhere(0)]).toEqual([2, 2, 1, 4]);
    expect([keysOf(ks), keysOf(db3)]).toEqual([
      ["a", "h"],
      ["a", "b"],
    ]);
    const part = ks.partOf(utf8("b"));
    expect([db3.partitionStats(part, 0).keys, ks.partitionStats(part, 0).keys]).toEqual([1, 0]);
    expect(ks.expiredEverywhere(600, 10).map((e) => [e.db, str(e.key)])).toEqual([[3, "a"]]);
    db3.flush();
    expect([ks.count(0), db3.count(0)]).toEqual([2, 0]);
    expect(ks.database(16)).toBeUndefined();
    expect(ks.database(-1)).toBeUndefined();
  });

  test("rename and copy reach another database with every row; flushAll empties all", () => {
    const db5 = ks.database(5)!;
    putHash("h", { f: "v", g: "w" });
    ks.copy(utf8("h"), utf8("h"), 0, 5);
    expect(hashFields("h", db5)).toEqual({ f: "v", g: "w" });
    ks.rename(utf8("h"), utf8("moved"), 0, 5);
    expect([ks.meta(utf8("h"), 0), hashFields("h"), hashFields("moved", db5)]).toEqual([
      undefined,
      {},
      { f: "v", g: "w" },
    ]);
    expect(fieldRows()).toBe(4);
    ks.flushAll();
    expect([ks.countEverywhere(0), fieldRows()]).toEqual([0, 0]);
  });

  test("swapDatabase trades every row, or one partition's; a watched key live afterwards counts as written", () => {
    const [db1, db2] = [ks.database(1)!, ks.database(2)!];
    state.keyspace.versions.begin(-1, 7, 0);
    db1.setString(utf8("x"), utf8("1"), null);
    putHash("h", { f: "v" });
    ks.swapDatabase(1);
    expect([keysOf(ks), keysOf(db1)]).toEqual([["x"], ["h"]]);
    expect([hashFields("h"), hashFields("h", db1)]).toEqual([{}, { f: "v" }]);
    state.keyspace.versions.begin(-1, 8, 0);
    db2.setString(utf8("y"), utf8("2"), null);
    state.keyspace.versions.begin(-1, 9, 0);
    // Only y's partition: x (database 0, another partition) stays.
    expect(ks.partOf(utf8("x"))).not.toBe(ks.partOf(utf8("y")));
    ks.swapDatabase(2, ks.partOf(utf8("y")));
    expect([keysOf(ks), keysOf(db2)]).toEqual([["x", "y"], []]);
    // x's partition took no part in the swap at 9 (in a cluster its own partition's swap, an op of
    // its own group with an index of that group, marks it): x still counts from the whole swap at 7.
    expect([db1.version(utf8("h")), ks.version(utf8("y")), db2.version(utf8("y")), ks.version(utf8("x"))]).toEqual([
      7, 9, 8, 7,
    ]);
  });
});

describe("StateDb", () => {
  test("applyBatch rolls back exactly the op that threw and records the applied index", () => {
    const throwsAfterWrite = op(0, ["x"]);
    const replies = state.applyBatch(7, 41, [op(0, ["a"]), throwsAfterWrite, op(0, ["b"])], (o, k) => {
      const name = str(o.cmds[0][0])!;
      k.setString(utf8(name), utf8("written"), null);
      if (name === "x") throw new Error("no space for x");
      return int(1);
    });
    expect(replies).toEqual([int(1), err("ERR apply failed at log index 42: no space for x"), int(1)]);
    expect(ks.getString(utf8("x"), 0)).toBeUndefined();
    expect(str(ks.getString(utf8("a"), 0))).toBe("written");
    expect(str(ks.getString(utf8("b"), 0))).toBe("written");
    expect(state.appliedIndex(7)).toBe(43);
    expect(state.appliedIndex(8)).toBe(0);
  });

  test("refuses to reopen data.db with another partition_count", () => {
    const path = freshPath();
    StateDb.open({ path, partitionCount: 16 }).close();
    expect(() => StateDb.open({ path, partitionCount: 256 })).toThrow(/partition_count = 16.*partition_count = 256/);
    StateDb.open({ path, partitionCount: 16 }).close();
  });

  test("rejects collection table names that are not plain identifiers", () => {
    const bad: CollectionTable = { ...FIELDS, name: "x; DROP TABLE keys" };
    expect(() => StateDb.open({ path: freshPath(), partitionCount: 256, collections: [bad] })).toThrow(
      /not a plain SQL identifier/,
    );
  });
});

describe("string forms (OBJECT ENCODING's raw)", () => {
  test("a form is replaced by the next write and follows COPY and RENAME", () => {
    ks.setString(utf8("a"), utf8("12"), null, "raw");
    expect(ks.stringForm(utf8("a"), 0)).toBe("raw");
    ks.copy(utf8("a"), utf8("b"), 0);
    ks.rename(utf8("a"), utf8("c"), 0);
    expect([ks.stringForm(utf8("b"), 0), ks.stringForm(utf8("c"), 0)]).toEqual(["raw", "raw"]);
    ks.updateString(utf8("b"), utf8("13"), 0, "plain");
    ks.setString(utf8("c"), utf8("14"), null);
    expect([ks.stringForm(utf8("b"), 0), ks.stringForm(utf8("c"), 0)]).toEqual(["plain", "encoded"]);
    expect(ks.stringForm(utf8("absent"), 0)).toBe("encoded");
  });

  test("a partition snapshot carries the form; one taken before forms existed imports as encoded", () => {
    const k = utf8("snap");
    const part = ks.partOf(k);
    ks.setString(k, utf8("1"), null, "raw");
    const blob = exportPartition(state, part, 1, [FIELDS]);
    ks.setString(k, utf8("1"), null);
    importPartition(state, part, blob, 1, 5, [FIELDS]);
    expect(ks.stringForm(k, 0)).toBe("raw");
    const old = new Packr({ useRecords: false, moreTypes: false }).pack({ keys: [[k, "string", utf8("2"), null]] });
    importPartition(state, part, old, 1, 6, [FIELDS]);
    expect([str(ks.getString(k, 0)), ks.stringForm(k, 0)]).toEqual(["2", "encoded"]);
  });

  test("data.db written before the form column gets it on open", () => {
    const path = freshPath();
    const old = new Database(path, { create: true });
    old.run(`CREATE TABLE keys (id INTEGER PRIMARY KEY, part INTEGER NOT NULL, key BLOB NOT NULL, type TEXT NOT NULL,
      value BLOB, expire_at INTEGER)`);
    old.close();
    const reopened = StateDb.open({ path, partitionCount: 256 });
    reopened.keyspace.setString(utf8("k"), utf8("v"), null, "raw");
    expect(reopened.keyspace.stringForm(utf8("k"), 0)).toBe("raw");
    reopened.close();
  });
});

describe("key counts (DBSIZE without counting rows)", () => {
  /** What count() and partitionStats() must say, counted from the rows. */
  function counted(db: number, now: number, part?: number): { keys: number; expires: number } {
    const [lo, hi] = part === undefined ? [db * DB_STRIDE, (db + 1) * DB_STRIDE] : [part, part + 1];
    return state.db
      .query<{ keys: number; expires: number }, [number, number, number]>(
        `SELECT count(*) AS keys, count(expire_at) AS expires FROM keys
         WHERE part >= ?1 AND part < ?2 AND (expire_at IS NULL OR expire_at > ?3)`,
      )
      .get(lo, hi, now)!;
  }

  test("the kept counts match the rows through writes, expiries, deletes, FLUSHDB, SWAPDB, MOVE and snapshots", () => {
    const keyArb = fc.constantFrom("a", "b", "c", "{a}d", "e", "f");
    const dbArb = fc.integer({ min: 0, max: 2 });
    const step = fc.oneof(
      fc.record({
        k: fc.constant("set" as const),
        key: keyArb,
        db: dbArb,
        ttl: fc.option(fc.integer({ min: 1, max: 40 })),
      }),
      fc.record({ k: fc.constant("hash" as const), key: keyArb }),
      fc.record({
        k: fc.constant("expire" as const),
        key: keyArb,
        db: dbArb,
        ttl: fc.option(fc.integer({ min: 1, max: 40 })),
      }),
      fc.record({ k: fc.constant("del" as const), key: keyArb, db: dbArb }),
      fc.record({ k: fc.constant("sweep" as const) }),
      fc.record({ k: fc.constant("move" as const), key: keyArb, db: dbArb, to: dbArb }),
      fc.record({ k: fc.constant("rename" as const), key: keyArb, db: dbArb, dst: keyArb }),
      fc.record({ k: fc.constant("copy" as const), key: keyArb, db: dbArb, dst: keyArb, to: dbArb }),
      fc.record({ k: fc.constant("swap" as const), db: dbArb, to: dbArb, one: fc.boolean(), key: keyArb }),
      fc.record({ k: fc.constant("flush" as const), db: dbArb }),
      fc.record({ k: fc.constant("flushall" as const) }),
      fc.record({ k: fc.constant("snapshot" as const), key: keyArb }),
      fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        ks.flushAll();
        let now = 1_000;
        for (const s of steps) {
          const on = "db" in s ? ks.database(s.db)! : ks;
          const key = "key" in s ? utf8(s.key) : utf8("");
          const at = (ttl: number | null) => (ttl === null ? null : now + ttl);
          if (s.k === "set") on.setString(key, utf8("v"), at(s.ttl));
          else if (s.k === "hash") {
            ks.delete(key, now);
            putHash(s.key, { f: "v" });
          } else if (s.k === "expire") on.setExpireAt(key, at(s.ttl));
          else if (s.k === "del") on.delete(key, now);
          else if (s.k === "sweep")
            for (const e of ks.expiredEverywhere(now, 3)) ks.database(e.db)!.deleteIfExpired(e.key, now);
          else if (s.k === "move") on.rename(key, key, now, s.to);
          else if (s.k === "rename") on.rename(key, utf8(s.dst), now);
          else if (s.k === "copy") on.copy(key, utf8(s.dst), now, s.to);
          else if (s.k === "swap") on.swapDatabase(s.to, s.one ? ks.partOf(key) : undefined);
          else if (s.k === "flush") on.flush();
          else if (s.k === "flushall") ks.flushAll();
          else if (s.k === "snapshot") {
            const part = ks.partOf(key);
            importPartition(state, part, exportPartition(state, part, 1, [FIELDS]), 1, 1, [FIELDS]);
          } else now += s.ms;
          for (let db = 0; db < 3; db++) {
            const view = ks.database(db)!;
            const want = counted(db, now);
            expect([view.count(now), view.countWithExpiry(now)]).toEqual([want.keys, want.expires]);
            const part = ks.partOf(utf8("a"));
            expect(view.partitionStats(part, now)).toEqual(counted(db, now, db * DB_STRIDE + part));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  test("a data.db from before the counts (and before enc) gets them counted on open", () => {
    const path = freshPath();
    const old = new Database(path, { create: true, strict: true });
    old.run(`CREATE TABLE keys (id INTEGER PRIMARY KEY, part INTEGER NOT NULL, key BLOB NOT NULL, type TEXT NOT NULL,
      value BLOB, expire_at INTEGER)`);
    old.run("CREATE UNIQUE INDEX keys_by_part_key ON keys (part, key)");
    old.run("CREATE INDEX keys_by_expiry ON keys (expire_at) WHERE expire_at IS NOT NULL");
    const row = old.prepare("INSERT INTO keys (part, key, type, value, expire_at) VALUES (?, ?, ?, ?, ?)");
    const part = (k: string) => ks.partOf(utf8(k));
    row.run(part("s"), utf8("s"), "string", utf8("v"), null);
    row.run(part("h"), utf8("h"), "hash", 8, null);
    row.run(part("gone"), utf8("gone"), "string", utf8("x"), 500);
    row.run(DB_STRIDE + part("d1"), utf8("d1"), "string", utf8("y"), 5_000);
    old.close();
    const db = StateDb.open({ path, partitionCount: 256, collections: [FIELDS] });
    const k = db.keyspace;
    expect([k.count(1_000), k.database(1)!.count(1_000), k.database(1)!.countWithExpiry(1_000)]).toEqual([2, 1, 1]);
    expect(k.database(1)!.count(6_000)).toBe(0);
    k.setString(utf8("new"), utf8("1"), null);
    k.delete(utf8("s"), 1_000);
    expect(k.count(1_000)).toBe(2);
    db.close();
    // Counted once: a reopen keeps the kept counts rather than counting again.
    const again = StateDb.open({ path, partitionCount: 256, collections: [FIELDS] });
    again.db.run("UPDATE shard_keys SET n = n + 100 WHERE part = ?", [part("new")]);
    again.close();
    const third = StateDb.open({ path, partitionCount: 256, collections: [FIELDS] });
    expect(third.keyspace.count(1_000)).toBe(102);
    third.close();
  });
});
