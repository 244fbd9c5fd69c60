// Differential test: fast-check generates sequences of string and key commands over a small key
// space; FlyDB and a real redis-server run each sequence from an empty keyspace and must answer
// every command with the same reply, byte for byte and type for type. Expiry-dependent replies
// (TTL, PTTL, EXPIRETIME, PEXPIRETIME) are compared with a tolerance for the moments at which the
// two servers saw the command; the TTLs used are far apart so no comparison (GT/LT, expired or
// not) can flip within that tolerance.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { startFlyDB, startRedisServer, type FlyDBProcess, type ServerProcess } from "../helpers/processes.ts";
import { RespClient, show, type Wire } from "../helpers/resp-client.ts";

const RUNS = Number(process.env.FLYDB_DIFF_RUNS ?? 2000);
const SEED = process.env.FLYDB_DIFF_SEED === undefined ? undefined : Number(process.env.FLYDB_DIFF_SEED);

// Absolute times are fixed for the whole test, so both servers see the same EXAT/PXAT values.
const NOW_S = Math.floor(Date.now() / 1000);

const KEYS = ["k0", "k1", "k2", "k3", "bin\x00\xff"];
const key = fc.constantFrom(...KEYS);
const keys = fc.array(key, { minLength: 1, maxLength: 4 });
const VALUES = [
  "",
  "0",
  "1",
  "-5",
  "10",
  "abc",
  "3.5",
  " 1",
  "007",
  "1e2",
  "9223372036854775807",
  "-9223372036854775808",
  "hello world",
  "\x00\x01\xfe\xff",
  "0.1",
  "1e30",
  "inf",
  "-0",
  "0x1F",
  "1.0000000000000000001",
  // 44 and 45 bytes: OBJECT ENCODING's embstr / raw boundary.
  "x".repeat(44),
  "y".repeat(45),
];
const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const intArg = fc.constantFrom(
  "0",
  "1",
  "-1",
  "3",
  "100",
  "9223372036854775807",
  "-9223372036854775808",
  "abc",
  "1.5",
  "",
  " 3",
  "+2",
  "-0",
  "99999999999999999999",
);
const floatArg = fc.constantFrom(
  "0",
  "1.5",
  "-2.25",
  "0.1",
  "1e2",
  "3",
  "abc",
  "inf",
  "-inf",
  "-0",
  "5.0e3",
  " 1",
  "1e400",
  "0x10",
  "10.50",
  "nan",
  "1.1",
  "-0.5",
  "3.0e-2",
  "0.000001",
  "123456789.123456789",
  "1e20",
  "-1e-20",
  "0x1.8p1",
  ".5",
  "5.",
  "+1.5",
  "1e",
  "1e5000",
  "1e-5000",
);
// Relative TTLs in seconds / ms, far apart from each other and from the absolute ones below.
const secs = fc.constantFrom("100", "1000", "10000", "0", "-5", "abc", "9223372036854775807", "1.5");
const millis = fc.constantFrom("150000", "2500000", "0", "-1", "abc", "9223372036854775807");
const atSecs = fc.constantFrom(String(NOW_S + 500), String(NOW_S + 5000), String(NOW_S + 50000), "1", "0", "-3", "abc");
const atMillis = fc.constantFrom(String((NOW_S + 700) * 1000), String((NOW_S + 7000) * 1000), "1000", "-1", "abc");
const offset = fc.constantFrom(
  "0",
  "1",
  "2",
  "5",
  "-1",
  "-3",
  "-100",
  "20",
  "100",
  "abc",
  "9223372036854775807",
  "-9223372036854775808",
);
// 536870912 is just past the 512 MB limit (an error); anything that fits it would allocate 512 MB.
const setrangeOffset = fc.constantFrom("0", "1", "3", "10", "30", "-1", "abc", "536870912", "9223372036854775807");
const pattern = fc.constantFrom(
  "*",
  "k*",
  "k?",
  "k[0-2]",
  "k[^0]",
  "*1*",
  "\\k*",
  "[",
  "k[",
  "k[1-",
  "b*",
  "?",
  "k\\?",
  "*[\\]]*",
  "K*",
  "bin\x00*",
);

type Op =
  | { readonly kind: "cmd"; readonly argv: string[] }
  | { readonly kind: "scan"; readonly opts: string[] }
  | { readonly kind: "randomkey" }
  | { readonly kind: "dbsize" };
const cmd = (...parts: (string | readonly string[])[]): Op => ({ kind: "cmd", argv: parts.flat() });
const opt = <T>(a: fc.Arbitrary<readonly T[]>) => fc.oneof(fc.constant([] as readonly T[]), a);

const setOptions = fc
  .tuple(
    opt(
      fc.oneof(
        secs.map((s) => ["EX", s]),
        millis.map((s) => ["PX", s]),
        atSecs.map((s) => ["EXAT", s]),
        atMillis.map((s) => ["PXAT", s]),
        fc.constant<string[]>(["KEEPTTL"]),
      ),
    ),
    opt(fc.constantFrom(["NX"], ["XX"], ["nx"])),
    opt(fc.constant(["GET"])),
    opt(fc.constantFrom(["EX", "100", "PX", "100"], ["NX", "XX"], ["FOO"], ["EX"], ["KEEPTTL", "EX", "100"])),
  )
  .chain((parts) => fc.shuffledSubarray(parts, { minLength: parts.length, maxLength: parts.length }))
  .map((parts) => parts.flat());

const getexOptions: fc.Arbitrary<readonly string[]> = fc.oneof(
  fc.constant([] as readonly string[]),
  secs.map((s) => ["EX", s]),
  millis.map((s) => ["PX", s]),
  atSecs.map((s) => ["EXAT", s]),
  atMillis.map((s) => ["PXAT", s]),
  fc.constantFrom(["PERSIST"], ["persist"], ["PERSIST", "EX", "100"], ["EX"], ["FOO"], ["EX", "100", "PX", "100"]),
);
const expireFlags = opt(
  fc.constantFrom(
    ["NX"],
    ["XX"],
    ["GT"],
    ["LT"],
    ["gt"],
    ["NX", "XX"],
    ["GT", "LT"],
    ["NX", "GT"],
    ["XX", "GT"],
    ["FOO"],
  ),
);
const scanOptions = fc
  .tuple(
    opt(pattern.map((p) => ["MATCH", p])),
    opt(fc.constantFrom("1", "2", "10", "1000").map((c) => ["COUNT", c])),
    opt(fc.constantFrom("string", "hash", "STRING", "list", "set", "zset", "stream").map((t) => ["TYPE", t])),
  )
  .map((parts) => parts.flat());

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(key, value, setOptions).map(([k, v, o]) => cmd("SET", k, v, o)) },
  { weight: 5, arbitrary: key.map((k) => cmd("GET", k)) },
  { weight: 1, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("SETNX", k, v)) },
  { weight: 1, arbitrary: fc.tuple(key, secs, value).map(([k, s, v]) => cmd("SETEX", k, s, v)) },
  { weight: 1, arbitrary: fc.tuple(key, millis, value).map(([k, s, v]) => cmd("PSETEX", k, s, v)) },
  { weight: 2, arbitrary: fc.tuple(key, getexOptions).map(([k, o]) => cmd("GETEX", k, o)) },
  { weight: 1, arbitrary: key.map((k) => cmd("GETDEL", k)) },
  { weight: 1, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("GETSET", k, v)) },
  { weight: 2, arbitrary: keys.map((ks) => cmd("MGET", ks)) },
  {
    weight: 2,
    arbitrary: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 3 }).map((kv) => cmd("MSET", kv.flat())),
  },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 3 }).map((kv) => cmd("MSETNX", kv.flat())),
  },
  { weight: 2, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("APPEND", k, v)) },
  { weight: 1, arbitrary: key.map((k) => cmd("STRLEN", k)) },
  // Encodings follow each command's rule (int/embstr/raw by content, or raw once edited in place).
  { weight: 3, arbitrary: key.map((k) => cmd("OBJECT", "ENCODING", k)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(key, fc.constantFrom("0", "7", "100"), fc.constantFrom("0", "1"))
      .map(([k, o, b]) => cmd("SETBIT", k, o, b)),
  },
  { weight: 2, arbitrary: fc.tuple(key, offset, offset).map(([k, a, b]) => cmd("GETRANGE", k, a, b)) },
  { weight: 2, arbitrary: fc.tuple(key, setrangeOffset, value).map(([k, o, v]) => cmd("SETRANGE", k, o, v)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("INCR", "DECR"), key).map(([c, k]) => cmd(c, k)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("INCRBY", "DECRBY"), key, intArg).map(([c, k, n]) => cmd(c, k, n)) },
  { weight: 2, arbitrary: fc.tuple(key, floatArg).map(([k, n]) => cmd("INCRBYFLOAT", k, n)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("DEL", "UNLINK", "EXISTS"), keys).map(([c, ks]) => cmd(c, ks)) },
  { weight: 1, arbitrary: key.map((k) => cmd("TYPE", k)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("RENAME", "RENAMENX"), key, key).map(([c, a, b]) => cmd(c, a, b)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(key, key, fc.constantFrom([], ["REPLACE"], ["replace"], ["DB", "0"], ["FOO"], ["REPLACE", "REPLACE"]))
      .map(([a, b, o]) => cmd("COPY", a, b, o)),
  },
  { weight: 2, arbitrary: fc.tuple(key, secs, expireFlags).map(([k, s, f]) => cmd("EXPIRE", k, s, f)) },
  { weight: 1, arbitrary: fc.tuple(key, millis, expireFlags).map(([k, s, f]) => cmd("PEXPIRE", k, s, f)) },
  { weight: 1, arbitrary: fc.tuple(key, atSecs, expireFlags).map(([k, s, f]) => cmd("EXPIREAT", k, s, f)) },
  { weight: 1, arbitrary: fc.tuple(key, atMillis, expireFlags).map(([k, s, f]) => cmd("PEXPIREAT", k, s, f)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"), key)
      .map(([c, k]) => cmd(c, k)),
  },
  // Keys of other types, so string commands meet WRONGTYPE and generic commands move collections.
  { weight: 1, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("LPUSH", k, v)) },
  { weight: 1, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("HSET", k, "f", v)) },
  { weight: 1, arbitrary: fc.tuple(key, value).map(([k, v]) => cmd("SADD", k, v)) },
  { weight: 1, arbitrary: fc.tuple(key, fc.constantFrom("1", "2.5", "-3")).map(([k, sc]) => cmd("ZADD", k, sc, "m")) },
  { weight: 1, arbitrary: key.map((k) => cmd("LRANGE", k, "0", "-1")) },
  { weight: 1, arbitrary: key.map((k) => cmd("HGET", k, "f")) },
  { weight: 1, arbitrary: key.map((k) => cmd("SCARD", k)) },
  { weight: 1, arbitrary: key.map((k) => cmd("ZRANGE", k, "0", "-1", "WITHSCORES")) },
  { weight: 1, arbitrary: pattern.map((p) => cmd("KEYS", p)) },
  { weight: 1, arbitrary: scanOptions.map((o): Op => ({ kind: "scan", opts: o })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "randomkey" }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: "dbsize" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      cmd("PING"),
      cmd("PING", "hi"),
      cmd("ECHO", "\x00x"),
      cmd("PING", "a", "b"),
      cmd("ECHO"),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      // wrong arity
      cmd("GET"),
      cmd("GET", "k0", "k1"),
      cmd("SET", "k0"),
      cmd("MSET", "k0"),
      cmd("MSET", "k0", "a", "k1"),
      cmd("MSETNX", "k0", "a", "k1"),
      cmd("GETRANGE", "k0", "0"),
      cmd("EXPIRE", "k0"),
      cmd("TTL"),
      cmd("RENAME", "k0"),
      cmd("DEL"),
      cmd("INCRBY", "k0"),
      cmd("SCAN"),
      cmd("KEYS"),
      cmd("DBSIZE", "x"),
      cmd("copy", "k0"),
      // unknown commands and bad arguments
      cmd("FOOBAR", "k0", "x"),
      cmd("get", "k0"),
      cmd("gEt", "k1"),
      cmd("SCAN", "abc"),
      cmd("SCAN", "0", "COUNT", "0"),
      cmd("SCAN", "0", "COUNT", "abc"),
      cmd("SCAN", "0", "FOO"),
      cmd("SCAN", "0", "MATCH"),
      cmd("SCAN", "-1"),
      cmd("SCAN", ""),
      cmd("SCAN", "+0"),
      cmd("SCAN", "000"),
      cmd("SCAN", " 0"),
      cmd("SCAN", "0 "),
      cmd("SCAN", "18446744073709551615"),
      cmd("SCAN", "18446744073709551616"),
      cmd("SCAN", "-18446744073709551616"),
      cmd("SETEX", "k0", "100"),
      cmd("EXPIRE", "k0", "100", "NX", "NX"),
      cmd("GETEX", "k0", "EX", "0"),
      cmd("SET", "k0", "v", "PX", "0"),
      cmd("SET", "k0", "v", "EXAT", "0"),
    ),
  },
);

/** Replies that depend on when each server ran the command: the allowed difference. */
const TOLERANCE: Record<string, bigint> = { TTL: 2n, PTTL: 2000n, EXPIRETIME: 2n, PEXPIRETIME: 2000n };

function sameReply(argv: readonly string[], a: Wire, b: Wire): boolean {
  const name = argv[0]!.toUpperCase();
  if (name === "KEYS" && a.t === "*" && b.t === "*") return sortedKeys(a) === sortedKeys(b);
  if (name === "SCAN" && a.t === "*" && b.t === "*") {
    // What a cursor the server did not hand out returns is implementation-defined; from 0 the
    // keys of a tiny keyspace come back in one call, in hash order (Redis) or key order (FlyDB).
    if (!/^[+-]?0*$/.test(argv[1]!)) return true;
    return show(a.v[0]!) === show(b.v[0]!) && sortedKeys(a.v[1]!) === sortedKeys(b.v[1]!);
  }
  const tol = TOLERANCE[name];
  if (tol !== undefined && a.t === ":" && b.t === ":") {
    if (a.v < 0n || b.v < 0n) return a.v === b.v;
    const d = a.v - b.v;
    return d <= tol && -d <= tol;
  }
  return show(a) === show(b);
}

/**
 * DBSIZE. Redis's also counts keys that expired but were not reclaimed yet (SET … EXAT 1 leaves
 * one behind); FlyDB counts live keys, which is what KEYS * on redis-server lists.
 */
async function liveCount(c: RespClient): Promise<string> {
  const n = await c.call("DBSIZE");
  if (c !== rc || n.t !== ":") return show(n);
  const live = await c.call("KEYS", "*");
  return live.t === "*" ? `:${live.v.length}` : show(live);
}

function sortedKeys(w: Wire): string {
  if (w.t !== "*") return show(w);
  return w.v.map(show).sort().join(", ");
}

/** Full SCAN iteration: the set of keys returned, or the first error. */
async function scanAll(c: RespClient, opts: readonly string[]): Promise<string> {
  const seen = new Set<string>();
  let cursor = "0";
  for (let i = 0; i < 1000; i++) {
    const r = await c.call("SCAN", cursor, ...opts);
    if (r.t !== "*" || r.v.length !== 2 || r.v[0]!.t !== "$" || r.v[1]!.t !== "*") return show(r);
    for (const k of r.v[1].v) seen.add(show(k));
    cursor = r.v[0].v.toString("latin1");
    if (cursor === "0") return [...seen].sort().join(", ");
  }
  return "SCAN did not finish within 1000 calls";
}

/** RANDOMKEY: nil on an empty keyspace, else some existing key; we compare only which of those. */
async function randomKeyShape(c: RespClient): Promise<string> {
  const r = await c.call("RANDOMKEY");
  if (r.t !== "$") return show(r);
  const exists = await c.call("EXISTS", r.v);
  return exists.t === ":" && exists.v === 1n ? "an existing key" : `a missing key ${show(r)}`;
}

function render(o: Op): string {
  if (o.kind === "scan") return `SCAN (full) ${o.opts.map((a) => JSON.stringify(a)).join(" ")}`;
  if (o.kind === "randomkey") return "RANDOMKEY";
  if (o.kind === "dbsize") return "DBSIZE";
  return o.argv.map((a) => JSON.stringify(a)).join(" ");
}

let rc: RespClient;
let fc2: RespClient;
let runs = 0;

describe("FlyDB vs redis-server on string and key commands", () => {
  let redis: ServerProcess;
  let flydb: FlyDBProcess;

  beforeAll(async () => {
    // Semantics, not durability, are compared here: neither server fsyncs, so the run is fast.
    [redis, flydb] = await Promise.all([startRedisServer(), startFlyDB({ args: ["--fsync", "no"] })]);
    [rc, fc2] = await Promise.all([RespClient.connect(redis.port), RespClient.connect(flydb.port)]);
  });

  afterAll(async () => {
    rc?.close();
    fc2?.close();
    await Promise.all([redis?.stop(), flydb?.stop()]);
  });

  test(`${RUNS} generated command sequences give the same replies`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.boolean(), async (ops, resp3) => {
        const flush = await Promise.all([rc.call("FLUSHALL"), fc2.call("FLUSHALL")]);
        expect(flush.map(show)).toEqual(["+OK", "+OK"]);
        const hello = await Promise.all([rc.call("HELLO", resp3 ? "3" : "2"), fc2.call("HELLO", resp3 ? "3" : "2")]);
        expect(hello.map((h) => h.t)).toEqual(resp3 ? ["%", "%"] : ["*", "*"]);
        const transcript: string[] = [];
        const differ = () => new Error(`replies differ (RESP${resp3 ? 3 : 2}):\n  ${transcript.join("\n  ")}`);
        // Consecutive plain commands go out pipelined, which also checks that FlyDB answers a
        // pipeline in order with every read seeing the writes before it.
        for (let i = 0; i < ops.length; ) {
          const o = ops[i]!;
          if (o.kind === "cmd") {
            const batch: string[][] = [];
            for (; i < ops.length && ops[i]!.kind === "cmd"; i++) batch.push((ops[i] as { argv: string[] }).argv);
            const [ra, rb] = await Promise.all([
              Promise.all(batch.map((argv) => rc.call(...argv))),
              Promise.all(batch.map((argv) => fc2.call(...argv))),
            ]);
            for (let j = 0; j < batch.length; j++) {
              transcript.push(
                `${render({ kind: "cmd", argv: batch[j]! })}\n    redis: ${show(ra[j]!)}\n    flydb: ${show(rb[j]!)}`,
              );
              if (!sameReply(batch[j]!, ra[j]!, rb[j]!)) throw differ();
            }
            continue;
          }
          const run =
            o.kind === "scan"
              ? (c: RespClient) => scanAll(c, o.opts)
              : o.kind === "dbsize"
                ? liveCount
                : randomKeyShape;
          const [a, b] = await Promise.all([run(rc), run(fc2)]);
          transcript.push(`${render(o)}\n    redis: ${a}\n    flydb: ${b}`);
          if (a !== b) throw differ();
          i++;
        }
        // Same final state, value by value (including TTLs within tolerance).
        const probes = KEYS.flatMap((k) => ["GET", "PTTL", "TYPE"].map((c) => [c, k]));
        const [fa, fb] = await Promise.all([
          Promise.all(probes.map((p) => rc.call(...p))),
          Promise.all(probes.map((p) => fc2.call(...p))),
        ]);
        probes.forEach((p, j) => {
          if (!sameReply(p, fa[j]!, fb[j]!))
            throw new Error(
              `final state differs at ${p.join(" ")}: redis ${show(fa[j]!)}, flydb ${show(fb[j]!)}\n  ${transcript.join("\n  ")}`,
            );
        });
        runs++;
      }),
      // Bounded in time on a loaded machine; how many runs finished is printed.
      { numRuns: RUNS, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: 45_000 },
    );
    console.log(`strings-diff: ${runs} sequences compared`);
    expect(runs).toBeGreaterThan(0);
  }, 120_000);
});
