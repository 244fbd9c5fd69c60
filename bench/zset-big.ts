// A sorted set of 1,000,000 members in FlyDB (SQLite rows with a (part, key, score, member)
// index) against redis-server 7.0 (skiplist): latency of ZADD, ZSCORE, ZRANK and 10-element
// ZRANGEs, one request at a time over loopback, after loading both with the same members. Both
// make writes durable before replying: FlyDB's default fsync = "always", Redis with
// appendfsync always.
//   npx bun bench/zset-big.ts [--members 1000000] [--ops 2000]
// Prints p50/p99 in microseconds per command and server, and the load time.
import type Redis from "ioredis";
import { argValue, loadInBatches, percentile, startBenchPair, timeCalls } from "./lib.ts";

const MEMBERS = argValue("--members", 1_000_000);
const OPS = argValue("--ops", 2000);
const BATCH = 1000;

/** A deterministic member/score stream: the same set on both servers. */
const member = (i: number) => `member:${(i * 2654435761) % 4294967296}`;
const score = (i: number) => (i * 7919) % 1_000_003;

const load = (client: Redis) =>
  loadInBatches(client, MEMBERS, BATCH, (from, to) => {
    const args: (string | number)[] = [];
    for (let i = from; i < to; i++) args.push(score(i), member(i));
    return ["ZADD", "big", ...args];
  });

async function measure(op: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times = await timeCalls(OPS, op);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

const pick = (i: number) => (i * 104729) % MEMBERS;
const CASES: [string, (c: Redis, i: number) => Promise<unknown>][] = [
  ["ZADD (new member)", (c, i) => c.zadd("big", score(i), `new:${i}`)],
  ["ZADD (update score)", (c, i) => c.zadd("big", score(i) + 0.5, member(pick(i)))],
  ["ZSCORE", (c, i) => c.zscore("big", member(pick(i)))],
  ["ZRANK (random member)", (c, i) => c.zrank("big", member(pick(i)))],
  ["ZREVRANK (random member)", (c, i) => c.zrevrank("big", member(pick(i)))],
  ["ZRANGE 0 9", (c) => c.zrange("big", 0, 9)],
  ["ZRANGE -10 -1", (c) => c.zrange("big", -10, -1)],
  ["ZRANGE mid 10 (rank n/2)", (c) => c.zrange("big", MEMBERS / 2, MEMBERS / 2 + 9)],
  ["ZRANGEBYSCORE x +inf LIMIT 0 10", (c, i) => c.zrangebyscore("big", score(pick(i)), "+inf", "LIMIT", 0, 10)],
  ["ZCARD", (c) => c.zcard("big")],
];

const { redis, fly, stop } = await startBenchPair({ durable: true });
try {
  console.log(`loading ${MEMBERS} members (ZADD of ${BATCH}, 16 pipelined)…`);
  const loadRedis = await load(redis);
  const loadFly = await load(fly);
  console.log(
    `load: redis ${loadRedis.toFixed(1)} s, flydb ${loadFly.toFixed(1)} s; ZCARD ${await redis.zcard("big")} / ${await fly.zcard("big")}`,
  );
  console.log(
    `\n${"command".padEnd(34)} ${"redis p50".padStart(10)} ${"p99".padStart(8)} ${"flydb p50".padStart(10)} ${"p99".padStart(8)}   (µs, ${OPS} ops each)`,
  );
  for (const [name, op] of CASES) {
    const r = await measure((i) => op(redis, i));
    const f = await measure((i) => op(fly, i));
    console.log(
      `${name.padEnd(34)} ${r.p50.toFixed(0).padStart(10)} ${r.p99.toFixed(0).padStart(8)} ${f.p50.toFixed(0).padStart(10)} ${f.p99.toFixed(0).padStart(8)}`,
    );
  }
} finally {
  await stop();
}
