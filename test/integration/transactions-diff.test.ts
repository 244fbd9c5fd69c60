// MULTI/EXEC/DISCARD/WATCH/UNWATCH against the real redis-server 7.0: scripted scenarios for each
// rule (queueing errors, runtime errors, WATCH broken by another client, by the same client, by
// expiry, by FLUSHALL), then fast-check sequences interleaving two clients' transactions.
import { beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import type { Wire } from "../helpers/resp-client.ts";

const { servers } = useDiffServers();
const a: Pair = servers;
let b: Pair;

beforeAll(async () => {
  b = await servers.connect();
});

/** Runs one command on both servers and returns both replies, FlyDB's first. */
async function both(pair: Pair, ...argv: string[]): Promise<[Wire, Wire]> {
  const r = await pair.redis.call(...argv);
  const f = await pair.fly.call(...argv);
  return [f, r];
}

/** Runs a script of [client, argv] steps on both servers; every reply must be equal. */
async function script(steps: [Pair, ...string[]][]): Promise<Wire[]> {
  await both(a, "FLUSHALL");
  // A connection left inside MULTI by an earlier failure must not leak into this script.
  for (const p of [a, b]) for (const c of [p.redis, p.fly]) await c.call("RESET");
  const out: Wire[] = [];
  for (const [pair, ...argv] of steps) {
    const [f, r] = await both(pair, ...argv);
    expect({ argv, reply: f }).toEqual({ argv, reply: r });
    out.push(f);
  }
  return out;
}

const nil: Wire = { t: "nil", kind: "*" };

describe("transactions like redis-server 7.0", () => {
  test("EXEC applies every queued command, runtime errors stay in their slot", async () => {
    const out = await script([
      [a, "MULTI"],
      [a, "SET", "k", "1"],
      [a, "INCR", "k"],
      [a, "LPUSH", "k", "x"],
      [a, "GET", "k"],
      [a, "PING"],
      [a, "ECHO", "hi"],
      [a, "EXEC"],
      [a, "GET", "k"],
    ]);
    expect(out[7]).toMatchObject({ t: "*" });
  });

  test("a command pipelined after EXEC is not queued into the transaction, even while EXEC waits behind a write", async () => {
    await both(a, "FLUSHALL");
    const pipelined = async (c: Pair["fly"]) =>
      Promise.all([
        c.call("SET", "k", "v"),
        // A read behind the write in flight waits, and so must everything after it, EXEC included.
        c.call("GET", "k"),
        c.call("MULTI"),
        c.call("INCR", "n"),
        c.call("EXEC"),
        c.call("PING"),
        c.call("GET", "n"),
      ]);
    const [fly, redis] = [await pipelined(a.fly), await pipelined(a.redis)];
    expect(fly).toEqual(redis);
    expect(fly[5]).toEqual({ t: "+", v: "PONG" });
  });

  test("queueing errors abort EXEC; control errors do not", async () => {
    await script([
      [a, "EXEC"],
      [a, "DISCARD"],
      [a, "MULTI"],
      [a, "MULTI"],
      [a, "WATCH", "k"],
      [a, "SET", "k", "1"],
      [a, "EXEC"],
      [a, "MULTI"],
      [a, "NOSUCH", "x"],
      [a, "SET", "k", "2"],
      [a, "EXEC"],
      [a, "GET", "k"],
      [a, "MULTI"],
      [a, "GET"],
      [a, "EXEC"],
      [a, "MULTI"],
      [a, "SET", "k", "3"],
      [a, "DISCARD"],
      [a, "GET", "k"],
    ]);
  });

  test("a command flagged no-multi is refused inside MULTI and dooms the transaction", async () => {
    const out = await script([
      [a, "MULTI"],
      [a, "SET", "k", "1"],
      [a, "SAVE"],
      [a, "EXEC"],
      [a, "GET", "k"],
    ]);
    expect(out[3]).toMatchObject({ t: "-" });
  });

  test("WATCH: a write by another client makes EXEC return nil", async () => {
    const out = await script([
      [a, "SET", "k", "1"],
      [a, "WATCH", "k"],
      [b, "SET", "k", "2"],
      [a, "MULTI"],
      [a, "SET", "k", "3"],
      [a, "EXEC"],
      [a, "GET", "k"],
    ]);
    expect(out[5]).toEqual(nil);
  });

  test("WATCH: own writes count, other keys do not, UNWATCH and EXEC forget", async () => {
    await script([
      [a, "WATCH", "k"],
      [a, "SET", "k", "1"],
      [a, "MULTI"],
      [a, "INCR", "k"],
      [a, "EXEC"],
      [a, "WATCH", "k"],
      [b, "SET", "other", "1"],
      [a, "MULTI"],
      [a, "INCR", "k"],
      [a, "EXEC"],
      [a, "WATCH", "k"],
      [b, "SET", "k", "9"],
      [a, "UNWATCH"],
      [a, "MULTI"],
      [a, "INCR", "k"],
      [a, "EXEC"],
      [a, "WATCH", "k"],
      [a, "MULTI"],
      [a, "EXEC"],
      [b, "SET", "k", "1"],
      [a, "MULTI"],
      [a, "INCR", "k"],
      [a, "EXEC"],
    ]);
  });

  test("WATCH: a key created and deleted again in between still counts; a no-op write does not", async () => {
    const out = await script([
      [a, "WATCH", "k"],
      [b, "SADD", "k", "m"],
      [b, "DEL", "k"],
      [a, "MULTI"],
      [a, "SET", "k", "1"],
      [a, "EXEC"],
      [a, "SADD", "s", "m"],
      [a, "WATCH", "s"],
      [b, "SADD", "s", "m"],
      [b, "SREM", "s", "nosuch"],
      [b, "HDEL", "s", "f"],
      [a, "MULTI"],
      [a, "SCARD", "s"],
      [a, "EXEC"],
    ]);
    expect(out[5]).toEqual(nil);
    expect(out[13]).toMatchObject({ t: "*" });
  });

  test("WATCH and FLUSHALL: broken for a key that existed, not for one that did not", async () => {
    const out = await script([
      [a, "SET", "k", "1"],
      [a, "WATCH", "k", "absent"],
      [b, "FLUSHALL"],
      [a, "MULTI"],
      [a, "SET", "x", "1"],
      [a, "EXEC"],
      [a, "WATCH", "absent"],
      [b, "FLUSHALL"],
      [a, "MULTI"],
      [a, "SET", "x", "1"],
      [a, "EXEC"],
    ]);
    expect(out[5]).toEqual(nil);
    expect(out[10]).toMatchObject({ t: "*" });
  });

  test("WATCH: a key that expires before EXEC breaks the transaction", async () => {
    await script([
      [a, "SET", "k", "1", "PX", "60"],
      [a, "WATCH", "k"],
    ]);
    await new Promise((r) => setTimeout(r, 150));
    const [multi] = await both(a, "MULTI");
    expect(multi).toEqual({ t: "+", v: "OK" });
    await both(a, "SET", "x", "1");
    const [f, r] = await both(a, "EXEC");
    expect(f).toEqual(r);
    expect(f).toEqual(nil);
  });

  test("RESP3 replies inside EXEC keep their RESP3 shapes", async () => {
    const pair = await servers.connect();
    await both(pair, "HELLO", "3");
    await both(pair, "ZADD", "z", "1", "a", "2", "b");
    await both(pair, "MULTI");
    await both(pair, "ZRANGE", "z", "0", "-1", "WITHSCORES");
    await both(pair, "ZSCORE", "z", "a");
    await both(pair, "HGETALL", "nosuch");
    const [f, r] = await both(pair, "EXEC");
    expect(f).toEqual(r);
  });
});

// Two clients, each command picked from a small deterministic set plus the transaction commands.
const key = fc.constantFrom("k1", "k2");
const step = fc.tuple(
  fc.constantFrom(0, 1),
  fc.oneof(
    { arbitrary: fc.constantFrom(["MULTI"], ["EXEC"], ["DISCARD"], ["UNWATCH"]), weight: 4 },
    { arbitrary: fc.array(key, { minLength: 1, maxLength: 2 }).map((ks) => ["WATCH", ...ks]), weight: 2 },
    { arbitrary: key.map((k) => ["INCR", k]), weight: 2 },
    { arbitrary: key.map((k) => ["GET", k]), weight: 1 },
    { arbitrary: key.map((k) => ["DEL", k]), weight: 1 },
    { arbitrary: key.map((k) => ["SADD", k, "m"]), weight: 1 },
    { arbitrary: fc.tuple(key, fc.constantFrom("0", "1")).map(([k, v]) => ["SETNX", k, v]), weight: 1 },
    { arbitrary: fc.constantFrom(["NOSUCH"], ["GET"], ["PING"]), weight: 1 },
  ),
);

test("interleaved transactions of two clients match redis-server", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
      await script(steps.map(([who, argv]) => [who === 0 ? a : b, ...argv] as [Pair, ...string[]]));
    }),
    { numRuns: Number(process.env.TX_DIFF_RUNS ?? 100) },
  );
}, 120_000);
