// The pure parts of cluster keyless commands and graceful leave: the SCAN cursor, partition-scoped
// keyspace reads on a real data.db, the fan-out over a real single-node state machine, the drain
// metadata op and the group view the leave waits on.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshestGroups, groupsVotedBy, type GroupReport } from "../../src/cluster/core/group-view.ts";
import { applyMeta, EMPTY_META, metaVoters, placeableMembers, type MetaState } from "../../src/cluster/core/meta.ts";
import { decodeCursor, encodeCursor, groupBytes, nextCursor } from "../../src/cluster/core/scan-cursor.ts";
import { fanOut, keylessRead, keylessWrite, type PartitionRunner } from "../../src/cluster/fanout.ts";
import { RaftStats } from "../../src/cluster/raft-stats.ts";
import { applyOp } from "../../src/commands/apply.ts";
import { COMMANDS } from "../../src/commands/table.ts";
import type { Op } from "../../src/commands/types.ts";
import { err, OK, type Reply } from "../../src/resp/reply.ts";
import { StateDb } from "../../src/store/state.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);
const root = mkdtempSync(join(tmpdir(), "flydb-fanout-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

describe("cluster SCAN cursor", () => {
  test("round-trips partition and prefix for every partition count", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 14 }), fc.nat(), fc.uint8Array({ maxLength: 8 }), (bits, pRaw, raw) => {
        const count = 2 ** bits;
        const n = groupBytes(count);
        const from = new Uint8Array(n);
        from.set(raw.subarray(0, n));
        const partition = pRaw % count;
        const text = encodeCursor({ partition, from }, count);
        expect(BigInt(text) < 2n ** 64n).toBe(true);
        expect(decodeCursor(text, count)).toEqual({ partition, from });
      }),
    );
  });

  test("prefix bytes are what fits beside the partition bits", () => {
    expect(groupBytes(1)).toBe(8);
    expect(groupBytes(16)).toBe(7);
    expect(groupBytes(256)).toBe(7);
    expect(groupBytes(16384)).toBe(6);
  });

  test("refuses what it could not have returned", () => {
    for (const bad of ["", "-1", "1.5", "abc", "18446744073709551616", " 1"])
      expect(decodeCursor(bad, 16)).toBeUndefined();
    // 16384 partitions leave 50 bits, of which 48 carry a prefix: a higher bit is not a cursor.
    expect(decodeCursor(String(1n << 63n), 16384)).toBeUndefined();
    expect(decodeCursor("0", 16)).toEqual({ partition: 0, from: new Uint8Array(7) });
  });

  test("moves to the next partition, and ends with 0 after the last", () => {
    expect(decodeCursor(nextCursor(3, undefined, 16), 16)).toEqual({ partition: 4, from: new Uint8Array(7) });
    expect(nextCursor(15, undefined, 16)).toBe("0");
    const resume = new Uint8Array([0, 0, 0, 0, 0, 0, 1]);
    expect(decodeCursor(nextCursor(0, resume, 16), 16)).toEqual({ partition: 0, from: resume });
    expect(nextCursor(0, resume, 16)).not.toBe("0");
  });
});

describe("partition-scoped keyspace", () => {
  let state: StateDb;
  beforeEach(() => {
    state = StateDb.open({ path: join(root, `p-${files++}.db`), partitionCount: 16 });
  });
  afterEach(() => state.close());
  const put = (key: Uint8Array | string, expireAt: number | null = null) =>
    state.keyspace.setString(typeof key === "string" ? b(key) : key, b("v"), expireAt);
  const partOf = (k: string) => state.keyspace.partOf(b(k));

  /** Every key of a partition by repeated scanPartition calls. */
  function walk(part: number, count: number, group: number): { keys: string[]; batches: number } {
    const keys: string[] = [];
    let from: Uint8Array | undefined = new Uint8Array(group);
    let batches = 0;
    while (from && batches < 10_000) {
      const r = state.keyspace.scanPartition(part, from, count, 1000, group);
      keys.push(...r.keys.map((k) => Buffer.from(k).toString("hex")));
      from = r.next;
      batches++;
    }
    return { keys, batches };
  }

  test("a batch never splits keys sharing a prefix, so a fixed-size cursor cannot loop", () => {
    // {t} keeps every key in one partition; all share their first 3 bytes "{t}".
    for (let i = 0; i < 20; i++) put(`{t}${i}`);
    const part = partOf("{t}0");
    const first = state.keyspace.scanPartition(part, new Uint8Array(3), 2, 1000, 3);
    expect(first.keys.length).toBe(20);
    expect(first.next).toBeUndefined();
    const wide = walk(part, 2, 5);
    expect(wide.keys.length).toBe(20);
    expect(new Set(wide.keys).size).toBe(20);
    expect(wide.batches).toBeGreaterThan(2);
  });

  test("any keys, binary ones with zero bytes included, are walked exactly once", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ maxLength: 6 }), {
          selector: (k) => Buffer.from(k).toString("hex"),
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3 }),
        (keys, count, group) => {
          state.keyspace.flush();
          for (const k of keys) put(k);
          const got: string[] = [];
          for (let p = 0; p < 16; p++) got.push(...walk(p, count, group).keys);
          expect(got.sort()).toEqual(keys.map((k) => Buffer.from(k).toString("hex")).sort());
        },
      ),
      { numRuns: 60 },
    );
  });

  test("counts, filters, random picks and flushes one partition only", () => {
    put("{a}1");
    put("{a}2", 5000);
    put("{a}gone", 10);
    put("{b}1");
    const pa = partOf("{a}1");
    const pb = partOf("{b}1");
    expect(pa).not.toBe(pb);
    expect(state.keyspace.partitionStats(pa, 100)).toEqual({ keys: 2, expires: 1 });
    expect(
      state.keyspace
        .scanPartition(pa, new Uint8Array(7), 10, 100, 7)
        .keys.map((k) => dec.decode(k))
        .sort(),
    ).toEqual(["{a}1", "{a}2"]);
    expect(state.keyspace.scanPartition(pa, new Uint8Array(7), 10, 100, 7, "hash").keys).toEqual([]);
    for (const r of [0, 0.5, 0.999])
      expect(["{a}1", "{a}2"]).toContain(dec.decode(state.keyspace.randomKeyInPartition(pa, 100, r)!));
    state.keyspace.flushPartition(pa);
    expect(state.keyspace.partitionStats(pa, 100).keys).toBe(0);
    expect(state.keyspace.randomKeyInPartition(pa, 100, 0.5)).toBeUndefined();
    expect(state.keyspace.count(100)).toBe(1);
  });
});

describe("fan-out over every partition", () => {
  let state: StateDb;
  let idx = 0;
  /** A real single-node "cluster": every partition's leader is this StateDb. */
  const local = (fail?: (p: number) => Reply | undefined): PartitionRunner => ({
    partitionCount: 16,
    read: async (p, argv) =>
      fail?.(p) ??
      COMMANDS.get(dec.decode(argv[0]!))!.run!({ db: state.keyspace, now: 1000, random: Math.random }, argv),
    write: async (p, op: Op) => fail?.(p) ?? state.applyBatch(p + 1, ++idx, [op], applyOp)[0]!,
  });
  const spec = (name: string) => COMMANDS.get(name)!;
  const argv = (...a: string[]) => a.map(b);
  beforeEach(() => {
    state = StateDb.open({ path: join(root, `f-${files++}.db`), partitionCount: 16 });
    for (let i = 0; i < 50; i++) state.keyspace.setString(b(`k${i}`), b("v"), null);
  });
  afterEach(() => state.close());

  test("SCAN with a small COUNT returns every key once; DBSIZE and KEYS agree", async () => {
    const run = local();
    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const r = (await keylessRead(run, spec("scan"), argv("scan", cursor, "COUNT", "3"), Math.random)!) as unknown as {
        t: "array";
        v: [{ v: string }, { v: { v: Uint8Array }[] }];
      };
      cursor = String(r.v[0].v);
      seen.push(...r.v[1].v.map((x) => dec.decode(x.v)));
      calls++;
    } while (cursor !== "0" && calls < 500);
    expect(seen.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `k${i}`).sort());
    expect(await keylessRead(run, spec("dbsize"), argv("dbsize"), Math.random)).toEqual({ t: "int", v: 50 });
    const keys = (await keylessRead(run, spec("keys"), argv("keys", "k1*"), Math.random)!) as unknown as {
      v: unknown[];
    };
    expect(keys.v.length).toBe(11);
  });

  test("FLUSHALL runs one op per partition; other commands are not fanned out", async () => {
    const op = (...a: string[]): Op => ({ cmds: [argv(...a)], now: 1000, seed: 1 });
    expect(await keylessWrite(local(), op("flushall", "bogus"))).toEqual(err("ERR syntax error"));
    expect(await keylessWrite(local(), op("flushall", "async"))).toEqual({ t: "simple", v: "OK" });
    expect(state.keyspace.count(1000)).toBe(0);
    expect(keylessWrite(local(), op("set", "a", "b"))).toBeUndefined();
    expect(keylessRead(local(), spec("get"), argv("get", "a"), Math.random)).toBeUndefined();
  });

  test("one partition failing fails the whole command, keeping its error code", async () => {
    const run = local((p) =>
      p === 5 ? err("CLUSTERDOWN partition 5 has no reachable leader within 5000 ms") : undefined,
    );
    expect(await keylessRead(run, spec("dbsize"), argv("dbsize"), Math.random)).toEqual(
      err("CLUSTERDOWN DBSIZE needs every partition: partition 5 has no reachable leader within 5000 ms"),
    );
    const thrown = local((p) => {
      if (p === 2) throw new Error("transport is closed");
      return undefined;
    });
    expect(await keylessRead(thrown, spec("randomkey"), argv("randomkey"), Math.random)).toEqual(
      err("TRYAGAIN RANDOMKEY needs every partition: partition 2: transport is closed"),
    );
  });

  test("the same error from every partition is the command's own answer, passed on unchanged", async () => {
    const same = await fanOut("FUNCTION", [0, 1, 2], () => Promise.resolve(err("ERR Library name was not given")));
    expect(same).toEqual({ failed: err("ERR Library name was not given") });
    const one = await fanOut("FUNCTION", [0, 1], (p) => Promise.resolve(p === 1 ? err("ERR boom") : OK));
    expect(one).toEqual({ failed: err("ERR FUNCTION needs every partition: boom") });
  });

  test("a partition that never answers ends the command at the deadline, naming it", async () => {
    const r = await fanOut(
      "KEYS",
      [0, 1, 2],
      (p) => (p === 1 ? new Promise<Reply>(() => {}) : Promise.resolve({ t: "int", v: 1 })),
      { timeoutMs: 50 },
    );
    expect(r).toEqual({
      failed: err("CLUSTERDOWN KEYS needs every partition: no answer within 50 ms from partition(s) 1"),
    });
  });

  test("a FLUSHALL some partition may have applied answers -UNKNOWN, never a code clients resend", async () => {
    const op: Op = { cmds: [argv("flushall")], now: 1000, seed: 1 };
    const down = err("CLUSTERDOWN partition 5 has no reachable leader within 5000 ms");
    // Applied in 15 partitions, refused in one: a resend would flush what was written since.
    const partly = await keylessWrite(
      local((p) => (p === 5 ? down : undefined)),
      op,
    );
    expect(partly).toEqual(
      err(
        "UNKNOWN FLUSHALL was applied in 15 of its 16 partitions, not in another (CLUSTERDOWN FLUSHALL needs " +
          "every partition: partition 5 has no reachable leader within 5000 ms); do not send it again as it is",
      ),
    );
    // Refused everywhere: nothing applied, the code clients resend on is kept.
    const downAt = (p: number) => err(`CLUSTERDOWN partition ${p} has no reachable leader within 5000 ms`);
    expect(await keylessWrite(local(downAt), op)).toEqual(
      err("CLUSTERDOWN FLUSHALL needs every partition: partition 0 has no reachable leader within 5000 ms"),
    );
    const unknown = err("UNKNOWN no answer from the leader of partition 2; the write may or may not have been applied");
    expect(
      await keylessWrite(
        local((p) => (p === 2 ? unknown : p === 3 ? down : undefined)),
        op,
      ),
    ).toEqual(
      err(
        "UNKNOWN FLUSHALL needs every partition: no answer from the leader of partition 2; " +
          "the write may or may not have been applied",
      ),
    );
    const thrown = await fanOut("FLUSHALL", [0, 1], () => Promise.reject(new Error("transport is closed")), {
      write: true,
    });
    expect(thrown).toEqual({
      failed: err(
        "UNKNOWN FLUSHALL needs every partition: partition 0: transport is closed; the write may or may not have been applied",
      ),
    });
    const silent = await fanOut(
      "FLUSHALL",
      [0, 1],
      (p) => (p === 1 ? new Promise<Reply>(() => {}) : Promise.resolve(err("ERR x"))),
      {
        write: true,
        timeoutMs: 50,
      },
    );
    expect(silent).toEqual({
      failed: err(
        "UNKNOWN FLUSHALL needs every partition: no answer within 50 ms from partition(s) 1; " +
          "the write may or may not have been applied",
      ),
    });
  });
});

describe("draining members (metadata)", () => {
  const member = (id: string) => ({ id, zone: "", addrs: { resp: "", http: "", raft: "", gossip: "" }, version: "0" });
  const base: MetaState = ["a", "b", "c"].reduce(
    (s, id) => applyMeta(s, { t: "member", member: member(id) }).state,
    EMPTY_META,
  );

  test("a draining member gets no replicas and no vote in group 0", () => {
    const { state, result } = applyMeta(base, { t: "drain", id: "b", draining: true });
    expect(result).toEqual({ ok: true });
    expect(state.draining).toEqual(["b"]);
    expect(placeableMembers(state).map((m) => m.id)).toEqual(["a", "c"]);
    expect(metaVoters(state, "c", 5)).toEqual(["c", "a"]);
    expect(metaVoters(state, "b", 5)).toEqual(["a", "c"]);
    expect(applyMeta(state, { t: "drain", id: "b", draining: false }).state.draining).toEqual([]);
  });

  test("the last member not leaving cannot drain, and unknown members are refused", () => {
    let s = applyMeta(base, { t: "drain", id: "a", draining: true }).state;
    s = applyMeta(s, { t: "drain", id: "b", draining: true }).state;
    expect(applyMeta(s, { t: "drain", id: "c", draining: true }).result).toEqual({
      ok: false,
      error: "c is the last member not leaving; add a node before draining it",
    });
    expect(applyMeta(base, { t: "drain", id: "z", draining: true }).result).toEqual({
      ok: false,
      error: "no member z",
    });
  });

  test("removing a member forgets that it was draining; old states without the field read as none", () => {
    const s = applyMeta(applyMeta(base, { t: "drain", id: "b", draining: true }).state, { t: "remove", id: "b" }).state;
    expect(s.draining).toEqual([]);
    const { draining: _, ...old } = base;
    expect(placeableMembers(old as MetaState).length).toBe(3);
  });
});

describe("group view for the leave drain", () => {
  const r = (grp: number, from: Partial<GroupReport>): GroupReport => ({
    grp,
    role: "follower",
    leader: "a",
    term: 1,
    voters: ["a", "b", "c"],
    learners: [],
    ...from,
  });

  test("the leader's own report wins in its term; a newer term wins over it", () => {
    const stale = r(1, { voters: ["a", "b", "c"] });
    const leader = r(1, { role: "leader", voters: ["a", "b"] });
    expect(freshestGroups([[stale], [leader]]).get(1)).toBe(leader);
    expect(freshestGroups([[leader], [stale]]).get(1)).toBe(leader);
    const newer = r(1, { term: 2, leader: "b", voters: ["a", "b", "c"] });
    expect(freshestGroups([[leader], [newer]]).get(1)).toBe(newer);
  });

  test("a group counts as voted by a node until a leader's report leaves it out", () => {
    const view = freshestGroups([
      [r(1, { role: "leader", voters: ["a", "b"] }), r(2, { leader: null }), r(3, { role: "leader" })],
    ]);
    expect(groupsVotedBy(view, [0, 1, 2, 3], "c")).toEqual([0, 2, 3]);
  });
});

describe("Raft counters for /metrics", () => {
  test("elections are term changes, leader changes are moves between known leaders", () => {
    const s = new RaftStats();
    const seen: number[] = [];
    s.onCommitLatency((x) => seen.push(x));
    s.leader(1, null, 1); // first sight of a group: nothing to compare with
    s.leader(1, "a", 1);
    s.leader(1, null, 2); // an election started
    s.leader(1, "a", 2); // re-elected: not a change of leader
    s.leader(1, "b", 3);
    s.leader(2, "c", 1);
    expect({ elections: s.elections, leaderChanges: s.leaderChanges }).toEqual({ elections: 2, leaderChanges: 1 });
    s.committed(0.002);
    expect(s.proposals.applied).toBe(1);
    expect(seen).toEqual([0.002]);
  });
});
