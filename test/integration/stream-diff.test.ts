// Differential test of the stream commands: the same sequences go to a real redis-server 7.0 and
// to FlyDB, replies must be equal (RESP2 and RESP3). IDs are explicit wherever the reply would show
// them, since `*` takes each server's clock; idle times are checked for shape only.
import { describe, expect, test } from "bun:test";
import { compareSequence, useDiffServers } from "../helpers/diff-servers.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

type Seq = readonly (readonly string[])[];

/** Fields whose value is a server's clock or its memory layout, not the data. */
const CLOCK_FIELDS = new Set(["idle", "seen-time", "radix-tree-nodes"]);

/** A reply as plain values, with clock fields blanked (XPENDING idle, XINFO idle/seen/delivery times). */
function clockFree(argv: readonly string[], w: Wire): unknown {
  const name = argv[0]!.toLowerCase();
  if (name !== "xinfo" && name !== "xpending") return w;
  const plain = (x: Wire): unknown => {
    if (x.t === "$") return x.v.toString("latin1");
    if (x.t === ":") return `:${x.v}`;
    if (x.t === "%") return ["%", ...x.v.map(([k, v]) => [plain(k), field(plain(k), plain(v))])];
    if (x.t === "*") return pairs(x.v.map(plain));
    return x;
  };
  // RESP2 maps are flat [k, v, k, v]: blank the value after a clock field's name.
  const pairs = (xs: unknown[]): unknown[] =>
    xs.map((v, i) => (i % 2 === 1 && typeof xs[i - 1] === "string" ? field(xs[i - 1] as string, v) : v));
  const field = (k: unknown, v: unknown): unknown => {
    if (typeof k === "string" && CLOCK_FIELDS.has(k)) return "<clock>";
    // XINFO STREAM FULL: group PEL [id, consumer, time, count], consumer PEL [id, time, count].
    if (k === "pending" && Array.isArray(v)) {
      return v.map((e) => (Array.isArray(e) ? e.map((x, i) => (i === e.length - 2 ? "<clock>" : x)) : e));
    }
    return v;
  };
  const out = plain(w);
  // XPENDING's extended form: [id, consumer, idle, count].
  if (name === "xpending" && argv.length > 3 && Array.isArray(out)) {
    return out.map((e) => (Array.isArray(e) && e.length === 4 ? [e[0], e[1], "<clock>", e[3]] : e));
  }
  return out;
}

const SEQUENCES: Record<string, Seq> = {
  "XADD explicit IDs, XRANGE, XREVRANGE, XLEN": [
    ["XADD", "s", "1-1", "a", "1"],
    ["XADD", "s", "1-2", "b", "2", "c", "3"],
    ["XADD", "s", "2-*", "d", "4"],
    ["XADD", "s", "2-*", "e", "5"],
    ["XADD", "s", "5", "f", "6"],
    ["XLEN", "s"],
    ["XRANGE", "s", "-", "+"],
    ["XRANGE", "s", "1", "2"],
    ["XRANGE", "s", "(1-1", "(5-0"],
    ["XRANGE", "s", "-", "+", "COUNT", "2"],
    ["XRANGE", "s", "-", "+", "COUNT", "0"],
    ["XRANGE", "s", "-", "+", "COUNT", "-1"],
    ["XREVRANGE", "s", "+", "-"],
    ["XREVRANGE", "s", "+", "-", "COUNT", "1"],
    ["XREVRANGE", "s", "(5", "(1-1"],
    ["XRANGE", "s", "5", "1"],
    ["XRANGE", "nosuch", "-", "+"],
    ["XLEN", "nosuch"],
    ["TYPE", "s"],
    ["OBJECT", "ENCODING", "s"],
  ],
  "XADD errors and edge IDs": [
    ["XADD", "s", "0-0", "a", "1"],
    ["XADD", "s", "0-1", "a", "1"],
    ["XADD", "s", "0-1", "a", "1"],
    ["XADD", "s", "0", "a", "1"],
    ["XADD", "s", "0-*", "a", "1"],
    ["XADD", "s", "-", "a", "1"],
    ["XADD", "s", "+", "a", "1"],
    ["XADD", "s", "1-x", "a", "1"],
    ["XADD", "s", "1-2-3", "a", "1"],
    ["XADD", "s", "18446744073709551616-0", "a", "1"],
    // string2ull's strtoull fallback: leading zeros, '+', leading spaces, a wrapping '-'.
    ["XADD", "s", "00020-1", "a", "1"],
    ["XADD", "s", "+21-1", "a", "1"],
    ["XADD", "s", " 22-01", "a", "1"],
    ["XADD", "s", "23- 1", "a", "1"],
    ["XADD", "s", "24 -1", "a", "1"],
    ["XRANGE", "s", "-01", "+"],
    ["XRANGE", "s", "-", "-01"],
    ["XRANGE", "s", "(20-1", "22"],
    ["XADD", "s", "18446744073709551615-18446744073709551615", "a", "1"],
    ["XADD", "s", "*", "a", "1"],
    ["XADD", "s", "18446744073709551615-*", "a", "1"],
    ["XADD", "s", "10-1", "a"],
    ["XADD", "s", "10-1", "a", "1", "b"],
    ["XADD", "s", "NOMKSTREAM"],
    ["XADD", "nosuch", "NOMKSTREAM", "1-1", "a", "1"],
    ["EXISTS", "nosuch"],
    ["SET", "str", "x"],
    ["XADD", "str", "1-1", "a", "1"],
    ["XRANGE", "str", "-", "+"],
    ["XLEN", "str"],
    ["XRANGE", "s", "x", "+"],
    ["XRANGE", "s", "(-", "+"],
    ["XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"],
    ["XRANGE", "s", "-", "(0-0"],
    ["XRANGE", "s", "-", "+", "COUNT"],
    ["XRANGE", "s", "-", "+", "COUNT", "x"],
    ["XRANGE", "s", "-", "+", "FOO", "1"],
    ["XLEN", "s"],
  ],
  "trimming: MAXLEN, MINID, ~, LIMIT, XTRIM": [
    ...Array.from({ length: 250 }, (_, i) => ["XADD", "s", `${i + 1}-0`, "f", `v${i}`]),
    ["XLEN", "s"],
    ["XTRIM", "s", "MAXLEN", "~", "120"],
    ["XLEN", "s"],
    ["XTRIM", "s", "MAXLEN", "=", "120"],
    ["XLEN", "s"],
    ["XRANGE", "s", "-", "+", "COUNT", "1"],
    ["XTRIM", "s", "MINID", "~", "170"],
    ["XTRIM", "s", "MINID", "175"],
    ["XRANGE", "s", "-", "+", "COUNT", "1"],
    ["XTRIM", "s", "MAXLEN", "~", "10", "LIMIT", "30"],
    ["XLEN", "s"],
    ["XADD", "s", "MAXLEN", "5", "300-0", "f", "x"],
    ["XRANGE", "s", "-", "+"],
    ["XADD", "s", "MINID", "299", "301-0", "f", "y"],
    ["XRANGE", "s", "-", "+"],
    ["XTRIM", "s", "MAXLEN", "-1"],
    ["XTRIM", "s", "MAXLEN", "1", "LIMIT", "10"],
    ["XTRIM", "s", "LIMIT", "10"],
    ["XTRIM", "s"],
    ["XTRIM", "s", "MAXLEN", "1", "MINID", "1"],
    ["XTRIM", "s", "MINID", "x"],
    ["XADD", "s", "LIMIT", "10", "*", "a", "1"],
    ["XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "1"],
    ["XTRIM", "nosuch", "MAXLEN", "0"],
    ["XTRIM", "s", "MAXLEN", "0"],
    ["XLEN", "s"],
    ["EXISTS", "s"],
    ["XINFO", "STREAM", "s"],
  ],
  "XDEL and XSETID": [
    ["XADD", "s", "1-0", "a", "1"],
    ["XADD", "s", "2-0", "a", "2"],
    ["XADD", "s", "3-0", "a", "3"],
    ["XDEL", "s", "2-0", "9-0"],
    ["XDEL", "s", "x"],
    ["XDEL", "nosuch", "1-0"],
    ["XRANGE", "s", "-", "+"],
    ["XINFO", "STREAM", "s"],
    ["XSETID", "s", "2-0"],
    ["XSETID", "s", "5-0", "ENTRIESADDED", "1"],
    ["XSETID", "s", "5-0", "ENTRIESADDED", "10", "MAXDELETEDID", "6-0"],
    ["XSETID", "s", "5-0", "ENTRIESADDED", "10", "MAXDELETEDID", "4-0"],
    ["XSETID", "s", "5-0", "ENTRIESADDED", "-1"],
    ["XSETID", "s", "5-0", "FOO"],
    ["XSETID", "nosuch", "5-0"],
    ["XINFO", "STREAM", "s"],
    ["XADD", "s", "5-0", "a", "1"],
    ["XADD", "s", "5-*", "a", "1"],
    ["XDEL", "s", "1-0", "3-0", "5-1"],
    ["XLEN", "s"],
    ["EXISTS", "s"],
    ["XINFO", "STREAM", "s"],
  ],
  "consumer groups: XGROUP, XREADGROUP, XACK, XPENDING": [
    ["XGROUP", "CREATE", "s", "g", "$"],
    ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
    ["XGROUP", "CREATE", "s", "g", "$"],
    ["XINFO", "GROUPS", "s"],
    ["XADD", "s", "1-0", "a", "1"],
    ["XADD", "s", "2-0", "b", "2"],
    ["XADD", "s", "3-0", "c", "3"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    ["XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", "1-0"],
    ["XPENDING", "s", "g"],
    ["XPENDING", "s", "g", "-", "+", "10"],
    ["XPENDING", "s", "g", "-", "+", "10", "bob"],
    ["XPENDING", "s", "g", "(1-0", "+", "1"],
    ["XPENDING", "s", "g", "-", "+", "10", "nobody"],
    ["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10"],
    ["XPENDING", "s", "g", "-", "+"],
    ["XPENDING", "s", "nog"],
    ["XPENDING", "nosuch", "g"],
    ["XACK", "s", "g", "1-0", "9-0"],
    ["XACK", "s", "g", "x"],
    ["XACK", "s", "nog", "x"],
    ["XPENDING", "s", "g"],
    ["XINFO", "GROUPS", "s"],
    ["XINFO", "CONSUMERS", "s", "g"],
    ["XINFO", "CONSUMERS", "s", "nog"],
    ["XDEL", "s", "2-0"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
    ["XINFO", "GROUPS", "s"],
    ["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"],
    ["XINFO", "GROUPS", "s"],
    ["XREADGROUP", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">"],
    ["XPENDING", "s", "g"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "dave"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "dave"],
    ["XGROUP", "DELCONSUMER", "s", "g", "bob"],
    ["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
    ["XGROUP", "DELCONSUMER", "s", "nog", "bob"],
    ["XPENDING", "s", "g"],
    ["XINFO", "STREAM", "s", "FULL"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XINFO", "GROUPS", "s"],
  ],
  "XREADGROUP and XGROUP errors": [
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    ["XADD", "s", "1-0", "a", "1"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    ["XGROUP", "CREATE", "s", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x"],
    ["XREADGROUP", "COUNT", "1", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">"],
    ["XREAD", "GROUP", "g", "c", "STREAMS", "s", ">"],
    ["XREAD", "NOACK", "STREAMS", "s", "0"],
    ["XREAD", "STREAMS", "s", ">"],
    ["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
    ["XREAD", "BLOCK", "x", "STREAMS", "s", "0"],
    ["XREAD", "STREAMS", "s", "0", "s"],
    ["XREAD", "COUNT", "1", "s", "0"],
    ["XGROUP", "CREATE", "nosuch", "g", "$"],
    ["XGROUP", "CREATE", "s", "g2", "x"],
    ["XGROUP", "CREATE", "s", "g2", "$", "FOO"],
    ["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "-5"],
    ["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "3"],
    ["XGROUP", "SETID", "s", "nog", "0"],
    ["XGROUP", "SETID", "s", "g", "0", "MKSTREAM"],
    ["XGROUP", "CREATE", "s"],
    ["XGROUP", "DESTROY", "s", "g", "x"],
    ["XGROUP", "FOO", "s", "g"],
    ["XGROUP", "HELP"],
    ["XINFO", "HELP"],
    ["XINFO", "FOO", "s"],
    ["XINFO", "STREAM", "s", "FOO"],
    ["XINFO", "STREAM", "nosuch"],
    ["SET", "str", "x"],
    ["XINFO", "STREAM", "str"],
    ["XGROUP", "CREATE", "str", "g", "$"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"],
    ["XREAD", "STREAMS", "str", "0"],
    ["XACK", "str", "g", "1-0"],
    ["XINFO", "GROUPS", "s"],
  ],
  XREAD: [
    ["XADD", "a", "1-0", "x", "1"],
    ["XADD", "a", "2-0", "x", "2"],
    ["XADD", "b", "1-0", "y", "1"],
    ["XREAD", "STREAMS", "a", "b", "0", "0"],
    ["XREAD", "COUNT", "1", "STREAMS", "a", "b", "1-0", "0"],
    ["XREAD", "STREAMS", "a", "b", "$", "$"],
    ["XREAD", "STREAMS", "a", "nosuch", "2", "0"],
    ["XREAD", "STREAMS", "nosuch", "0"],
    ["XREAD", "BLOCK", "10", "STREAMS", "a", "0"],
  ],
  "XCLAIM and XAUTOCLAIM": [
    ["XADD", "s", "1-0", "a", "1"],
    ["XADD", "s", "2-0", "b", "2"],
    ["XADD", "s", "3-0", "c", "3"],
    ["XADD", "s", "4-0", "d", "4"],
    ["XGROUP", "CREATE", "s", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
    ["XCLAIM", "s", "g", "bob", "0", "1-0", "2-0"],
    ["XCLAIM", "s", "g", "bob", "3600000", "3-0"],
    ["XCLAIM", "s", "g", "carol", "0", "3-0", "JUSTID"],
    ["XCLAIM", "s", "g", "carol", "0", "4-0", "RETRYCOUNT", "7", "IDLE", "0"],
    ["XCLAIM", "s", "g", "dave", "0", "9-0", "FORCE"],
    ["XDEL", "s", "2-0"],
    ["XCLAIM", "s", "g", "dave", "0", "2-0"],
    ["XCLAIM", "s", "g", "dave", "0", "1-0", "LASTID", "10-0", "TIME", "0"],
    ["XCLAIM", "s", "g", "dave", "x", "1-0"],
    ["XCLAIM", "s", "g", "dave", "0", "1-0", "IDLE", "x"],
    ["XCLAIM", "s", "g", "dave", "0", "1-0", "RETRYCOUNT", "x"],
    ["XCLAIM", "s", "g", "dave", "0", "1-0", "BOGUS"],
    ["XCLAIM", "s", "g", "dave", "0", "1-0", "LASTID", "x"],
    ["XCLAIM", "s", "nog", "dave", "0", "1-0"],
    ["XPENDING", "s", "g", "-", "+", "10"],
    ["XINFO", "GROUPS", "s"],
    ["XADD", "s", "5-0", "e", "5"],
    ["XADD", "s", "6-0", "f", "6"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    ["XGROUP", "SETID", "s", "g", "4-0"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
    ["XDEL", "s", "5-0"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "2"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "(3-0", "COUNT", "1", "JUSTID"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "0"],
    ["XAUTOCLAIM", "s", "g", "erin", "3600000", "0"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "0"],
    ["XAUTOCLAIM", "s", "g", "erin", "x", "0"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "x"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "FOO"],
    ["XAUTOCLAIM", "s", "nog", "erin", "0", "0"],
    ["XPENDING", "s", "g"],
    ["XINFO", "STREAM", "s", "FULL", "COUNT", "2"],
  ],
};

/** Runs a blocking scenario on one server: `blocked` waits while `writer` writes after a pause. */
async function blockingScenario(
  blocker: RespClient,
  writer: RespClient,
  setup: Seq,
  block: readonly string[],
  writes: Seq,
): Promise<{ reply: Wire; after: Wire }> {
  await writer.call("FLUSHALL");
  for (const argv of setup) await writer.call(...argv);
  const pending = blocker.call(...block);
  await Bun.sleep(150);
  for (const argv of writes) await writer.call(...argv);
  const reply = await pending;
  // What the blocked read left behind (its PEL entries), and that the connection still works.
  const after = await blocker.call("XINFO", "GROUPS", "s");
  return { reply, after: clockFree(["xinfo", "groups"], after) as Wire };
}

describe("blocking XREAD/XREADGROUP against redis-server", () => {
  const cases: Record<string, [Seq, string[], Seq]> = {
    "XREAD BLOCK $ gets only what was added after it blocked": [
      [["XADD", "s", "1-0", "old", "1"]],
      ["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"],
      [["XADD", "s", "2-0", "new", "2"]],
    ],
    "XREAD BLOCK on a missing key": [
      [],
      ["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"],
      [["XADD", "s", "3-0", "a", "b"]],
    ],
    "XREAD BLOCK times out with a null array": [
      [["XADD", "s", "1-0", "a", "1"]],
      ["XREAD", "BLOCK", "100", "STREAMS", "s", "$"],
      [],
    ],
    "XREAD BLOCK with COUNT on two streams": [
      [["XADD", "s", "1-0", "a", "1"]],
      ["XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "other", "s", "$", "1-0"],
      [
        ["XADD", "s", "2-0", "b", "2"],
        ["XADD", "s", "3-0", "c", "3"],
      ],
    ],
    "XREADGROUP BLOCK > is served and recorded as pending": [
      [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
      ["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "5000", "STREAMS", "s", ">"],
      [["XADD", "s", "1-0", "a", "1"]],
    ],
    "XREADGROUP BLOCK NOACK": [
      [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
      ["XREADGROUP", "GROUP", "g", "alice", "NOACK", "BLOCK", "5000", "STREAMS", "s", ">"],
      [["XADD", "s", "1-0", "a", "1"]],
    ],
    "XREADGROUP BLOCK times out": [
      [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
      ["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "100", "STREAMS", "s", ">"],
      [],
    ],
  };
  for (const [name, [setup, block, writes]] of Object.entries(cases)) {
    test(name, async () => {
      const a = await servers.connect();
      const b = await servers.connect();
      const redis = await blockingScenario(a.redis, b.redis, setup, block, writes);
      const fly = await blockingScenario(a.fly, b.fly, setup, block, writes);
      expect(fly).toEqual(redis);
    });
  }
});

test("CONFIG SET stream-node-max-entries moves where `~` trimming may cut", async () => {
  const seq: Seq = [
    ["CONFIG", "SET", "stream-node-max-entries", "7"],
    ...Array.from({ length: 60 }, (_, i) => ["XADD", "s", "MAXLEN", "~", "25", `${i + 1}-0`, "f", "v"]),
    ["XLEN", "s"],
    ["XTRIM", "s", "MAXLEN", "~", "10"],
    ["XLEN", "s"],
    ["XADD", "s", "MAXLEN", "~", "0", "LIMIT", "14", "100-0", "f", "v"],
    ["XLEN", "s"],
    ["XINFO", "STREAM", "s"],
    ["CONFIG", "SET", "stream-node-max-entries", "100"],
  ];
  try {
    await compareSequence(servers, seq, clockFree);
  } finally {
    await servers.fly.call("CONFIG", "SET", "stream-node-max-entries", "100");
    await servers.redis.call("CONFIG", "SET", "stream-node-max-entries", "100");
  }
});

describe("DUMP/RESTORE of streams in Redis's format", () => {
  const build: Seq = [
    ...Array.from({ length: 230 }, (_, i) => [
      "XADD",
      "s",
      `${i + 1}-${i % 2}`,
      ...(i % 5 ? ["f", `v${i}`] : ["g", "x", "h", "y"]),
    ]),
    ["XDEL", "s", "7-0", "150-1"],
    ["XGROUP", "CREATE", "s", "g1", "0"],
    ["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "5"],
    ["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "s", ">"],
    ["XACK", "s", "g1", "2-1"],
    ["XGROUP", "CREATECONSUMER", "s", "g2", "carol"],
    ["XSETID", "s", "999-0", "ENTRIESADDED", "500", "MAXDELETEDID", "160-0"],
  ];
  // Delivery and seen times travel in the payload: XINFO STREAM FULL's are compared, blanked only
  // where clockFree blanks them (the idle times XPENDING computes from each server's clock).
  const views: Seq = [
    ["XRANGE", "s", "-", "+"],
    ["XINFO", "STREAM", "s", "FULL", "COUNT", "0"],
    ["XINFO", "GROUPS", "s"],
    ["XPENDING", "s", "g1", "-", "+", "10"],
    ["TYPE", "s"],
  ];
  const view = (argv: readonly string[], w: Wire) =>
    JSON.stringify(clockFree(argv, w), (_k, v) => (typeof v === "bigint" ? String(v) : v));
  async function moved(from: RespClient, to: RespClient): Promise<string[]> {
    await from.call("FLUSHALL");
    await to.call("FLUSHALL");
    for (const argv of build) await from.call(...argv);
    const payload = await from.call("DUMP", "s");
    if (payload.t !== "$") throw new Error(`DUMP gave ${JSON.stringify(payload)}`);
    const restored = await to.call("RESTORE", "s", "0", payload.v);
    expect(restored).toEqual({ t: "+", v: "OK" });
    const out: string[] = [];
    for (const argv of views) {
      const reply = await to.call(...argv);
      out.push(view(argv, reply));
    }
    return out;
  }
  test("from redis-server into FlyDB and back", async () => {
    const direct: string[] = [];
    for (const argv of build) await servers.redis.call(...argv);
    const intoFly = await moved(servers.redis, servers.fly);
    const intoRedis = await moved(servers.fly, servers.redis);
    await servers.redis.call("FLUSHALL");
    for (const argv of build) await servers.redis.call(...argv);
    for (const argv of views) {
      const reply = await servers.redis.call(...argv);
      direct.push(view(argv, reply));
    }
    // The delivery times themselves come from each server's clock when the source was built.
    expect(intoFly.map(dropTimes)).toEqual(direct.map(dropTimes));
    expect(intoRedis.map(dropTimes)).toEqual(direct.map(dropTimes));
  });
  test("a payload of Redis 6 (RDB_TYPE_STREAM_LISTPACKS) loads with entries-read estimated as Redis does", async () => {
    // Redis's own test payload (tests/unit/type/stream-cgroups.tcl, "Loading from legacy"): six
    // entries, one deleted, two groups, four delivered to one consumer, then trimmed to two.
    const legacy = Buffer.from(
      "0f011000000000000000010000000000000000c3404a4057165700000023000201040101018464617461050001030100" +
        "20010381610204200a0001400a0062600a0002400a0063600a4022018164200a4039200a0065600a0005400a0066200a" +
        "00ff02060002026731050004000000000000000100000000000000003ef783437a010000010000000000000002000000" +
        "00000000003ef783437a01000001000000000000000400000000000000003ef783437a01000001000000000000000500" +
        "000000000000003ef783437a0100000101036331313ef783437a01000004000000000000000100000000000000000000" +
        "000000000002000000000000000000000000000000040000000000000000000000000000000500000000000000000267" +
        "320000000009003d52ef6867521dfa",
      "hex",
    );
    const [r, f] = await Promise.all(
      [servers.redis, servers.fly].map(async (c) => {
        await c.call("DEL", "x");
        expect(await c.call("RESTORE", "x", "0", legacy)).toEqual({ t: "+", v: "OK" });
        return view(["xinfo", "stream"], await c.call("XINFO", "STREAM", "x", "FULL"));
      }),
    );
    expect(f).toEqual(r);
    expect(f).toContain('"entries-read",":1","lag",":1"');
  });
  test("a corrupt stream payload is refused with Redis's error", async () => {
    await servers.fly.call("FLUSHALL");
    for (const argv of build.slice(0, 5)) await servers.fly.call(...argv);
    const payload = await servers.fly.call("DUMP", "s");
    if (payload.t !== "$") throw new Error("no payload");
    const bad = Buffer.from(payload.v);
    bad[3] = bad[3]! ^ 0xff;
    expect(await servers.fly.call("RESTORE", "t", "0", bad)).toEqual(
      await servers.redis.call("RESTORE", "t", "0", bad),
    );
  });
});

/** Times in a JSON reply (13-digit milliseconds since the epoch) as a placeholder. */
const dropTimes = (s: string) => s.replace(/"1\d{12}"/g, '"<time>"');

describe("streams against redis-server", () => {
  for (const [name, seq] of Object.entries(SEQUENCES)) {
    test(`${name} (RESP2)`, async () => {
      await compareSequence(servers, seq, clockFree);
    });
    test(`${name} (RESP3)`, async () => {
      await compareSequence(resp3, seq, clockFree);
    });
  }
});
