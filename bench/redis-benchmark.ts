// FlyDB (compiled binary, fsync = "always") against redis-server with no persistence and with
// `appendonly yes, appendfsync always`, all driven by redis-benchmark on loopback, with and
// without pipelining. Prints a Markdown table of requests/s and the ratios the targets are set in:
// reads against plain redis, durable writes against redis with appendfsync always.
//
//   npm run bench -- [--requests 100000] [--pipelined-requests 400000] [--clients 50] [--rounds 1]
import { parseArgs } from "node:util";
import { ensureBinary, runTool, startFlyDB, startRedisServer, type ServerProcess } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    "pipelined-requests": { type: "string", default: "400000" },
    clients: { type: "string", default: "50" },
    rounds: { type: "string", default: "1" },
  },
});
const REQUESTS = Number(values.requests);
const PIPELINED_REQUESTS = Number(values["pipelined-requests"]);
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);
const KEYSPACE = 100_000;
const MGET_KEYS = 10;

type Target = "redis" | "redis-aof" | "flydb";
const TARGETS: Target[] = ["redis", "redis-aof", "flydb"];
const TESTS = ["SET", "GET", "INCR", `MGET (${MGET_KEYS} keys)`];

/** One redis-benchmark run: requests/s per test name. */
async function benchmark(port: number, pipeline: number): Promise<Map<string, number>> {
  const n = pipeline > 1 ? PIPELINED_REQUESTS : REQUESTS;
  const common = [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-r",
    String(KEYSPACE),
    "-n",
    String(n),
    "-c",
    String(CLIENTS),
    "-q",
    "--csv",
    ...(pipeline > 1 ? ["-P", String(pipeline)] : []),
  ];
  const rps = new Map<string, number>();
  const builtIn = await runTool(["redis-benchmark", ...common, "-t", "set,get,incr"], { timeoutMs: 600_000 });
  // redis-benchmark has no MGET test: a custom command with random keys from the same key space.
  const mget = await runTool(
    ["redis-benchmark", ...common, "MGET", ...Array.from({ length: MGET_KEYS }, () => "key:__rand_int__")],
    { timeoutMs: 600_000 },
  );
  for (const [out, rename] of [
    [builtIn, undefined],
    [mget, `MGET (${MGET_KEYS} keys)`],
  ] as const) {
    if (out.code !== 0) throw new Error(`redis-benchmark failed (${out.code}): ${out.stderr}${out.stdout}`);
    for (const line of out.stdout.split("\n").slice(1)) {
      const cols = line.split(",").map((c) => c.replaceAll('"', ""));
      if (cols.length < 2 || cols[1] === undefined) continue;
      rps.set(rename ?? cols[0]!, Number(cols[1]));
    }
  }
  return rps;
}

const fmt = (n: number | undefined) => (n === undefined ? "-" : Math.round(n).toLocaleString("en-US"));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? "-" : `${(a / b).toFixed(2)}×`;

async function main(): Promise<void> {
  const binary = ensureBinary();
  const servers: Record<Target, ServerProcess> = {
    redis: await startRedisServer(),
    "redis-aof": await startRedisServer({ aofAlways: true }),
    flydb: await startFlyDB({ binary, args: ["--fsync", "always", "--log-level", "warn"] }),
  };
  try {
    const versions = await runTool(["redis-server", "--version"]);
    console.log(
      `# redis-benchmark: -t set,get,incr + MGET of ${MGET_KEYS} keys, -r ${KEYSPACE}, -c ${CLIENTS}, -n ${REQUESTS} (${PIPELINED_REQUESTS} with -P 16)`,
    );
    console.log(`# ${versions.stdout.trim()}; FlyDB ${binary} with fsync=always; ${new Date().toISOString()}\n`);
    for (let round = 1; round <= ROUNDS; round++) {
      const results = new Map<string, Map<Target, number>>();
      for (const pipeline of [1, 16]) {
        // Targets take turns so a burst of load from elsewhere on the machine hits all of them.
        for (const target of TARGETS) {
          const rps = await benchmark(servers[target].port, pipeline);
          for (const [test, v] of rps) {
            const key = `${test}|${pipeline}`;
            if (!results.has(key)) results.set(key, new Map());
            results.get(key)!.set(target, v);
          }
        }
      }
      console.log(`## Round ${round}\n`);
      console.log(
        "| test | pipeline | redis (no persistence) | redis (appendfsync always) | FlyDB (fsync always) | FlyDB / redis | FlyDB / redis appendfsync always |",
      );
      console.log("|---|---|---:|---:|---:|---:|---:|");
      for (const pipeline of [1, 16]) {
        for (const test of TESTS) {
          const r = results.get(`${test}|${pipeline}`);
          const [plain, aof, fly] = [r?.get("redis"), r?.get("redis-aof"), r?.get("flydb")];
          console.log(
            `| ${test} | ${pipeline === 1 ? "none" : `-P ${pipeline}`} | ${fmt(plain)} | ${fmt(aof)} | ${fmt(fly)} | ${ratio(fly, plain)} | ${ratio(fly, aof)} |`,
          );
        }
      }
      console.log("");
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

await main();
