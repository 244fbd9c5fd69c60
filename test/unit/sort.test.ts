// SORT's weight parsing (C strtod as Redis uses it) and its cluster rule for BY/GET patterns,
// over a real data.db: standalone every pattern works, clustered only patterns whose keys stay in
// the sorted key's partition.
import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyOp } from "../../src/commands/apply.ts";
import { sortWeight } from "../../src/commands/sort.ts";
import { err, type Reply } from "../../src/resp/reply.ts";
import { StateDb } from "../../src/store/state.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-sort-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const enc = new TextEncoder();
const dec = new TextDecoder();

let files = 0;
const open: StateDb[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function store(clustered: boolean) {
  const state = StateDb.open({ path: join(dir, `data-${files++}.db`), partitionCount: 256, clustered });
  open.push(state);
  let index = 1;
  return (...argv: string[]): Reply =>
    state.applyBatch(-1, index++, [{ cmds: [argv.map((a) => enc.encode(a))], now: 1, seed: 7 }], applyOp)[0]!;
}
const texts = (r: Reply) =>
  r.t === "array" ? r.v.map((x) => (x.t === "bulk" ? dec.decode(x.v as Uint8Array) : x.t)) : r;

test("sort weights follow strtod: spaces, hex, inf and empty are numbers; NaN, junk and out of range are not", () => {
  const w = (s: string) => sortWeight(enc.encode(s));
  expect([w("3"), w("-2.5"), w(" 7"), w("\t1e2"), w(""), w("0x10"), w("0x1p4"), w("-inf"), w("Infinity")]).toEqual([
    3,
    -2.5,
    7,
    100,
    0,
    16,
    16,
    -Infinity,
    Infinity,
  ]);
  for (const bad of ["nan", "1x", "7 ", " ", "1e400", "1e-310", "--1", "0x"]) expect(w(bad)).toBeUndefined();
  expect(w("0e-999")).toBe(0);
});

function seed(run: (...argv: string[]) => Reply, key: string, prefix: string) {
  run("RPUSH", key, "1", "2", "3");
  for (const [e, weight] of [
    ["1", "30"],
    ["2", "10"],
    ["3", "20"],
  ] as const) {
    run("SET", `${prefix}${e}`, weight);
    run("HSET", `${prefix}h${e}`, "f", `v${e}`);
  }
}

test("standalone: BY and GET patterns may name keys in any partition", () => {
  const run = store(false);
  seed(run, "ids", "w_");
  const sorted = ["2", "v2", "3", "v3", "1", "v1"];
  expect(texts(run("SORT", "ids", "BY", "w_*", "GET", "#", "GET", "w_h*->f"))).toEqual(sorted);
});

test("clustered: a pattern whose hash tag keeps its keys in the sorted key's partition works", () => {
  const run = store(true);
  seed(run, "{u1}ids", "{u1}w_");
  expect(texts(run("SORT", "{u1}ids", "BY", "{u1}w_*", "GET", "#", "GET", "{u1}w_h*->f"))).toEqual([
    "2",
    "v2",
    "3",
    "v3",
    "1",
    "v1",
  ]);
  // A key without a tag hashes whole; '{ids}' is the tag of its slot.
  seed(run, "ids", "{ids}w_");
  expect(texts(run("SORT", "ids", "BY", "{ids}w_*", "DESC"))).toEqual(["1", "3", "2"]);
  // BY a constant and GET # or a constant read no other key.
  expect(texts(run("SORT", "ids", "BY", "nosort", "GET", "#", "GET", "const"))).toEqual([
    "1",
    "nullbulk",
    "2",
    "nullbulk",
    "3",
    "nullbulk",
  ]);
});

test("clustered: a pattern that may leave the partition is refused with an error naming the fix", () => {
  const run = store(true);
  seed(run, "ids", "w_");
  const refusal = (option: string, pattern: string) =>
    err(
      `ERR ${option} option of SORT denied in cluster mode: keys formed by pattern '${pattern}' may be in another ` +
        `partition than 'ids'; give the pattern a hash tag before its '*', like '{ids}${pattern}'`,
    );
  expect(run("SORT", "ids", "BY", "w_*")).toEqual(refusal("BY", "w_*"));
  expect(run("SORT", "ids", "GET", "w_*")).toEqual(refusal("GET", "w_*"));
  // The element could inject a '{' before the tag, or the tag itself: not knowable in advance.
  expect(run("SORT", "ids", "BY", "*{ids}")).toEqual(refusal("BY", "*{ids}"));
  expect(run("SORT", "ids", "BY", "{ids*}")).toEqual(refusal("BY", "{ids*}"));
  expect(run("SORT", "ids", "BY", "{}*")).toEqual(refusal("BY", "{}*"));
  // A tag of another partition's slot ("a" and "ids" are not in one of 256 partitions).
  expect(run("SORT", "ids", "STORE", "{ids}out", "GET", "{a}*")).toEqual(refusal("GET", "{a}*"));
  expect(run("EXISTS", "{ids}out")).toEqual({ t: "int", v: 0 });
});
