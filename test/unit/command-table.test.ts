// The command table's cluster declarations (src/commands/cluster-policy.ts) and the pure merges
// derived from them (src/cluster/core/reply-merge.ts): every row says how it runs in a cluster,
// and every response policy it names has a merge.
import { describe, expect, test } from "bun:test";
import { mergeFor, mergeSplit, PLAIN_MERGES, SPECIAL_MERGES } from "../../src/cluster/core/reply-merge.ts";
import { route } from "../../src/cluster/core/route.ts";
import type { PlainResponse, ResponsePolicy } from "../../src/commands/cluster-policy.ts";
import { COMMANDS } from "../../src/commands/table.ts";
import type { CommandSpec } from "../../src/commands/types.ts";
import { array, bulk, err, int, NULL_BULK, OK, type Reply } from "../../src/resp/reply.ts";

const specs = [...COMMANDS.values()];
const data = specs.filter((s) => s.run);
const keyed = (s: CommandSpec) => s.firstKey > 0 || s.keys !== undefined;
const multiKey = (s: CommandSpec) => s.keys !== undefined || s.lastKey !== s.firstKey;
const responseOf = (s: CommandSpec): ResponsePolicy | undefined =>
  s.cluster && "response" in s.cluster ? s.cluster.response : undefined;

describe("key flags", () => {
  test("every row's key flags are Redis 7 key-spec flags: one of RO/RW/OW/RM, then what it does to the data", () => {
    const access = ["access", "update", "insert", "delete", "not_key", "incomplete", "variable_flags"];
    const bad: string[] = [];
    for (const s of data) {
      const given = s.keyFlags;
      if (given === undefined) continue;
      const lists = typeof given === "string" ? [given] : "spec" in given ? [given.spec] : [...given];
      for (const [head, ...rest] of lists.map((l) => l.split(" "))) {
        if (!["RO", "RW", "OW", "RM"].includes(head!) || rest.some((f) => !access.includes(f))) bad.push(s.name);
      }
      if (!keyed(s)) bad.push(`${s.name} has no keys`);
    }
    expect(bad).toEqual([]);
  });
});

describe("every row declares its cluster behaviour", () => {
  test("a keyed data command is single-key or declares how its keys are routed", () => {
    const undeclared = data.filter((s) => keyed(s) && multiKey(s) && s.cluster === undefined).map((s) => s.name);
    expect(undeclared).toEqual([]);
    const wrong = data.filter((s) => keyed(s) && s.cluster && !["one_slot", "multi_shard"].includes(s.cluster.request));
    expect(wrong.map((s) => s.name)).toEqual([]);
    // The tips are there on purpose: DEL is split, RENAME needs both keys in one slot.
    expect(COMMANDS.get("del")!.cluster).toEqual({ request: "multi_shard", response: "agg_sum" });
    expect(COMMANDS.get("rename")!.cluster).toEqual({ request: "one_slot" });
  });

  test("a multi_shard command's keys run to the last argument in fixed steps, as the split walks them", () => {
    const split = data.filter((s) => s.cluster?.request === "multi_shard");
    expect(split.map((s) => s.name).sort()).toEqual(["del", "exists", "mget", "mset", "touch", "unlink"]);
    for (const s of split) expect([s.name, s.lastKey, s.keys, s.step > 0]).toEqual([s.name, -1, undefined, true]);
  });

  test("a keyless data command fans out to every partition, is routed specially, or is explicitly local", () => {
    const keyless = data.filter((s) => !keyed(s));
    const declared = ["all_shards", "special", "local"];
    const undeclared = keyless.filter((s) => !declared.includes(s.cluster?.request ?? "none"));
    expect(undeclared.map((s) => s.name)).toEqual([]);
    // Local keyless data commands are the internal ones a fan-out addresses to a partition's leader.
    const local = keyless.filter((s) => s.cluster?.request === "local");
    expect(local.filter((s) => !s.name.startsWith("__")).map((s) => s.name)).toEqual([]);
    const fanned = keyless.filter((s) => s.cluster?.request === "all_shards").map((s) => s.name);
    expect(fanned.sort()).toEqual(["dbsize", "flushall", "flushdb", "function", "keys", "randomkey", "swapdb"]);
    expect(COMMANDS.get("scan")!.cluster?.request).toBe("special");
  });

  test("connection and server commands run locally, except INFO's cluster-wide keyspace section", () => {
    const session = specs.filter((s) => s.exec);
    expect(session.filter((s) => s.cluster?.request !== "local").map((s) => s.name)).toEqual(["info"]);
  });

  test("a fan-out names an internal command of the table that writes exactly when the command does", () => {
    for (const s of specs) {
      if (s.cluster?.request !== "all_shards" && s.cluster?.request !== "special") continue;
      const via = COMMANDS.get(s.cluster.via);
      expect([s.name, via?.name.startsWith("__"), via?.run !== undefined]).toEqual([s.name, true, true]);
      expect([s.name, via!.flags.includes("write")]).toEqual([s.name, s.flags.includes("write")]);
    }
  });

  test("every response policy a row names has a merge function", () => {
    const named = specs.map(responseOf).filter((r): r is ResponsePolicy => r !== undefined);
    expect(named.length).toBeGreaterThan(8);
    for (const r of named) expect(typeof mergeFor(r)).toBe("function");
    for (const s of specs.filter((x) => x.cluster?.request === "multi_shard")) {
      expect(mergeSplit(s, [{ positions: [0], reply: int(1) }]).t).not.toBe("error");
    }
  });
});

describe("routing derived from the rows", () => {
  const parts = 16;
  const argv = (...a: string[]) => a.map((x) => new TextEncoder().encode(x));
  const partitionOf = (key: string) => {
    const r = route(COMMANDS.get("get")!, argv("get", key), parts);
    return r.kind === "partition" ? r.partition : -1;
  };
  // Two keys in different partitions, found through routing itself.
  const a = "k0";
  const b = ["k1", "k2", "k3", "k4", "k5", "k6", "k7"].find((k) => partitionOf(k) !== partitionOf(a))!;

  test("a multi_shard command is split per partition keeping each key's position; others are refused", () => {
    const r = route(COMMANDS.get("mset")!, argv("mset", a, "1", b, "2", a, "3"), parts);
    expect(r.kind).toBe("split");
    if (r.kind !== "split") return;
    const byPartition = new Map(r.parts.map((p) => [p.partition, p]));
    expect(byPartition.get(partitionOf(a))).toMatchObject({ argv: argv("mset", a, "1", a, "3"), positions: [0, 2] });
    expect(byPartition.get(partitionOf(b))).toMatchObject({ argv: argv("mset", b, "2"), positions: [1] });
    expect(route(COMMANDS.get("rename")!, argv("rename", a, b), parts).kind).toBe("crossslot");
    expect(route(COMMANDS.get("dbsize")!, argv("dbsize"), parts).kind).toBe("keyless");
  });
});

describe("merges", () => {
  const noRandom = () => 0;
  test.each<[PlainResponse, Reply[], Reply]>([
    ["agg_sum", [int(2), int(0), int(3)], int(5)],
    ["all_succeeded", [OK, OK], OK],
    ["one_succeeded", [int(7), int(8)], int(7)],
    ["agg_logical_and", [int(1), int(1)], int(1)],
    ["agg_logical_and", [int(1), int(0)], int(0)],
    ["concat", [array([bulk("a")]), array([]), array([bulk("b")])], array([bulk("a"), bulk("b")])],
  ])("%s over %j", (policy, replies, want) => expect(PLAIN_MERGES[policy](replies, noRandom)).toEqual(want));

  test("DBSIZE adds the key counts of [keys, expires] pairs", () => {
    const replies = [array([int(3), int(1)]), array([int(0), int(0)]), array([int(4), int(2)])];
    expect(SPECIAL_MERGES.key_count(replies, noRandom)).toEqual(int(7));
  });

  test("INFO keyspace adds [db, keys, expires] triples per database, in database order", () => {
    const replies = [
      array([int(0), int(3), int(1), int(9), int(2), int(0)]),
      array([]),
      array([int(9), int(4), int(2)]),
    ];
    expect(SPECIAL_MERGES.keyspace_totals(replies, noRandom)).toEqual(
      array([int(0), int(3), int(1), int(9), int(6), int(2)]),
    );
  });

  test("RANDOMKEY picks an offered key in proportion to its partition's size, nil when all are empty", () => {
    const offers = [array([int(0), NULL_BULK]), array([int(1), bulk("x")]), array([int(3), bulk("y")])];
    const pick = (r: number) => SPECIAL_MERGES.random_key(offers, () => r);
    expect(pick(0)).toEqual(bulk("x"));
    expect(pick(0.24)).toEqual(bulk("x"));
    expect(pick(0.26)).toEqual(bulk("y"));
    expect(pick(0.999)).toEqual(bulk("y"));
    expect(SPECIAL_MERGES.random_key([array([int(0), NULL_BULK])], () => 0.5)).toEqual(NULL_BULK);
  });

  test("a split MGET is reassembled in key order; a failed part is the reply", () => {
    const mget = COMMANDS.get("mget")!;
    const parts = [
      { positions: [0, 2], reply: array([bulk("a"), NULL_BULK]) },
      { positions: [1], reply: array([bulk("b")]) },
    ];
    expect(mergeSplit(mget, parts)).toEqual(array([bulk("a"), bulk("b"), NULL_BULK]));
    const down = err("CLUSTERDOWN partition 3 has no reachable leader");
    expect(mergeSplit(mget, [parts[0]!, { positions: [1], reply: down }])).toEqual(down);
    const del = [
      { positions: [0], reply: int(1) },
      { positions: [1, 2], reply: int(2) },
    ];
    expect(mergeSplit(COMMANDS.get("del")!, del)).toEqual(int(3));
    const mset = [
      { positions: [0], reply: OK },
      { positions: [1], reply: OK },
    ];
    expect(mergeSplit(COMMANDS.get("mset")!, mset)).toEqual(OK);
  });

  test("a split write partly applied answers -UNKNOWN, not the code clients resend on", () => {
    const mset = COMMANDS.get("mset")!;
    const down = err("CLUSTERDOWN partition 3 has no reachable leader within 5000 ms");
    const unknown = err("UNKNOWN no answer from the leader of partition 1; the write may or may not have been applied");
    expect(
      mergeSplit(mset, [
        { positions: [0], reply: OK },
        { positions: [1], reply: down },
      ]),
    ).toEqual(
      err(
        "UNKNOWN MSET was applied in 1 of its 2 partitions, not in another (CLUSTERDOWN partition 3 has no " +
          "reachable leader within 5000 ms); do not send it again as it is",
      ),
    );
    // Nothing applied: resending is safe, the code stays.
    expect(
      mergeSplit(mset, [
        { positions: [0], reply: down },
        { positions: [1], reply: down },
      ]),
    ).toEqual(down);
    // Any part unknown makes the whole unknown, whatever the order.
    const del = COMMANDS.get("del")!;
    expect(
      mergeSplit(del, [
        { positions: [0], reply: down },
        { positions: [1], reply: unknown },
      ]),
    ).toEqual(unknown);
    // A read split is retried whole: its first failure stands.
    const mget = COMMANDS.get("mget")!;
    expect(
      mergeSplit(mget, [
        { positions: [0], reply: array([bulk("a")]) },
        { positions: [1], reply: down },
      ]),
    ).toEqual(down);
  });

  test("one_succeeded needs one part to succeed; a command that is not multi_shard is never merged", () => {
    const spec = { name: "x", flags: [], cluster: { request: "multi_shard", response: "one_succeeded" } as const };
    const down = err("TRYAGAIN partition 1");
    expect(
      mergeSplit(spec, [
        { positions: [0], reply: down },
        { positions: [1], reply: int(4) },
      ]),
    ).toEqual(int(4));
    expect(mergeSplit(spec, [{ positions: [0], reply: down }])).toEqual(down);
    expect(mergeSplit(COMMANDS.get("rename")!, [{ positions: [0], reply: OK }])).toEqual(
      err("ERR rename is not split per partition: its keys must share a slot"),
    );
  });
});
