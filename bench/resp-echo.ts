// The ceiling of the RESP layer: startRespServer with a Map-backed GET/SET handler (no SQLite, no
// command table) against redis-server, both driven by redis-benchmark on loopback. A third server
// answers without touching any store, to separate the RESP layer's cost from the Map's.
//   npx bun bench/resp-echo.ts [--requests 200000] [--clients 50] [--rounds 3]
// Prints requests/s for SET and GET with and without -P 16, and the ratios to redis-server: the
// median of several rounds, the servers taking turns, so a load spike hits all of them alike.
import { freePort } from "../test/helpers/ports.ts";
import * as R from "../src/resp/reply.ts";
import type { Reply } from "../src/resp/reply.ts";
import { startRespServer } from "../src/server/resp-server.ts";
import { argValue } from "./lib.ts";

const requests = argValue("--requests", 200_000);
const clients = argValue("--clients", 50);
const rounds = argValue("--rounds", 3);

const decoder = new TextDecoder("latin1");
const store = new Map<string, Uint8Array>();

function mapHandler(argv: Uint8Array[]): Reply {
  const name = argv[0];
  // Dispatch on length and first byte: enough for redis-benchmark's commands.
  if (name.length === 3 && (name[0] | 32) === 103 /* get */) {
    return R.bulkOrNull(store.get(decoder.decode(argv[1])));
  }
  if (name.length === 3 && (name[0] | 32) === 115 /* set */) {
    store.set(decoder.decode(argv[1]), argv[2].slice()); // a view would keep its whole chunk alive
    return R.OK;
  }
  if (name.length === 4 && (name[0] | 32) === 112 /* ping */) return R.simple("PONG");
  if (name.length === 6 && (name[0] | 32) === 99 /* config */) return R.EMPTY_ARRAY;
  return R.err(`ERR unknown command '${decoder.decode(name)}'`);
}

async function benchmark(port: number, pipeline: number): Promise<Map<string, number>> {
  const proc = Bun.spawn(
    [
      "redis-benchmark",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-t",
      "set,get",
      "-r",
      "100000",
      "-n",
      String(requests),
      "-c",
      String(clients),
      "-P",
      String(pipeline),
      "--csv",
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const rps = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^"(\w+)","([\d.]+)"/.exec(line);
    if (m) rps.set(m[1], Number(m[2]));
  }
  return rps;
}

async function waitForPing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const p = Bun.spawn(["redis-cli", "-p", String(port), "ping"], { stdout: "pipe", stderr: "ignore" });
    if ((await new Response(p.stdout).text()).trim() === "PONG") return;
    await Bun.sleep(50);
  }
  throw new Error(`redis-server on ${port} did not answer PING`);
}

const redisPort = freePort();
const redis = Bun.spawn(
  ["redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  { stdout: "ignore", stderr: "ignore" },
);
const fly = await startRespServer({
  host: "127.0.0.1",
  port: 0,
  onConnection: () => ({ onCommand: mapHandler, protocol: () => 2, onClose: () => {} }),
});
const bare = await startRespServer({
  host: "127.0.0.1",
  port: 0,
  onConnection: () => ({
    onCommand: (argv) => (argv[0].length === 6 ? R.EMPTY_ARRAY : (argv[0][0] | 32) === 115 ? R.OK : R.NULL_BULK),
    protocol: () => 2,
    onClose: () => {},
  }),
});
try {
  await waitForPing(redisPort);
  console.log(`redis-benchmark -t set,get -r 100000 -n ${requests} -c ${clients} (requests/s, median of ${rounds})`);
  console.log("test  -P   redis-server   resp+Map  ratio   resp-only  ratio");
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const pipeline of [1, 16]) {
    const ports = [redisPort, fly.port, bare.port];
    const runs: Map<string, number>[][] = ports.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, port] of ports.entries()) runs[i].push(await benchmark(port, pipeline));
    }
    for (const test of ["SET", "GET"]) {
      const [base, ...others] = runs.map((rs) => median(rs.map((m) => m.get(test) ?? Number.NaN)));
      const cells = others.map((v) => `${v.toFixed(0).padStart(11)}${(v / base).toFixed(2).padStart(7)}`);
      console.log(`${test.padEnd(6)}${String(pipeline).padEnd(3)}${base.toFixed(0).padStart(15)}${cells.join(" ")}`);
    }
  }
} finally {
  redis.kill();
  await redis.exited;
  await fly.stop();
  await bare.stop();
}
