// A dataset of every Redis type and RDB encoding, built with real commands on redis-server 7.0 (the
// comment says which encoding Redis picks), and what a client can see of a key, for comparing two
// servers key by key: the DUMP/RESTORE and RDB import/export tests share them.
import { sortWire } from "./diff-servers.ts";
import type { RespClient, Wire } from "./resp-client.ts";

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Pseudo-random bytes (xorshift): Redis cannot compress them. */
export function noise(n: number): Buffer {
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
export const FIXTURES: (string | Buffer)[][] = [
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
export const KEYS = [...new Set(FIXTURES.filter((c) => c[0] !== "CONFIG").map((c) => String(c[1])))];

/** What a client can see of a key: type, value (unordered ones sorted), encoding, expiry; a stream's groups. */
export async function snapshot(c: RespClient, key: string): Promise<Wire[]> {
  const t = (await c.call("TYPE", key)) as { t: "+"; v: string };
  const value = {
    string: () => c.call("GET", key),
    list: () => c.call("LRANGE", key, "0", "-1"),
    set: async () => sortWire(await c.call("SMEMBERS", key)),
    zset: () => c.call("ZRANGE", key, "0", "-1", "WITHSCORES"),
    hash: async () => sortWire(await c.call("HGETALL", key), true),
    stream: () => c.call("XRANGE", key, "-", "+"),
    none: () => c.call("EXISTS", key),
  }[t.v];
  if (!value) throw new Error(`unexpected type ${t.v} of ${key}`);
  const groups = t.v === "stream" ? [await c.call("XINFO", "GROUPS", key)] : [];
  return [t, await value(), await c.call("OBJECT", "ENCODING", key), await c.call("PEXPIRETIME", key), ...groups];
}

/** Streams: a listpack per 100 entries, deleted entries, consumer groups with pending entries. */
export const STREAM_FIXTURES: (string | Buffer)[][] = [
  ["XADD", "x:small", "1-1", "f", "v", "n", "1"],
  ["XADD", "x:small", "1-2", "f", "w"],
  ...range(250).map((i) => ["XADD", "x:big", `${1000 + i}-0`, "field", `value-${i}`, "i", String(i)]),
  ["XDEL", "x:big", "1005-0", "1100-0"],
  ["XGROUP", "CREATE", "x:big", "g1", "0"],
  ["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "x:big", ">"],
  ["XGROUP", "CREATE", "x:big", "g2", "$"],
  ["XADD", "x:ttl", "5-5", "a", "b"],
  ["PEXPIRE", "x:ttl", "300000"],
];
export const STREAM_KEYS = [...new Set(STREAM_FIXTURES.filter((c) => c[0] === "XADD").map((c) => String(c[1])))];
