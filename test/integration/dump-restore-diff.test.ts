// DUMP/RESTORE against a real redis-server 7.0: values of every type and encoding move from Redis
// to FlyDB and back, compared value by value (with TTLs, through ABSTTL); the old RDB forms Redis
// 7.0 still loads (ziplists, zipmaps, text scores) are hand-built and restored into both; bad
// payloads and arguments get the same error from both.
import { beforeAll, describe, expect, test } from "bun:test";
import { crc64 } from "../../src/rdb/crc64.ts";
import { writeListpack } from "../../src/rdb/listpack.ts";
import { sortWire, useDiffServers } from "../helpers/diff-servers.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";
import { payload, rdbString, ziplist } from "../helpers/ziplist.ts";

const { servers } = useDiffServers();
let redis: RespClient;
let fly: RespClient;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Pseudo-random bytes (xorshift): Redis cannot compress them. */
function noise(n: number): Buffer {
  let x = 0x2545f491;
  return Buffer.from(
    range(n).map(() => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    }),
  );
}

/** Keys built on redis-server, one per type and encoding (the comment says which Redis picks). */
const FIXTURES: (string | Buffer)[][] = [
  ["SET", "s:short", "hello"], // raw string
  ["SET", "s:int8", "-100"], // RDB integer forms: 8, 16, 32 bits
  ["SET", "s:int16", "30000"],
  ["SET", "s:int32", "-2000000000"],
  ["SET", "s:int64", "9223372036854775807"], // int-encoded in memory, a plain string in RDB
  ["SET", "s:float", "3.14"],
  ["SET", "s:empty", ""],
  ["SET", "s:lzf", `${"a".repeat(30)}${"bc".repeat(20)}`], // > 20 bytes and compressible: LZF
  ["SET", "s:lzf-big", "abcdefghij".repeat(5000)],
  ["SET", "s:noise", noise(5000)], // incompressible: stored plain
  ["SET", "s:binary", Buffer.from(range(256))],
  ["RPUSH", "l:small", "a", "1", "-5", "300", "70000", "5000000000", "x".repeat(70), ""],
  ["RPUSH", "l:big", ...range(3000).map((i) => (i % 3 ? `item-${i}` : String(i * 1000)))], // many quicklist nodes
  ["RPUSH", "l:huge-item", "a", "y".repeat(20000), "b"],
  // Inner quicklist nodes kept LZF-compressed in memory are saved as they are.
  ["CONFIG", "SET", "list-compress-depth", "1"],
  ["RPUSH", "l:compressed-nodes", ...range(3000).map((i) => `node-item-${i % 50}`)],
  ["CONFIG", "SET", "list-compress-depth", "0"],
  ["SADD", "set:int", "1", "2", "3", "-100", "70000", "5000000000"], // intset, 64-bit wide
  ["SADD", "set:int16", ...range(100).map(String)],
  ["SADD", "set:str", "a", "b", "c", "\x00\xff"], // hashtable
  ["SADD", "set:many-int", ...range(600).map(String)], // past set-max-intset-entries: hashtable
  ["SADD", "set:big", ...range(1000).map((i) => `m${i}`)],
  [
    "ZADD",
    "z:small",
    "1",
    "a",
    "2.5",
    "b",
    "-inf",
    "c",
    "inf",
    "d",
    "0",
    "e",
    "-0.5",
    "f",
    "1e-7",
    "g",
    "123456789012",
    "h",
    "0.1",
    "i",
    "-3",
    "j",
  ], // listpack
  ["ZADD", "z:big", ...range(300).flatMap((i) => [String(i / 7), `member-${i}`])], // skiplist
  ["ZADD", "z:long-member", "1", "x".repeat(100), "2", "y"], // skiplist: a member past 64 bytes
  ["HSET", "h:small", "f1", "v1", "f2", "123", "f3", "", "n", "-70000"], // listpack
  ["HSET", "h:big", ...range(600).flatMap((i) => [`field-${i}`, i % 2 ? `value-${i}` : String(i)])], // hashtable
  ["HSET", "h:long-value", "f", "x".repeat(100)], // hashtable: a value past 64 bytes
  // Listpacks with elements past the default 64-byte limit, made with raised limits: a RESTORE
  // keeps them listpacks, for Redis checks only the element count of a listpack payload.
  ["CONFIG", "SET", "hash-max-listpack-value", "100000", "zset-max-listpack-value", "100000"],
  [
    "HSET",
    "h:wide-listpack",
    "i8",
    "127",
    "i16",
    "32767",
    "i32",
    "2147483647",
    "u64",
    "9223372036854775808",
    "imm0",
    "0",
    "imm12",
    "12",
    "s6",
    "x".repeat(31),
    "s12",
    "x".repeat(4000),
    "s32",
    "x".repeat(65535),
  ],
  ["ZADD", "z:wide-listpack", "1", "y".repeat(70000), "2", "short"],
  ["CONFIG", "SET", "hash-max-listpack-value", "64", "zset-max-listpack-value", "64"],
  ["SET", "t:string", "v", "PX", "100000"],
  ["HSET", "t:hash", "a", "b"],
  ["PEXPIRE", "t:hash", "200000"],
];
const KEYS = [...new Set(FIXTURES.filter((c) => c[0] !== "CONFIG").map((c) => String(c[1])))];

beforeAll(async () => {
  ({ redis, fly } = servers);
  for (const cmd of FIXTURES) await redis.call(...cmd);
});

/** Everything a client can see of a key: type, value (unordered ones sorted), encoding, expiry. */
async function snapshot(c: RespClient, key: string): Promise<Wire[]> {
  const t = (await c.call("TYPE", key)) as { t: "+"; v: string };
  const value = {
    string: () => c.call("GET", key),
    list: () => c.call("LRANGE", key, "0", "-1"),
    set: async () => sortWire(await c.call("SMEMBERS", key)),
    zset: () => c.call("ZRANGE", key, "0", "-1", "WITHSCORES"),
    hash: async () => sortWire(await c.call("HGETALL", key), true),
    none: () => c.call("EXISTS", key),
  }[t.v];
  if (!value) throw new Error(`unexpected type ${t.v} of ${key}`);
  return [t, await value(), await c.call("OBJECT", "ENCODING", key), await c.call("PEXPIRETIME", key)];
}

/** RESTORE of `key`'s DUMP from one server into another, keeping its absolute expiry. */
async function move(from: RespClient, key: string, to: RespClient, as: string): Promise<Wire> {
  const dump = await from.call("DUMP", key);
  if (dump.t !== "$") throw new Error(`DUMP ${key}: ${JSON.stringify(dump)}`);
  const at = (await from.call("PEXPIRETIME", key)) as { t: ":"; v: bigint };
  const ttl = at.v > 0n ? String(at.v) : "0";
  return to.call("RESTORE", as, ttl, dump.v, "ABSTTL", "REPLACE");
}

describe("redis-server 7.0 → FlyDB", () => {
  for (const key of KEYS) {
    test(key, async () => {
      expect(await move(redis, key, fly, key)).toEqual({ t: "+", v: "OK" });
      // Compared with what Redis makes of the same RESTORE, which keeps the value and its expiry.
      await move(redis, key, redis, `copy:${key}`);
      const [type, value, , expiry] = await snapshot(redis, key);
      expect(await snapshot(fly, key)).toEqual(await snapshot(redis, `copy:${key}`));
      expect(await snapshot(redis, `copy:${key}`)).toMatchObject([type, value, {}, expiry]);
    });
  }
});

describe("FlyDB → redis-server 7.0", () => {
  for (const key of KEYS) {
    test(key, async () => {
      await move(redis, key, fly, key);
      expect(await move(fly, key, redis, `back:${key}`)).toEqual({ t: "+", v: "OK" });
      expect(await snapshot(redis, `back:${key}`)).toEqual(await snapshot(fly, key));
    });
  }
});

describe("byte-identical payloads", () => {
  // Where no LZF is involved (FlyDB's compressor finds other matches than liblzf), FlyDB writes
  // what Redis writes: same encodings, integer forms, quicklist node fill and score text.
  const uncompressed = [
    "s:short",
    "s:int8",
    "s:int16",
    "s:int32",
    "s:int64",
    "s:float",
    "s:empty",
    "s:binary",
    "l:small",
    "set:int16",
    "z:small",
    "h:small",
  ];
  for (const key of uncompressed) {
    test(key, async () => {
      await move(redis, key, fly, key);
      expect(await fly.call("DUMP", key)).toEqual(await redis.call("DUMP", key));
    });
  }
});

const b = (s: string) => Buffer.from(s, "latin1");
const str = (s: string) => rdbString(b(s));
const zl = (...items: string[]) => rdbString(ziplist(items.map(b)));
const lp = (...items: string[]) => rdbString(writeListpack(items.map(b)));
/** A length below 64 (one byte). */
const len = (n: number) => [n];

/** Hand-built payloads: the RDB forms only older Redis versions write, which 7.0 still loads, and a plain node. */
const OLD_FORMS: [string, number[]][] = [
  ["list (plain)", [1, ...len(3), ...str("a"), ...str("b"), 0xc0, 7]],
  ["list (ziplist)", [10, ...zl("a", "12", "-300", "x".repeat(80), "70000", "5000000000")]],
  ["list (quicklist of ziplists)", [14, ...len(2), ...zl("a", "b"), ...zl("1", "c")]],
  // Redis 7.0 writes a plain node for an element past its packed threshold (1 GB by default).
  ["list (quicklist 2 with a plain node)", [18, ...len(3), 2, ...lp("a", "1"), 1, ...str("plain"), 2, ...lp("z")]],
  ["set (plain)", [2, ...len(3), ...str("x"), ...str("1"), 0xc0, 5]],
  ["zset (text scores)", [3, ...len(3), ...str("a"), 3, ...b("1.5"), ...str("b"), 254, ...str("c"), 255]],
  ["zset (ziplist)", [12, ...zl("c", "-3", "a", "1", "b", "2.5")]], // stored in score order
  ["hash (plain)", [4, ...len(2), ...str("f"), ...str("v"), ...str("g"), 0xc0, 1]],
  ["hash (ziplist)", [13, ...zl("f", "v", "g", "12")]],
  [
    "hash (zipmap)",
    [
      9,
      ...rdbString(
        Uint8Array.from([2, 3, ...b("foo"), 3, 0, ...b("bar"), 5, ...b("hello"), 5, 1, ...b("world"), 0, 0xff]),
      ),
    ],
  ], // "world" is followed by one free byte
];

describe("hand-built payloads load alike", () => {
  for (const [name, object] of OLD_FORMS) {
    test(name, async () => {
      const p = payload(object);
      const key = `old:${name}`;
      expect(await fly.call("RESTORE", key, "0", p)).toEqual(await redis.call("RESTORE", key, "0", p));
      expect(await snapshot(fly, `old:${name}`)).toEqual(await snapshot(redis, `old:${name}`));
    });
  }
});

/** A payload whose footer is right, around any object bytes. */
const framed = (object: number[], version = 10) => {
  const body = Uint8Array.from([...object, version & 0xff, version >> 8]);
  const out = Buffer.alloc(body.length + 8);
  out.set(body);
  out.writeBigUInt64LE(crc64(0n, body), body.length);
  return out;
};

describe("errors", () => {
  const same = async (...argv: (string | Buffer)[]) => {
    const r = await redis.call(...argv);
    expect(r.t).toBe("-");
    expect(await fly.call(...argv)).toEqual(r);
  };
  const good = () => framed([0, ...str("v")]);
  test("checksum, version and format", async () => {
    await same("RESTORE", "e", "0", "garbage-payload");
    await same("RESTORE", "e", "0", "short");
    const flipped = good();
    flipped[2] ^= 1;
    await same("RESTORE", "e", "0", flipped);
    await same("RESTORE", "e", "0", framed([0, ...str("v")], 11));
    await same("RESTORE", "e", "0", framed([0, 50, ...b("abc")])); // string past the end
    await same("RESTORE", "e", "0", framed([99, 0])); // unknown type
    await same("RESTORE", "e", "0", framed([2, 0])); // empty set
    await same("RESTORE", "e", "0", framed([2, 2, ...str("a"), ...str("a")])); // duplicate members
    await same("RESTORE", "e", "0", framed([4, 1, ...str("a")])); // hash without its value
    await same("RESTORE", "e", "0", framed([0, 0xc3, 4, 10, 1, 97, 98])); // LZF that expands short
  });
  test("arguments", async () => {
    await redis.call("SET", "busy", "1");
    await fly.call("SET", "busy", "1");
    await same("RESTORE", "busy", "0", good());
    await same("RESTORE", "e", "-1", good());
    await same("RESTORE", "e", "x", good());
    await same("RESTORE", "e", "0", good(), "IDLETIME", "-1");
    await same("RESTORE", "e", "0", good(), "IDLETIME", "x");
    await same("RESTORE", "e", "0", good(), "FREQ", "256");
    await same("RESTORE", "e", "0", good(), "FREQ", "1", "IDLETIME", "1");
    await same("RESTORE", "e", "0", good(), "IDLETIME");
    await same("RESTORE", "e", "0", good(), "NOSUCH");
    await same("RESTORE", "e", "0");
    await same("DUMP");
    expect(await fly.call("EXISTS", "e")).toEqual({ t: ":", v: 0n });
  });
  test("REPLACE over another type, an expiry already past, DUMP of a missing key", async () => {
    for (const c of [redis, fly]) {
      await c.call("RPUSH", "r", "x");
      expect(await c.call("RESTORE", "r", "0", good(), "REPLACE", "IDLETIME", "5")).toEqual({ t: "+", v: "OK" });
      expect(await c.call("GET", "r")).toEqual({ t: "$", v: b("v") });
      expect(await c.call("RESTORE", "r", "1", good(), "REPLACE", "ABSTTL")).toEqual({ t: "+", v: "OK" });
      expect(await c.call("EXISTS", "r")).toEqual({ t: ":", v: 0n });
      expect(await c.call("RESTORE", "r", "9223372036854775807", good(), "FREQ", "3")).toEqual({ t: "+", v: "OK" });
      expect(await c.call("EXISTS", "r")).toEqual({ t: ":", v: 0n });
      expect(await c.call("DUMP", "nosuch")).toEqual({ t: "nil", kind: "$" });
    }
  });
  test("a stream restores (groups and the rest: test/integration/stream-diff.test.ts)", async () => {
    await redis.call("XADD", "stream", "1-1", "f", "v");
    const dump = await redis.call("DUMP", "stream");
    expect(await fly.call("RESTORE", "stream", "0", (dump as { v: Buffer }).v)).toEqual({ t: "+", v: "OK" });
    expect(await fly.call("XRANGE", "stream", "-", "+")).toEqual(await redis.call("XRANGE", "stream", "-", "+"));
  });
});
