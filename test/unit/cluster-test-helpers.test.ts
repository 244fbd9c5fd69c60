// The cluster test helpers' pure parts. checkHistory must catch what the cluster fault tests look for: a lost acknowledged write, a
// write applied twice, a stale read; and must accept unknown outcomes either way.
import { describe, expect, test } from "bun:test";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import {
  keysInDistinctPartitions,
  parseClusterSlots,
  parseRedisCliJson,
  slotCoverageProblems,
} from "../helpers/cluster-harness.ts";
import { type OpRecord, writeErrorStatus } from "../helpers/workload-client.ts";
import { checkHistory, describeFailures, type FinalRead } from "../helpers/workload.ts";

const op = (o: Partial<OpRecord> & Pick<OpRecord, "key" | "op" | "call">): OpRecord => ({
  client: 0,
  model: o.key.startsWith("c") ? "counter" : "register",
  ret: o.status === undefined || o.status === "ok" ? o.call + 1 : null,
  status: "ok",
  target: "10.0.0.1:6380",
  ...o,
});
const final = (key: string, value: string | null, at = 1_000): FinalRead => ({ key, value, call: at, ret: at + 1 });

describe("checkHistory", () => {
  test("a register history with the last acknowledged value at the end passes", () => {
    const records = [
      op({ key: "r", op: "set", value: "a", out: "OK", call: 10 }),
      op({ key: "r", op: "get", out: "a", call: 20 }),
      op({ key: "r", op: "set", value: "b", out: "OK", call: 30 }),
    ];
    expect(describeFailures(checkHistory(records, [final("r", "b")]))).toEqual([]);
  });

  test("an acknowledged SET missing at the end fails, both by the checker and the direct check", () => {
    const records = [op({ key: "r", op: "set", value: "a", out: "OK", call: 10 })];
    const [c] = checkHistory(records, [final("r", null)]);
    expect(c!.linearizable).toBe(false);
    expect(c!.problems.join()).toContain("final read null after 1 acknowledged SETs");
  });

  test("a stale read after an acknowledged overwrite fails", () => {
    const records = [
      op({ key: "r", op: "set", value: "a", out: "OK", call: 10 }),
      op({ key: "r", op: "set", value: "b", out: "OK", call: 20 }),
      op({ key: "r", op: "get", out: "a", call: 30, client: 1 }),
    ];
    expect(checkHistory(records)[0]!.linearizable).toBe(false);
  });

  test("an unknown SET may have been applied or not", () => {
    const base = [
      op({ key: "r", op: "set", value: "a", out: "OK", call: 10 }),
      op({ key: "r", op: "set", value: "b", status: "unknown", error: "timed out", call: 20 }),
    ];
    expect(describeFailures(checkHistory(base, [final("r", "a")]))).toEqual([]);
    expect(describeFailures(checkHistory(base, [final("r", "b")]))).toEqual([]);
    expect(checkHistory(base, [final("r", "zzz")])[0]!.problems.join()).toContain("never written");
  });

  test("counters: lost INCRs and INCRs applied twice are reported, unknown ones are allowed", () => {
    const records = [
      op({ key: "c", op: "incr", out: 1, call: 10 }),
      op({ key: "c", op: "incr", status: "unknown", error: "connection closed", call: 20 }),
      op({ key: "c", op: "incr", out: 2, call: 30, client: 1 }),
    ];
    expect(describeFailures(checkHistory(records, [final("c", "2")]))).toEqual([]);
    expect(describeFailures(checkHistory(records, [final("c", "3")]))).toEqual([]);
    const lost = checkHistory(records, [final("c", "1")])[0]!;
    expect(lost.linearizable).toBe(false);
    expect(lost.problems.join()).toContain("lost writes");
    const doubled = checkHistory(records, [final("c", "4")])[0]!;
    expect(doubled.linearizable).toBe(false);
    expect(doubled.problems.join()).toContain("applied twice");
  });

  test("a write refused with a code clients resend on was not applied: finding it applied fails", () => {
    // -TRYAGAIN/-CLUSTERDOWN promise the write was not applied (ioredis, go-redis and redis-py
    // resend them); -UNKNOWN promises nothing (src/cluster/core/write-outcome.ts).
    expect(writeErrorStatus("CLUSTERDOWN partition 3 has no reachable leader within 5000 ms")).toBe("fail");
    expect(writeErrorStatus("TRYAGAIN the write was dropped by a leader change and not applied; retry")).toBe("fail");
    expect(writeErrorStatus("UNKNOWN no answer …; the write may or may not have been applied")).toBe("unknown");
    expect(writeErrorStatus("ERR connection closed")).toBe("unknown");
    const refused = (status: "fail" | "unknown") => [
      op({ key: "r", op: "set", value: "a", out: "OK", call: 10 }),
      op({ key: "r", op: "set", value: "b", status, error: "CLUSTERDOWN …", call: 20 }),
    ];
    expect(describeFailures(checkHistory(refused("fail"), [final("r", "a")]))).toEqual([]);
    expect(checkHistory(refused("fail"), [final("r", "b")])[0]!.problems.join()).toContain("never written");
    expect(describeFailures(checkHistory(refused("unknown"), [final("r", "b")]))).toEqual([]);
    const counter = [
      op({ key: "c", op: "incr", out: 1, call: 10 }),
      op({ key: "c", op: "incr", status: "fail", error: "TRYAGAIN …", call: 20 }),
    ];
    expect(checkHistory(counter, [final("c", "2")])[0]!.problems.join()).toContain("applied twice");
  });

  test("failed reads are ignored; a failed read's value would not be checked", () => {
    const records = [
      op({ key: "r", op: "set", value: "a", out: "OK", call: 10 }),
      op({ key: "r", op: "get", status: "fail", error: "timed out", call: 20 }),
    ];
    const [c] = checkHistory(records, [final("r", "a")]);
    expect(c!.ops).toBe(1);
    expect(c!.linearizable).toBe(true);
  });
});

describe("cluster harness parsers", () => {
  test("redis-cli --json output: values, nil, nested arrays and error replies", () => {
    expect(parseRedisCliJson('"OK"\n')).toBe("OK");
    expect(parseRedisCliJson("null\n")).toBeNull();
    expect(parseRedisCliJson("12182\n")).toBe(12182);
    expect(parseRedisCliJson('[[0,5460,["10.0.0.1",6380,"n1"]]]\n')).toEqual([[0, 5460, ["10.0.0.1", 6380, "n1"]]]);
    expect(parseRedisCliJson('error:"TRYAGAIN no leader for partition 3"\n')).toEqual({
      error: "TRYAGAIN no leader for partition 3",
    });
  });

  test("CLUSTER SLOTS ranges are parsed, sorted, and checked for gaps and overlaps", () => {
    const ranges = parseClusterSlots([
      [8192, 16383, ["10.0.0.2", 6380, "n2"], ["10.0.0.1", 6380, "n1"]],
      [0, 8191, ["10.0.0.1", 6380, "n1"]],
    ]);
    expect(ranges).toEqual([
      { start: 0, end: 8191, master: "10.0.0.1:6380", replicas: [] },
      { start: 8192, end: 16383, master: "10.0.0.2:6380", replicas: ["10.0.0.1:6380"] },
    ]);
    expect(slotCoverageProblems(ranges)).toEqual([]);
    expect(
      slotCoverageProblems([
        { start: 0, end: 100, master: "a", replicas: [] },
        { start: 200, end: 16383, master: "a", replicas: [] },
      ]),
    ).toEqual(["slots 101-199 uncovered"]);
    expect(
      slotCoverageProblems([
        { start: 0, end: 9000, master: "a", replicas: [] },
        { start: 8000, end: 16383, master: "a", replicas: [] },
      ]),
    ).toEqual(["slots 8000-9000 covered twice"]);
    expect(slotCoverageProblems([{ start: 0, end: 100, master: "a", replicas: [] }])).toEqual([
      "slots 101-16383 uncovered",
    ]);
    expect(() => parseClusterSlots({ error: "ERR unknown command" })).toThrow();
  });

  test("keysInDistinctPartitions spreads keys over different partitions", () => {
    const keys = keysInDistinctPartitions(16, 16, "k");
    const partitions = keys.map((k) => partitionOf(keySlot(new TextEncoder().encode(k)), 16));
    expect(new Set(partitions).size).toBe(16);
    expect(() => keysInDistinctPartitions(17, 16, "k")).toThrow();
  });
});
