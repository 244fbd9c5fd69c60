// A 100 MB value: SET and GET against a standalone FlyDB and redis-server in the same run (issue
// #18), plus how long PINGs from another client waited meanwhile (max and p99: how long the big
// write stalls others).
//
//   npx bun bench/big-value.ts [rounds=3] [mb=100]
import Redis from "ioredis";
import { startFlyDB, startRedisServer, type ServerProcess } from "../test/helpers/processes.ts";

const ROUNDS = Number(process.argv[2] ?? 3);
const MB = Number(process.argv[3] ?? 100);
const value = Buffer.alloc(MB * 1024 * 1024, 0x76);

async function measure(server: ServerProcess): Promise<{ set: number; get: number; stall: number; p99: number }> {
  const c = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  const other = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  await other.ping();
  const pings: number[] = [];
  let busy = true;
  const pinger = (async () => {
    while (busy) {
      const t = performance.now();
      await other.ping();
      pings.push(performance.now() - t);
      await Bun.sleep(5);
    }
  })();
  let t = performance.now();
  await c.set("big", value);
  const set = performance.now() - t;
  t = performance.now();
  const got = await c.getBuffer("big");
  const get = performance.now() - t;
  busy = false;
  await pinger;
  if (got?.length !== value.length) throw new Error(`GET returned ${got?.length} bytes`);
  await c.del("big");
  c.disconnect();
  other.disconnect();
  pings.sort((a, b) => a - b);
  const stall = pings.at(-1) ?? 0;
  const p99 = pings[Math.floor(pings.length * 0.99)] ?? stall;
  return { set, get, stall, p99 };
}

const fly = await startFlyDB({ args: ["--fsync", "always"] });
const redis = await startRedisServer();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const f = await measure(fly);
    const r = await measure(redis);
    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(
      `round ${round}: ${MB} MB SET flydb ${ms(f.set)} / redis ${ms(r.set)} (${(f.set / r.set).toFixed(1)}×), ` +
        `GET flydb ${ms(f.get)} / redis ${ms(r.get)} (${(f.get / r.get).toFixed(1)}×), ` +
        `PING meanwhile max flydb ${ms(f.stall)} / redis ${ms(r.stall)}, p99 flydb ${ms(f.p99)} / redis ${ms(r.p99)}`,
    );
  }
} finally {
  await fly.stop();
  await redis.stop();
}
