// ZUNIONSTORE of two 100,000-member sorted sets (half of their members shared) in FlyDB against
// redis-server 7.0, in the same run: wall time per call, one call at a time over loopback, and
// FlyDB's time as a multiple of Redis's, and ZINTERSTORE of the same sets alongside. Both make
// writes durable before replying: FlyDB's default fsync = "always", Redis with appendfsync always.
//   npx bun bench/zunionstore.ts [--members 100000] [--runs 5]
import type Redis from "ioredis";
import { argValue, startBenchPair, timeCalls } from "./lib.ts";

const MEMBERS = argValue("--members", 100_000);
const RUNS = argValue("--runs", 5);
const BATCH = 1000;

/** Set a holds members 0..n-1, set b members n/2..3n/2-1: half of each is shared. */
async function load(client: Redis, key: string, from: number): Promise<void> {
  const p = client.pipeline();
  for (let b = from; b < from + MEMBERS; b += BATCH) {
    const args: (string | number)[] = [];
    for (let i = b; i < Math.min(from + MEMBERS, b + BATCH); i++) args.push((i * 7919) % 1_000_003, `member:${i}`);
    p.zadd(key, ...args);
  }
  await p.exec();
}

/** Median and minimum wall time of RUNS calls, in milliseconds. */
async function time(op: () => Promise<unknown>): Promise<{ median: number; min: number }> {
  const times = (await timeCalls(RUNS, op)).map((us) => us / 1000);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

// Hash tags keep the three keys in one slot, so the same commands work against a cluster.
const CASES: [string, (c: Redis) => Promise<unknown>][] = [
  ["ZUNIONSTORE dst 2 a b", (c) => c.zunionstore("{z}dst", 2, "{z}a", "{z}b")],
  ["ZINTERSTORE dst 2 a b", (c) => c.zinterstore("{z}dst", 2, "{z}a", "{z}b")],
];

const { redis, fly, stop } = await startBenchPair({ durable: true });
try {
  for (const c of [redis, fly]) {
    await load(c, "{z}a", 0);
    await load(c, "{z}b", MEMBERS / 2);
  }
  const cards = await Promise.all([redis, fly].map((c) => c.zunionstore("{z}dst", 2, "{z}a", "{z}b")));
  console.log(`two sets of ${MEMBERS} members, union of ${cards[0]} (redis) / ${cards[1]} (flydb); ${RUNS} runs each`);
  const header = [`\n${"command".padEnd(24)}`, "redis ms".padStart(16), "flydb ms".padStart(18), "ratio".padStart(8)];
  console.log(`${header.join(" ")}   (median; min in brackets)`);
  for (const [name, op] of CASES) {
    const r = await time(() => op(redis));
    const f = await time(() => op(fly));
    const cells = [`${r.median.toFixed(1)} [${r.min.toFixed(1)}]`, `${f.median.toFixed(1)} [${f.min.toFixed(1)}]`];
    const ratio = `${(f.median / r.median).toFixed(1)}x`;
    console.log(`${name.padEnd(24)} ${cells[0]!.padStart(16)} ${cells[1]!.padStart(18)} ${ratio.padStart(8)}`);
  }
} finally {
  await stop();
}
