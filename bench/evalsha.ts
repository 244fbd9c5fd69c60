// EVALSHA of a 5-command script (SET, GET, INCR, EXPIRE, HSET on keys of one hash tag) in FlyDB
// against redis-server 7.0 in the same run, driven by redis-benchmark on loopback with 50 clients.
// Two pairs: durable (FlyDB fsync = "always" vs Redis appendfsync always) and not (fsync = "no"
// vs no persistence). Prints requests/s and the ratio FlyDB / Redis. The script's reply is
// compared once on both servers, so a faster wrong answer cannot pass for a result.
//   npx bun bench/evalsha.ts [--requests 20000] [--clients 50]
import { runTool } from "../test/helpers/processes.ts";
import { argValue, startBenchPair } from "./lib.ts";

const REQUESTS = argValue("--requests", 20_000);
const CLIENTS = argValue("--clients", 50);
const SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1])
local v = redis.call('GET', KEYS[1])
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[1], 100)
redis.call('HSET', KEYS[3], 'last', v)
return n`;

async function requestsPerSecond(port: number, sha: string): Promise<number> {
  const r = await runTool(
    [
      "redis-benchmark",
      ...["-h", "127.0.0.1", "-p", String(port), "-n", String(REQUESTS), "-c", String(CLIENTS), "-r", "10000"],
      ...["-q", "--csv", "EVALSHA", sha, "3", "{k__rand_int__}:s", "{k__rand_int__}:n", "{k__rand_int__}:h", "v"],
    ],
    { timeoutMs: 600_000 },
  );
  const line = r.stdout.trim().split("\n").pop() ?? "";
  const rps = Number(line.split(",")[1]?.replace(/"/g, ""));
  if (!(rps > 0)) throw new Error(`redis-benchmark printed no rate: ${r.stdout} ${r.stderr}`);
  return rps;
}

console.log(`| persistence | redis-server req/s | FlyDB req/s | FlyDB / Redis |`);
console.log(`|---|---:|---:|---:|`);
for (const durable of [true, false]) {
  const { redis, fly, stop } = await startBenchPair({ durable });
  try {
    const sha = (await redis.script("LOAD", SCRIPT)) as string;
    if ((await fly.script("LOAD", SCRIPT)) !== sha) throw new Error("the servers name the script differently");
    const args = ["3", "{c}:s", "{c}:n", "{c}:h", "v"] as const;
    const [want, got] = [await redis.evalsha(sha, ...args), await fly.evalsha(sha, ...args)];
    if (want !== got) throw new Error(`FlyDB and Redis disagree: ${want} vs ${got}`);
    const r = await requestsPerSecond(redis.options.port!, sha);
    const f = await requestsPerSecond(fly.options.port!, sha);
    const label = durable ? "durable (fsync always / appendfsync always)" : "none (fsync no / no AOF)";
    console.log(`| ${label} | ${r.toFixed(0)} | ${f.toFixed(0)} | ${(f / r).toFixed(2)}× |`);
  } finally {
    await stop();
  }
}
