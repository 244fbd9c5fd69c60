// Differential test of the data types: fast-check generates command sequences over a small key
// space (so keys change type, empty out and collide), and FlyDB must give the same reply as the
// real redis-server 7.0 for every command. Only what Redis itself leaves unordered or random is
// normalised: set/hash member order, SCAN paging, and random picks (checked by shape and size;
// SPOP's picks are replayed on Redis with SREM so both keep the same state).
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { sortWire, text, useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

const STATS = new Map<string, number>();
afterAll(() => {
  if (process.env.TYPES_DIFF_STATS)
    console.log(
      [...STATS]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join("\n"),
    );
});

type Cmd = string[];
const c = fc.constantFrom;
const key = c("k1", "k2", "k3");
// Binary members too: ordering and matching are by bytes (memcmp), as in Redis.
const field = c("a", "b", "c", "d", "\x00\xff");
const member = c("a", "b", "c", "d", "1", "2", "10", "-3", "b\x00", "\xff");
const value = c("x", "y", "1", "-5", "1.5", "abc", "", "\x00\x80");
const int = c("0", "1", "2", "-1", "-2", "3", "5", "-10", "x", "9223372036854775807");
const count = c("-3", "-1", "0", "1", "2", "100");
// 0.1 and 1e-5 print differently in %.17g than in the shortest form: they check redis 7.0's layout.
const score = c("0", "1", "2", "-1", "1.5", "-2.5", "inf", "-inf", "+inf", "3", "x", "0.25", "0.1", "1e-5");
const bound = c("0", "1", "(1", "2", "(2", "-inf", "+inf", "(-inf", "1.5", "(1.5", "-1", "x");
const lexBound = c("-", "+", "[a", "(a", "[c", "(c", "[b", "(d", "x", "[", "[b\x00", "(\xff");
const side = c("LEFT", "RIGHT");
const arr = <T>(g: fc.Arbitrary<T>, min = 1, max = 3) => fc.array(g, { minLength: min, maxLength: max });
type Part = string | readonly Part[];
const cmd = (...parts: (fc.Arbitrary<Part> | string)[]): fc.Arbitrary<Cmd> =>
  fc.tuple(...parts.map((p) => (typeof p === "string" ? fc.constant(p) : p))).map((xs) => xs.flat(3) as Cmd);
const opt = (g: fc.Arbitrary<string[]>) => fc.option(g, { nil: undefined }).map((x) => x ?? []);

const generic: fc.Arbitrary<Cmd>[] = [
  cmd("DEL", key),
  cmd("EXISTS", key, key),
  cmd("TYPE", key),
  cmd("EXPIRE", key, c("100", "0", "-1")),
  cmd("PERSIST", key),
  cmd("TTL", key),
  cmd("RENAME", key, key),
  cmd("COPY", key, key, opt(fc.constant(["REPLACE"]))),
  cmd("OBJECT", "ENCODING", key),
  cmd("SET", key, value),
  cmd("SCAN", "0", "TYPE", c("string", "hash", "list", "set", "zset", "nosuch"), "COUNT", "1000"),
];

const hashAdd = [
  cmd(
    "HSET",
    key,
    arr(
      fc.tuple(field, value).map((p) => [...p]),
      1,
      4,
    ),
  ),
];
const listAdd = [cmd(c("LPUSH", "RPUSH"), key, arr(value, 1, 5))];
const setAdd = [cmd("SADD", key, arr(member, 1, 6)), cmd("SADD", key, arr(c("1", "2", "3", "10", "-7", "42"), 1, 6))];
const zsetAdd = [
  cmd(
    "ZADD",
    key,
    arr(
      fc.tuple(c("1", "2", "3", "-1", "0.5", "2"), member).map((p) => [...p]),
      1,
      6,
    ),
  ),
  cmd(
    "ZADD",
    "lz",
    arr(
      fc.tuple(fc.constant("0"), member).map((p) => [...p]),
      1,
      5,
    ),
  ),
];

const hash: fc.Arbitrary<Cmd>[] = [
  cmd("HSET", key, arr(fc.tuple(field, value).map((p) => [...p]))),
  cmd("HMSET", key, field, value),
  cmd("HSETNX", key, field, value),
  cmd("HGET", key, field),
  cmd("HMGET", key, arr(field)),
  cmd("HGETALL", key),
  cmd("HDEL", key, arr(field)),
  cmd("HEXISTS", key, field),
  cmd("HLEN", key),
  cmd("HKEYS", key),
  cmd("HVALS", key),
  cmd("HINCRBY", key, field, int),
  cmd("HINCRBYFLOAT", key, field, c("0.1", "1.5", "-2", "x", "inf", "1e3")),
  cmd("HSTRLEN", key, field),
  cmd("HRANDFIELD", key, opt(cmd(count, opt(fc.constant(["WITHVALUES"]))))),
  cmd("HSCAN", key, "0", opt(cmd("MATCH", c("a*", "[ab]", "*")))),
  cmd("HSET", key, "long", c("x".repeat(65), "y")),
];

const list: fc.Arbitrary<Cmd>[] = [
  cmd(c("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"), key, arr(value)),
  cmd(c("LPOP", "RPOP"), key, opt(cmd(c("0", "1", "2", "5", "-1")))),
  cmd("LLEN", key),
  cmd("LRANGE", key, int, int),
  cmd("LRANGE", key, "0", "-1"),
  cmd("LINDEX", key, int),
  cmd("LSET", key, int, value),
  cmd("LREM", key, int, value),
  cmd("LTRIM", key, int, int),
  cmd("LINSERT", key, c("BEFORE", "AFTER", "middle"), value, value),
  cmd(
    "LPOS",
    key,
    value,
    opt(cmd("RANK", c("1", "-1", "2", "0"))),
    opt(cmd("COUNT", c("0", "1", "2", "-1"))),
    opt(cmd("MAXLEN", c("0", "2", "-1"))),
  ),
  cmd("LMOVE", key, key, side, side),
  cmd("RPOPLPUSH", key, key),
  cmd("LMPOP", c("1", "2", "0"), key, key, side, opt(cmd("COUNT", c("1", "3", "0")))),
];

const set: fc.Arbitrary<Cmd>[] = [
  cmd("SADD", key, arr(member, 1, 4)),
  cmd("SREM", key, arr(member)),
  cmd("SMEMBERS", key),
  cmd("SISMEMBER", key, member),
  cmd("SMISMEMBER", key, arr(member)),
  cmd("SCARD", key),
  cmd("SPOP", key, opt(cmd(c("0", "1", "2", "100", "-1")))),
  cmd("SRANDMEMBER", key, opt(cmd(count))),
  cmd("SMOVE", key, key, member),
  cmd(c("SINTER", "SUNION", "SDIFF"), arr(key, 1, 3)),
  cmd("SINTERCARD", c("1", "2", "3", "0"), key, key, opt(cmd("LIMIT", c("0", "1", "-1")))),
  cmd(c("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"), key, arr(key, 1, 3)),
  cmd("SSCAN", key, "0", opt(cmd("MATCH", c("1*", "[ab]", "*")))),
];

const zaddFlags = fc.subarray(["NX", "xx", "GT", "lt", "CH", "incr"], { maxLength: 2 });
const zset: fc.Arbitrary<Cmd>[] = [
  cmd("ZADD", key, zaddFlags, arr(fc.tuple(score, member).map((p) => [...p]))),
  cmd(
    "ZADD",
    key,
    arr(
      fc.tuple(c("1", "2", "3", "-1"), member).map((p) => [...p]),
      1,
      4,
    ),
  ),
  cmd("ZREM", key, arr(member)),
  cmd("ZSCORE", key, member),
  cmd("ZMSCORE", key, arr(member)),
  cmd("ZINCRBY", key, score, member),
  cmd("ZCARD", key),
  cmd("ZCOUNT", key, bound, bound),
  cmd("ZRANGE", key, int, int, opt(fc.constant(["REV"])), opt(fc.constant(["WITHSCORES"]))),
  cmd(
    "ZRANGE",
    key,
    bound,
    bound,
    "BYSCORE",
    opt(fc.constant(["REV"])),
    opt(cmd("LIMIT", c("0", "1", "-1"), c("1", "2", "-1"))),
    opt(fc.constant(["WITHSCORES"])),
  ),
  cmd("ZRANGE", key, "0", "-1", "LIMIT", "0", "1"),
  cmd(
    c("ZRANGEBYSCORE", "ZREVRANGEBYSCORE"),
    key,
    bound,
    bound,
    opt(fc.constant(["WITHSCORES"])),
    opt(cmd("LIMIT", c("0", "1"), c("1", "-1"))),
  ),
  cmd("ZREVRANGE", key, int, int, opt(fc.constant(["WITHSCORES"]))),
  cmd(c("ZRANK", "ZREVRANK"), key, member),
  cmd(c("ZPOPMIN", "ZPOPMAX"), key, opt(cmd(c("0", "1", "2", "-1")))),
  cmd("ZRANDMEMBER", key, opt(cmd(count, opt(fc.constant(["WITHSCORES"]))))),
  cmd("ZRANGESTORE", key, key, int, int),
  cmd("ZRANGESTORE", key, key, bound, bound, "BYSCORE", opt(fc.constant(["REV"]))),
  cmd(
    c("ZUNIONSTORE", "ZINTERSTORE"),
    key,
    "2",
    key,
    key,
    opt(cmd("WEIGHTS", c("1", "2", "-1", "x"), c("1", "0.5"))),
    opt(cmd("AGGREGATE", c("SUM", "MIN", "MAX", "foo"))),
  ),
  cmd("ZDIFFSTORE", key, c("1", "2", "0"), key, key),
  cmd("ZREMRANGEBYSCORE", key, bound, bound),
  cmd("ZREMRANGEBYRANK", key, int, int),
  cmd("ZSCAN", key, "0", opt(cmd("MATCH", c("1*", "[ab]")))),
  // Lexical commands need equal scores (Redis leaves mixed-score lex ranges unspecified): "lz" only
  // ever gets score 0.
  cmd("ZADD", "lz", arr(fc.tuple(fc.constant("0"), member).map((p) => [...p]))),
  cmd("ZLEXCOUNT", "lz", lexBound, lexBound),
  cmd(c("ZRANGEBYLEX", "ZREVRANGEBYLEX"), "lz", lexBound, lexBound, opt(cmd("LIMIT", c("0", "1"), c("2", "-1")))),
  cmd("ZRANGE", "lz", lexBound, lexBound, "BYLEX", opt(fc.constant(["REV"]))),
  cmd("ZREMRANGEBYLEX", "lz", lexBound, lexBound),
  cmd("ZRANGESTORE", key, "lz", lexBound, lexBound, "BYLEX"),
];

const UNORDERED = new Set(["smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals"]);
const RANDOM = new Set(["hrandfield", "srandmember", "zrandmember"]);
const SCANS = new Set(["hscan", "sscan", "zscan"]);

async function fullScan(client: RespClient, argv: Cmd): Promise<Wire> {
  const seen = new Map<string, Wire[]>();
  let cursor = "0";
  const pairs = argv[0]!.toLowerCase() !== "sscan";
  do {
    const r = await client.call(argv[0]!, argv[1]!, cursor, ...argv.slice(3), "COUNT", "3");
    if (r.t !== "*") return r;
    cursor = text(r.v[0])!;
    const items = (r.v[1] as { v: Wire[] }).v;
    for (let i = 0; i < items.length; i += pairs ? 2 : 1)
      seen.set(JSON.stringify(items[i]), items.slice(i, i + (pairs ? 2 : 1)));
  } while (cursor !== "0");
  return sortWire({ t: "*", v: [...seen.values()].flat() }, pairs);
}

/** Length and type of a random pick; the whole sorted content when every element is picked. */
function randomShape(argv: Cmd, w: Wire): unknown {
  const n = Number(argv[2]);
  if ((w.t === "*" || w.t === "~") && n >= 100) return sortWire(w, argv.length > 3 && !(w.v[0]?.t === "*"));
  return { t: w.t, n: w.t === "*" || w.t === "~" ? w.v.length : undefined };
}

async function spop(pair: Pair, argv: Cmd): Promise<void> {
  const fly = await pair.fly.call(...argv);
  const picked = fly.t === "$" ? [text(fly)!] : fly.t === "~" || fly.t === "*" ? fly.v.map((x) => text(x)!) : [];
  if (picked.length === 0) {
    expect(fly).toEqual(await pair.redis.call(...argv));
    return;
  }
  const before = await pair.redis.call("SCARD", argv[1]!);
  const removed = await pair.redis.call("SREM", argv[1]!, ...picked);
  expect({ argv, picked: removed }).toEqual({ argv, picked: { t: ":", v: BigInt(picked.length) } });
  if (argv.length === 3) expect(picked.length).toBe(Math.min(Number(argv[2]), Number((before as { v: bigint }).v)));
}

async function compare(pair: Pair, argv: Cmd): Promise<void> {
  const name = argv[0]!.toLowerCase();
  if (name === "spop") return spop(pair, argv);
  if (SCANS.has(name)) {
    const [r, f] = [await fullScan(pair.redis, argv), await fullScan(pair.fly, argv)];
    expect({ argv, reply: f }).toEqual({ argv, reply: r });
    return;
  }
  const r = await pair.redis.call(...argv);
  const f = await pair.fly.call(...argv);
  if (process.env.TYPES_DIFF_STATS) {
    const k = `${name} ${r.t === "-" ? r.v.slice(0, 30) : r.t === "*" || r.t === "~" ? `array${Math.min(r.v.length, 3)}` : r.t}`;
    STATS.set(k, (STATS.get(k) ?? 0) + 1);
  }
  if (name === "scan" && r.t === "*" && f.t === "*") {
    expect({ argv, keys: sortWire(f.v[1]!) }).toEqual({ argv, keys: sortWire(r.v[1]!) });
  } else if (RANDOM.has(name) && r.t !== "-") {
    expect({ argv, reply: randomShape(argv, f) }).toEqual({ argv, reply: randomShape(argv, r) });
  } else if (UNORDERED.has(name) || name === "hgetall") {
    expect({ argv, reply: sortWire(f, name === "hgetall") }).toEqual({ argv, reply: sortWire(r, name === "hgetall") });
  } else {
    expect({ argv, reply: f }).toEqual({ argv, reply: r });
  }
}

async function run(pair: Pair, cmds: Cmd[]): Promise<void> {
  await pair.redis.call("FLUSHALL");
  await pair.fly.call("FLUSHALL");
  for (const argv of cmds) await compare(pair, argv);
}

/** Writers that add elements come often, so collections grow past a few elements. */
const sequences = (cmds: fc.Arbitrary<Cmd>[], adders: fc.Arbitrary<Cmd>[]) =>
  fc.array(
    fc.oneof(
      ...cmds.map((arbitrary) => ({ arbitrary, weight: 2 })),
      ...adders.map((arbitrary) => ({ arbitrary, weight: Math.ceil((4 * cmds.length) / adders.length) })),
      ...generic.map((arbitrary) => ({ arbitrary, weight: 1 })),
    ),
    { minLength: 10, maxLength: 60 },
  );
const RUNS = Number(process.env.TYPES_DIFF_RUNS ?? 60);

describe("FlyDB replies like redis-server 7.0", () => {
  test("hashes", async () => {
    await fc.assert(
      fc.asyncProperty(sequences(hash, hashAdd), (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
  test("lists", async () => {
    await fc.assert(
      fc.asyncProperty(sequences(list, listAdd), (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
  test("sets", async () => {
    await fc.assert(
      fc.asyncProperty(sequences(set, setAdd), (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
  test("sorted sets", async () => {
    await fc.assert(
      fc.asyncProperty(sequences(zset, zsetAdd), (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);
  test("all types mixed, over RESP3", async () => {
    await fc.assert(
      fc.asyncProperty(
        sequences([...hash, ...list, ...set, ...zset], [...hashAdd, ...listAdd, ...setAdd, ...zsetAdd]),
        (cmds) => run(resp3, cmds),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});

describe("big collections like redis-server 7.0", () => {
  const n = (count: number, f: (i: number) => string[]) => Array.from({ length: count }, (_, i) => f(i)).flat();

  test("encodings convert at Redis's thresholds and stay converted", async () => {
    await run(servers, [
      ["HSET", "h", ...n(512, (i) => [`f${i}`, "v"])],
      ["OBJECT", "ENCODING", "h"],
      ["HSET", "h", "f512", "v"],
      ["OBJECT", "ENCODING", "h"],
      ["HDEL", "h", "f512", "f511"],
      ["OBJECT", "ENCODING", "h"],
      ["SADD", "s", ...n(512, (i) => [String(i)])],
      ["OBJECT", "ENCODING", "s"],
      ["SADD", "s", "512"],
      ["OBJECT", "ENCODING", "s"],
      ["SADD", "s2", "1", "2"],
      ["OBJECT", "ENCODING", "s2"],
      ["SADD", "s2", "x"],
      ["OBJECT", "ENCODING", "s2"],
      ["ZADD", "z", ...n(128, (i) => [String(i), `m${i}`])],
      ["OBJECT", "ENCODING", "z"],
      ["ZADD", "z", "1", "one-more"],
      ["OBJECT", "ENCODING", "z"],
      ["ZREM", "z", "one-more", "m1"],
      ["OBJECT", "ENCODING", "z"],
      ["ZADD", "z2", "1", "m".repeat(65)],
      ["OBJECT", "ENCODING", "z2"],
      ["ZRANGESTORE", "z3", "z2", "0", "-1"],
      ["OBJECT", "ENCODING", "z3"],
      ["RPUSH", "l", "a"],
      ["OBJECT", "ENCODING", "l"],
      ["SET", "i", "12345"],
      ["OBJECT", "ENCODING", "i"],
      ["SET", "e", "x".repeat(44)],
      ["OBJECT", "ENCODING", "e"],
      ["SET", "r", "x".repeat(45)],
      ["OBJECT", "ENCODING", "r"],
    ]);
  });

  test("ranges, ranks, pops and scans of 300-element collections", async () => {
    const zadd = ["ZADD", "z", ...n(300, (i) => [String(i % 37), `m${(i * 7919) % 1000}`])];
    await run(servers, [
      zadd,
      ["ZCARD", "z"],
      ["ZRANGE", "z", "100", "120", "WITHSCORES"],
      ["ZRANGE", "z", "-130", "-100", "REV", "WITHSCORES"],
      ["ZRANK", "z", "m7919"],
      ["ZREVRANK", "z", "m837"],
      ["ZRANGEBYSCORE", "z", "(3", "20", "LIMIT", "10", "15", "WITHSCORES"],
      ["ZREVRANGEBYSCORE", "z", "20", "(3", "LIMIT", "10", "15"],
      ["ZCOUNT", "z", "5", "(30"],
      // LMOVE of a one-element list onto itself keeps the key and its TTL (a fuzzing find).
      ["RPUSH", "rot", "only"],
      ["EXPIRE", "rot", "100"],
      ["LMOVE", "rot", "rot", "LEFT", "RIGHT"],
      ["PERSIST", "rot"],
      ["ZPOPMIN", "z", "5"],
      ["ZPOPMAX", "z"],
      ["ZREMRANGEBYRANK", "z", "10", "20"],
      ["ZREMRANGEBYSCORE", "z", "(30", "+inf"],
      ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
      ["ZSCAN", "z", "0"],
      ["ZSCAN", "z", "0", "MATCH", "m1*"],
      ["HSET", "h", ...n(300, (i) => [`f${i}`, String(i)])],
      ["HSCAN", "h", "0"],
      ["HGETALL", "h"],
      ["SADD", "s", ...n(300, (i) => [`m${i}`])],
      ["SSCAN", "s", "0", "MATCH", "m2*"],
      ["SMEMBERS", "s"],
      ["SINTERCARD", "2", "s", "s", "LIMIT", "17"],
    ]);
  });

  test("a list keeps its order through pushes, repeated LINSERT at one place, LSET, LREM and LTRIM", async () => {
    const cmds: string[][] = [
      ["RPUSH", "l", ...n(300, (i) => [`v${i % 17}`])],
      ["LPUSH", "l", "head1", "head2"],
    ];
    // More inserts at one spot than the gap between two sequence numbers allows: renumbering.
    for (let i = 0; i < 40; i++) cmds.push(["LINSERT", "l", "AFTER", "v3", `ins${i}`]);
    for (let i = 0; i < 20; i++) cmds.push(["LINSERT", "l", "BEFORE", "head1", `pre${i}`]);
    cmds.push(
      ["LRANGE", "l", "0", "-1"],
      ["LSET", "l", "150", "mid"],
      ["LINDEX", "l", "-100"],
      ["LREM", "l", "-3", "v5"],
      ["LREM", "l", "0", "v6"],
      ["LPOS", "l", "v7", "RANK", "-2", "COUNT", "3"],
      ["LTRIM", "l", "20", "-30"],
      ["LRANGE", "l", "0", "-1"],
      ["LMPOP", "2", "nosuch", "l", "RIGHT", "COUNT", "7"],
      ["LLEN", "l"],
    );
    await run(servers, cmds);
  });
});

test("a collection that expired is gone for readers and starts empty for writers", async () => {
  const setup: string[][] = [
    ["RPUSH", "l", "a", "b"],
    ["HSET", "h", "f", "1", "g", "2"],
    ["SADD", "s", "a", "b"],
    ["ZADD", "z", "1", "a", "2", "b"],
  ];
  await run(servers, [...setup, ...setup.map(([, k]) => ["PEXPIRE", k!, "30"])]);
  await new Promise((r) => setTimeout(r, 80));
  for (const argv of [
    ["EXISTS", "l", "h", "s", "z"],
    ["TYPE", "z"],
    ["LLEN", "l"],
    ["RPUSH", "l", "c"],
    ["LRANGE", "l", "0", "-1"],
    ["HSET", "h", "x", "1"],
    ["HGETALL", "h"],
    ["SADD", "s", "c"],
    ["SMEMBERS", "s"],
    ["ZADD", "z", "3", "c"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["TTL", "z"],
  ])
    await compare(servers, argv);
});

test("COMMAND GETKEYS names every key of the commands with a key count (cluster routing uses the same keys)", async () => {
  for (const argv of [
    ["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"],
    ["COMMAND", "GETKEYS", "SINTERCARD", "3", "a", "b", "c", "LIMIT", "1"],
    ["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    ["COMMAND", "GETKEYS", "ZINTERSTORE", "d", "1", "a"],
    ["COMMAND", "GETKEYS", "ZDIFFSTORE", "d", "2", "a", "b"],
    ["COMMAND", "GETKEYS", "SUNIONSTORE", "d", "a", "b"],
    ["COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "RIGHT"],
    ["COMMAND", "GETKEYS", "ZRANGESTORE", "d", "s", "0", "-1"],
  ])
    await compare(servers, argv);
});

test("random-pick counts at the edges of their ranges answer like Redis", async () => {
  await run(servers, [
    ["SADD", "s", "a", "b"],
    ["HSET", "h", "f", "v"],
    ["ZADD", "z", "1", "a"],
    ["SRANDMEMBER", "s", "-9223372036854775808"],
    ["HRANDFIELD", "h", "-9223372036854775808"],
    ["ZRANDMEMBER", "z", "-9223372036854775808"],
    ["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
    ["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"],
    ["HRANDFIELD", "h", "x", "foo"],
    ["HRANDFIELD", "h", "1", "foo"],
    ["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"],
    ["SRANDMEMBER", "s", "1", "x"],
    ["SRANDMEMBER", "s", "9223372036854775807"],
  ]);
});
