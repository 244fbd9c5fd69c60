// ZUNIONSTORE of two 100,000-member sorted sets (half of their members shared) in FlyDB against
// redis-server 7.0, in the same run: wall time per call, one call at a time over loopback, and
// FlyDB's time as a multiple of Redis's, and ZINTERSTORE of the same sets alongside. Both make
// writes durable before replying: FlyDB's default fsync = "always", Redis with appendfsync always.
//   npx bun bench/zunionstore.ts [--members 100000] [--runs 5]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { freePort } from "../test/helpers/ports.ts";

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const MEMBERS = argValue("--members", 100_000);
const RUNS = argValue("--runs", 5);
const BATCH = 1000;

async function waitReady(client: Redis): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await client.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("server did not answer PING");
}

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
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await op();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

// Hash tags keep the three keys in one slot, so the same commands work against a cluster.
const CASES: [string, (c: Redis) => Promise<unknown>][] = [
  ["ZUNIONSTORE dst 2 a b", (c) => c.zunionstore("{z}dst", 2, "{z}a", "{z}b")],
  ["ZINTERSTORE dst 2 a b", (c) => c.zinterstore("{z}dst", 2, "{z}a", "{z}b")],
];

const dir = mkdtempSync(join(tmpdir(), "flydb-zunion-bench-"));
const procs: ChildProcess[] = [];
try {
  const redisPort = freePort();
  const flyPort = freePort();
  const httpPort = freePort();
  const redisArgs = ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--dir", dir];
  redisArgs.push("--appendonly", "yes", "--appendfsync", "always");
  procs.push(spawn("redis-server", redisArgs, { stdio: "ignore" }));
  const flyArgs = ["cli/flydb.ts", "--bind-addr", `127.0.0.1:${flyPort}`, "--http-addr", `127.0.0.1:${httpPort}`];
  flyArgs.push("--data-dir", join(dir, "fly"), "--node-id", "bench");
  const env = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" };
  procs.push(spawn(process.execPath, flyArgs, { stdio: "ignore", env }));
  const redis = new Redis({ port: redisPort, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  const fly = new Redis({ port: flyPort, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  // Refused connections while the servers start are expected: waitReady retries them.
  for (const c of [redis, fly]) c.on("error", () => {});
  await waitReady(redis);
  await waitReady(fly);
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
  redis.disconnect();
  fly.disconnect();
} finally {
  for (const p of procs) p.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
