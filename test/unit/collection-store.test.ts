// The collection rows of SqliteKeyspace through the real command layer and real SQLite, where the
// expiry sweep cannot hide anything: expired rows are replaced (never revived) by the next write,
// empty collections disappear, and WATCH versions move exactly when a key is written.
import { expect, test } from "bun:test";
import { applyOp } from "../../src/commands/apply.ts";
import type { Reply } from "../../src/resp/reply.ts";
import { Versions } from "../../src/store/collection-rows.ts";
import { StateDb } from "../../src/store/state.ts";
import { useCommandStore } from "../helpers/command-store.ts";

const store = useCommandStore("flydb-collections-");
const { at } = store;
const enc = new TextEncoder();
const dec = new TextDecoder();

const texts = (r: Reply) =>
  r.t === "array" || r.t === "set" ? r.v.map((x) => (x.t === "bulk" ? dec.decode(x.v as Uint8Array) : x.t)) : r;
const rowCount = (table: string) =>
  (store.state.db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

test("a write to an expired collection starts from empty, for every type and across types", () => {
  at(1, "RPUSH", "l", "a", "b");
  at(1, "HSET", "h", "f", "1");
  at(1, "SADD", "s", "a", "b");
  at(1, "ZADD", "z", "1", "a");
  for (const k of ["l", "h", "s", "z"]) at(1, "PEXPIRE", k, "10");
  // now = 100: all four are expired, their rows are still in data.db (no sweep ran).
  expect(rowCount("list_items")).toBe(2);
  expect(at(100, "RPUSH", "l", "c")).toEqual({ t: "int", v: 1 });
  expect(texts(at(100, "LRANGE", "l", "0", "-1"))).toEqual(["c"]);
  expect(at(100, "HSET", "h", "g", "2")).toEqual({ t: "int", v: 1 });
  expect(at(100, "HLEN", "h")).toEqual({ t: "int", v: 1 });
  expect(at(100, "SADD", "s", "c")).toEqual({ t: "int", v: 1 });
  expect(texts(at(100, "SMEMBERS", "s"))).toEqual(["c"]);
  expect(at(100, "ZADD", "z", "2", "b")).toEqual({ t: "int", v: 1 });
  expect(at(100, "ZCARD", "z")).toEqual({ t: "int", v: 1 });
  expect(at(100, "TTL", "z")).toEqual({ t: "int", v: -1 });
  // An expired list key written as a set: the list rows go too.
  at(100, "PEXPIRE", "l", "10");
  expect(at(200, "SADD", "l", "m")).toEqual({ t: "int", v: 1 });
  expect(rowCount("list_items")).toBe(0);
  expect(at(200, "TYPE", "l")).toEqual({ t: "simple", v: "set" });
});

test("the last element removed removes the key and every row", () => {
  at(1, "RPUSH", "l", "a");
  at(1, "HSET", "h", "f", "1");
  at(1, "SADD", "s", "a");
  at(1, "ZADD", "z", "1", "a");
  at(1, "LPOP", "l");
  at(1, "HDEL", "h", "f");
  at(1, "SPOP", "s");
  at(1, "ZPOPMIN", "z");
  expect(at(1, "DBSIZE")).toEqual({ t: "int", v: 0 });
  for (const t of ["list_items", "hash_fields", "set_members", "zset_members", "zset_chunks"])
    expect([t, rowCount(t)]).toEqual([t, 0]);
});

test("WATCH versions: the log index of the last write; no-op writes and reads leave them alone", () => {
  const ks = store.state.keyspace;
  const v = (k: string) => ks.version(enc.encode(k));
  at(1, "SADD", "s", "a");
  const afterAdd = v("s");
  expect(afterAdd).toBe(store.lastIndex);
  at(1, "SADD", "s", "a");
  at(1, "SREM", "s", "zz");
  at(1, "SMEMBERS", "s");
  at(1, "ZREM", "s", "a");
  expect(v("s")).toBe(afterAdd);
  at(1, "SADD", "s", "b");
  expect(v("s")).toBe(store.lastIndex);
  at(1, "RENAME", "s", "t");
  expect([v("s"), v("t")]).toEqual([store.lastIndex, store.lastIndex]);
  at(1, "COPY", "t", "u");
  expect(v("u")).toBe(store.lastIndex);
  at(1, "EXPIRE", "u", "100");
  expect(v("u")).toBe(store.lastIndex);
});

test("replicas decide an EXEC's WATCH alike, also one that reopened its data.db before the WATCH", () => {
  const paths = [store.tempPath("rep-a"), store.tempPath("rep-b")];
  let [a, b] = paths.map((path) => StateDb.open({ path, partitionCount: 16 })) as [StateDb, StateDb];
  let idx = 1;
  const both = (op: Omit<Parameters<typeof applyOp>[0], "now" | "seed">): [Reply, Reply] => {
    const full = { now: 1, seed: 1, ...op };
    const i = idx++;
    return [a.applyBatch(-1, i, [full], applyOp)[0]!, b.applyBatch(-1, i, [full], applyOp)[0]!];
  };
  const cmd = (...argv: string[]) => ({ cmds: [argv.map((x) => enc.encode(x))] });
  try {
    both(cmd("SET", "k", "1"));
    for (let i = 0; i < 4; i++) both(cmd("SET", `other${i}`, "x"));
    // b restarts: it no longer remembers which op wrote k.
    b.close();
    b = StateDb.open({ path: paths[1]!, partitionCount: 16 });
    both(cmd("SET", "x", "1"));
    const k = enc.encode("k");
    const watch = [{ key: k, version: a.keyspace.watchPoint(k), existed: true }];
    const [ra, rb] = both({ ...cmd("INCR", "k"), multi: true, watch });
    expect(ra).toEqual({ t: "array", v: [{ t: "int", v: 2 }] });
    expect(rb).toEqual(ra);
    // A write after the WATCH breaks it on both.
    const watch2 = [{ key: k, version: b.keyspace.watchPoint(k), existed: true }];
    both(cmd("SET", "k", "5"));
    const [sa, sb] = both({ ...cmd("INCR", "k"), multi: true, watch: watch2 });
    expect(sa).toEqual({ t: "nullarray" });
    expect(sb).toEqual(sa);
  } finally {
    a.close();
    b.close();
  }
});

test("a snapshot install raises the versions of its partition to the snapshot's index", () => {
  const v = new Versions((key) => key[0]! % 2);
  v.reset(new Map([[-1, 3]]), () => [-1]);
  v.begin(-1, 5, 0);
  v.touch(enc.encode("a"), 0); // partition 1 ('a' = 97)
  v.touch(enc.encode("b"), 0); // partition 0
  const of = (k: string, db = 0) => v.of(enc.encode(k), db);
  expect([of("a"), of("b"), of("c"), of("b", 3)]).toEqual([5, 5, 3, 3]);
  v.installed(1, -1, 20);
  expect([of("a"), of("b"), of("c")]).toEqual([20, 5, 20]);
  expect(v.watchPoint(enc.encode("b"))).toBe(20);
});
