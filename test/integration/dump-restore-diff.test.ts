// DUMP/RESTORE against a real redis-server 7.0: values of every type and encoding move from Redis
// to FlyDB and back, compared value by value (with TTLs, through ABSTTL); the old RDB forms Redis
// 7.0 still loads (ziplists, zipmaps, text scores) are hand-built and restored into both; bad
// payloads and arguments get the same error from both.
import { beforeAll, describe, expect, test } from "bun:test";
import { crc64 } from "../../src/rdb/crc64.ts";
import { writeListpack } from "../../src/rdb/listpack.ts";
import { useDiffServers } from "../helpers/diff-servers.ts";
import { FIXTURES, KEYS, snapshot } from "../helpers/rdb-dataset.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";
import { payload, rdbString, ziplist } from "../helpers/ziplist.ts";

const { servers } = useDiffServers();
let redis: RespClient;
let fly: RespClient;

beforeAll(async () => {
  ({ redis, fly } = servers);
  for (const cmd of FIXTURES) await redis.call(...cmd);
});

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
