// BLPOP/LPUSH ping-pong: client A waits in BLPOP ping and answers each element with LPUSH pong;
// client B pushes ping and waits in BLPOP pong. One round is B's push until B pops the answer: two
// wake-ups of a blocked client and two writes. Reports the round trip (p50, p99) and rounds per
// second for redis-server and FlyDB (dist/flydb, standalone) in the same run, and their ratio.
// With --cluster, a 3-node FlyDB cluster on loopback runs too, A and B connected to different
// members (so at least one of them blocks through a member that does not lead the key).
// Both servers without fsync (FlyDB --fsync no, Redis without AOF): this measures the wake-up path.
//
//   npx bun bench/blpop-pingpong.ts [--rounds 2000] [--cluster]
import Redis from "ioredis";
import { argValue, clusterSettled, percentile } from "./lib.ts";
import {
  ensureBinary,
  startClusterMember,
  startFlyDB,
  startRedisServer,
  type ServerProcess,
} from "../test/helpers/processes.ts";

const ROUNDS = argValue("--rounds", 2000);
const WARMUP = Math.min(200, ROUNDS / 10);

interface Result {
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

function client(port: number): Redis {
  const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  c.on("error", () => {});
  return c;
}

/** A on `portA` echoes every ping as a pong; B on `portB` times WARMUP + ROUNDS rounds. */
async function pingPong(portA: number, portB: number): Promise<Result> {
  const [a, b] = [client(portA), client(portB)];
  await Promise.all([a.del("bench:ping", "bench:pong"), b.ping()]);
  let stop = false;
  const echo = (async () => {
    for (;;) {
      const r = await a.blpop("bench:ping", 0);
      if (stop || !r) return;
      await a.lpush("bench:pong", r[1]);
    }
  })();
  const times: number[] = [];
  const started = { at: 0 };
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    if (i === WARMUP) started.at = performance.now();
    const t = performance.now();
    await b.lpush("bench:ping", String(i));
    const r = await b.blpop("bench:pong", 0);
    if (r?.[1] !== String(i)) throw new Error(`round ${i}: got ${JSON.stringify(r)}`);
    if (i >= WARMUP) times.push(performance.now() - t);
  }
  const seconds = (performance.now() - started.at) / 1000;
  stop = true;
  await b.lpush("bench:ping", "stop");
  await echo;
  a.disconnect();
  b.disconnect();
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), perSecond: ROUNDS / seconds };
}

const servers: ServerProcess[] = [];
const report = (name: string, r: Result, base?: Result) =>
  console.log(
    `${name.padEnd(14)} round trip p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, ` +
      `${r.perSecond.toFixed(0)} rounds/s${base ? `; p50 ${(r.p50 / base.p50).toFixed(2)}x redis-server's` : ""}`,
  );
try {
  const redis = await startRedisServer();
  servers.push(redis);
  const fly = await startFlyDB({ args: ["--fsync", "no"] });
  servers.push(fly);
  console.log(`BLPOP/LPUSH ping-pong, ${ROUNDS} rounds after ${WARMUP} warm-up rounds`);
  const base = await pingPong(redis.port, redis.port);
  report("redis-server", base);
  report("flydb", await pingPong(fly.port, fly.port), base);
  if (process.argv.includes("--cluster")) {
    const binary = ensureBinary();
    const args = ["--fsync", "no", "--log-level", "warn"];
    const first = await startClusterMember({ id: "p1", partitions: 8, binary, args });
    servers.push(first);
    for (const id of ["p2", "p3"]) {
      servers.push(await startClusterMember({ id, seed: first.gossip, partitions: 8, binary, args }));
    }
    await clusterSettled(first, 8);
    const [m1, m2] = servers.slice(-3);
    report("flydb 3-node", await pingPong(m1!.port, m2!.port), base);
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
