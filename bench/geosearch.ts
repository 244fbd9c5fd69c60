// GEOSEARCH on a 100,000-member geo index in FlyDB against redis-server 7.0 in the same run:
// both get the same seeded points (a cloud over Europe, about one per 84 km²), then each search
// runs one request at a time over loopback. Prints p50/p99 in microseconds per search and server
// and the ratio of the p50s (FlyDB / Redis). The replies are compared once per search, so a
// faster wrong answer cannot pass for a result.
//   npx bun bench/geosearch.ts [--members 100000] [--ops 2000]
import type Redis from "ioredis";
import { argValue, loadInBatches, percentile, startBenchPair, timeCalls } from "./lib.ts";

const MEMBERS = argValue("--members", 100_000);
const OPS = argValue("--ops", 2000);
const BATCH = 1000;

/** Deterministic points: longitude -10..30, latitude 35..60. */
function point(i: number): [string, string] {
  const a = ((i * 2654435761) % 4294967296) / 4294967296;
  const b = ((i * 40503 + 12345) % 65521) / 65521;
  return [(-10 + a * 40).toFixed(6), (35 + b * 25).toFixed(6)];
}

const load = (client: Redis) =>
  loadInBatches(client, MEMBERS, BATCH, (from, to) => {
    const args: string[] = [];
    for (let i = from; i < to; i++) args.push(...point(i), `m${i}`);
    return ["GEOADD", "geo", ...args];
  });

async function measure(client: Redis, argv: (i: number) => string[]): Promise<{ p50: number; p99: number }> {
  const times = await timeCalls(OPS, (i) => {
    const [cmd, ...rest] = argv(i);
    return client.call(cmd!, ...rest);
  });
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

/** Search centres: members' own points, so every search finds something. */
const centre = (i: number) => point((i * 104729) % MEMBERS);
const someMember = (i: number) => `m${(i * 7919) % MEMBERS}`;
const from = (i: number) => ["GEOSEARCH", "geo", "FROMLONLAT", ...centre(i)];
const CASES: [string, (i: number) => string[]][] = [
  ["BYRADIUS 10 km", (i) => [...from(i), "BYRADIUS", "10", "km"]],
  ["BYRADIUS 50 km ASC WITHDIST", (i) => [...from(i), "BYRADIUS", "50", "km", "ASC", "WITHDIST"]],
  ["BYBOX 100x100 km", (i) => [...from(i), "BYBOX", "100", "100", "km"]],
  ["BYRADIUS 200 km COUNT 10", (i) => [...from(i), "BYRADIUS", "200", "km", "COUNT", "10"]],
  ["FROMMEMBER BYRADIUS 20 km", (i) => ["GEOSEARCH", "geo", "FROMMEMBER", someMember(i), "BYRADIUS", "20", "km"]],
];

const { redis, fly, stop } = await startBenchPair({ durable: false });
try {
  console.log(`loading ${MEMBERS} members (GEOADD of ${BATCH}, 16 pipelined)…`);
  const loadRedis = await load(redis);
  const loadFly = await load(fly);
  const sizes = `ZCARD ${await redis.zcard("geo")} / ${await fly.zcard("geo")}`;
  console.log(`load: redis ${loadRedis.toFixed(1)} s, flydb ${loadFly.toFixed(1)} s; ${sizes}`);
  const columns = ["found", "redis p50", "p99", "flydb p50", "p99", "ratio"].map((c) => c.padStart(10)).join("");
  console.log(`\n${"GEOSEARCH".padEnd(30)}${columns}   (µs, ${OPS} ops each)`);
  const ratios: number[] = [];
  for (const [name, argv] of CASES) {
    const [cmd, ...rest] = argv(1);
    const [want, got] = [await redis.call(cmd!, ...rest), await fly.call(cmd!, ...rest)];
    if (JSON.stringify(want) !== JSON.stringify(got)) throw new Error(`${name}: FlyDB and Redis disagree: ${argv(1)}`);
    const r = await measure(redis, argv);
    const f = await measure(fly, argv);
    ratios.push(f.p50 / r.p50);
    const found = Array.isArray(want) ? want.length : 0;
    const cells = [String(found), r.p50.toFixed(0), r.p99.toFixed(0), f.p50.toFixed(0), f.p99.toFixed(0)];
    console.log(`${name.padEnd(30)}${[...cells, (f.p50 / r.p50).toFixed(1)].map((c) => c.padStart(10)).join("")}`);
  }
  const geomean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
  console.log(`\nflydb/redis p50, geometric mean over the searches: ${geomean.toFixed(1)}x`);
} finally {
  await stop();
}
