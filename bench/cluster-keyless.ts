// Keyless commands on a 3-node FlyDB cluster on loopback (in-process members) against one
// redis-server: DBSIZE, KEYS *, a full SCAN, RANDOMKEY and FLUSHALL after writing N keys, each
// fanned out to every partition's leader; then the time a graceful POST /cluster/leave takes.
//
//   npx bun bench/cluster-keyless.ts [--keys 10000] [--partitions 256] [--repeat 20]
import { parseArgs } from "node:util";
import Redis from "ioredis";
import { startCluster, waitHealthy } from "../test/helpers/cluster-nodes.ts";
import { startRedisServer } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "10000" },
    partitions: { type: "string", default: "256" },
    repeat: { type: "string", default: "20" },
  },
});
const KEYS = Number(values.keys);
const REPEAT = Number(values.repeat);

/** Median milliseconds of `REPEAT` runs of fn (one warm-up run first). */
async function median(fn: () => Promise<unknown>, repeat = REPEAT): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function fill(r: Redis): Promise<void> {
  for (let i = 0; i < KEYS; i += 500) {
    const p = r.pipeline();
    for (let j = i; j < Math.min(KEYS, i + 500); j++) p.set(`key:${j}`, "x");
    await p.exec();
  }
}

async function fullScan(r: Redis): Promise<number> {
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await r.scan(cursor, "COUNT", 100);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n;
}

async function measure(name: string, r: Redis): Promise<Record<string, string | number>> {
  await r.flushall();
  await fill(r);
  const scanned = await fullScan(r);
  if (scanned !== KEYS || (await r.dbsize()) !== KEYS)
    throw new Error(`${name}: scan saw ${scanned} keys, expected ${KEYS}`);
  const row: Record<string, string | number> = { target: name };
  row["DBSIZE ms"] = (await median(() => r.dbsize())).toFixed(2);
  row["KEYS * ms"] = (await median(() => r.keys("*"), 5)).toFixed(1);
  row["full SCAN COUNT 100 ms"] = (await median(() => fullScan(r), 3)).toFixed(1);
  row["RANDOMKEY ms"] = (await median(() => r.randomkey())).toFixed(2);
  const t = performance.now();
  await r.flushall();
  row["FLUSHALL ms"] = (performance.now() - t).toFixed(1);
  return row;
}

const rows: Record<string, string | number>[] = [];
const redis = await startRedisServer();
const rc = new Redis({ port: redis.port, host: "127.0.0.1" });
rows.push(await measure("redis-server 7", rc));
rc.disconnect();
await redis.stop();

const c = await startCluster(3, "bench", { partition_count: values.partitions, fsync: "always" });
try {
  await waitHealthy(c, 3, 120_000);
  const fc = new Redis({ port: c.members[1]!.node.respPort, host: "127.0.0.1" });
  rows.push(await measure(`FlyDB 3 nodes, ${values.partitions} partitions`, fc));
  fc.disconnect();
  const t = performance.now();
  const r = (await (await c.http(2, "/cluster/leave?timeout_ms=120000", { method: "POST" })).json()) as {
    drained: boolean;
    waited_ms: number;
  };
  console.log(
    `POST /cluster/leave (empty keyspace, ${values.partitions} partitions): drained=${r.drained} in ${r.waited_ms} ms (request ${(performance.now() - t).toFixed(0)} ms)`,
  );
} finally {
  await c.stop();
}
console.log(`${KEYS} keys; medians over ${REPEAT} runs (KEYS 5, SCAN 3); client on loopback`);
console.table(rows);
