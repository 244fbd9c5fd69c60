// Stream throughput, FlyDB against redis-server 7.0 in the same run: XADD with `*` from concurrent
// clients (one request in flight per client), then XREADGROUP … COUNT n > by concurrent consumers
// of one group draining a preloaded stream (each delivery also writes its pending entry).
//   npx bun bench/streams.ts [--clients 16] [--adds 20000] [--entries 50000] [--count 10] [--durable 1]
// --durable 1: both make writes durable before replying (FlyDB fsync = "always", Redis appendfsync
// always); 0: neither syncs. Prints ops/s per server and the FlyDB/Redis ratio.
import Redis from "ioredis";
import { argValue, startBenchPair } from "./lib.ts";

const CLIENTS = argValue("--clients", 16);
const ADDS = argValue("--adds", 20_000);
const ENTRIES = argValue("--entries", 50_000);
const COUNT = argValue("--count", 10);
const DURABLE = argValue("--durable", 1) === 1;

/** `clients` connections to the same server as `base`. */
function connections(base: Redis): Redis[] {
  const { host, port } = base.options;
  return Array.from({ length: CLIENTS }, () => new Redis({ host, port, maxRetriesPerRequest: 0 }));
}

/** Runs `worker(client, i)` on every connection until each returns false; the calls per second. */
async function throughput(base: Redis, worker: (c: Redis, i: number) => Promise<number>): Promise<number> {
  const conns = connections(base);
  try {
    await Promise.all(conns.map((c) => c.ping()));
    const started = performance.now();
    const done = await Promise.all(conns.map((c, i) => worker(c, i)));
    const seconds = (performance.now() - started) / 1000;
    return done.reduce((a, b) => a + b, 0) / seconds;
  } finally {
    for (const c of conns) c.disconnect();
  }
}

async function xadd(base: Redis): Promise<number> {
  const per = Math.ceil(ADDS / CLIENTS);
  return throughput(base, async (c, i) => {
    for (let k = 0; k < per; k++) await c.xadd("adds", "*", "client", String(i), "seq", String(k));
    return per;
  });
}

/** Entries delivered per second and XREADGROUP calls per second. */
async function xreadgroup(base: Redis): Promise<{ entries: number; calls: number }> {
  for (let from = 0; from < ENTRIES; from += 1000) {
    const p = base.pipeline();
    for (let k = from; k < Math.min(ENTRIES, from + 1000); k++) {
      p.xadd("reads", `${k + 1}-0`, "job", String(k), "payload", "x".repeat(32));
    }
    await p.exec();
  }
  await base.call("XGROUP", "CREATE", "reads", "g", "0");
  let calls = 0;
  const entries = await throughput(base, async (c, i) => {
    let got = 0;
    while (true) {
      const r = (await c.call("XREADGROUP", "GROUP", "g", `c${i}`, "COUNT", COUNT, "STREAMS", "reads", ">")) as
        | [string, unknown[]][]
        | null;
      calls++;
      const n = r?.[0]?.[1].length ?? 0;
      if (n === 0) return got;
      got += n;
    }
  });
  return { entries, calls: calls / (ENTRIES / entries) };
}

const { redis, fly, stop } = await startBenchPair({ durable: DURABLE });
try {
  console.log(`durable=${DURABLE} clients=${CLIENTS} adds=${ADDS} entries=${ENTRIES} count=${COUNT}`);
  const row = (name: string, r: number, f: number) =>
    console.log(
      `${name.padEnd(34)} redis ${r.toFixed(0).padStart(8)}/s  flydb ${f.toFixed(0).padStart(8)}/s  ratio ${(f / r).toFixed(2)}`,
    );
  row("XADD * (calls)", await xadd(redis), await xadd(fly));
  const r = await xreadgroup(redis);
  const f = await xreadgroup(fly);
  row(`XREADGROUP COUNT ${COUNT} (entries)`, r.entries, f.entries);
  row(`XREADGROUP COUNT ${COUNT} (calls)`, r.calls, f.calls);
} finally {
  await stop();
}
