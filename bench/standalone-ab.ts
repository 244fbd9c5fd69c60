// A/B of a standalone node between two compiled binaries (e.g. main's and a branch's), in
// interleaved rounds (old, new; then new, old; …), each on a fresh data dir with fsync=always:
// redis-benchmark durable SET (-c 50), pipelined SET (-P 16) and GET. Prints per-round new/old
// ratios, their median and spread: on a shared, noisy machine only ratios of neighbours mean much.
//
//   npx bun bench/standalone-ab.ts OLD_BINARY NEW_BINARY [rounds=5] [requests=20000] [fsync=always]
import { runTool, startFlyDB } from "../test/helpers/processes.ts";

const [oldBin, newBin, roundsArg, requestsArg, fsyncArg] = process.argv.slice(2);
if (!oldBin || !newBin) throw new Error("usage: bench/standalone-ab.ts OLD_BINARY NEW_BINARY [rounds] [requests] [fsync]");
const ROUNDS = Number(roundsArg ?? 5);
const REQUESTS = Number(requestsArg ?? 20000);
const FSYNC = fsyncArg ?? "always";
const KEYSPACE = 100_000;

const TESTS = {
  set: { test: "set", extra: [] as string[], requests: REQUESTS },
  "set -P 16": { test: "set", extra: ["-P", "16"], requests: REQUESTS * 8 },
  get: { test: "get", extra: [] as string[], requests: REQUESTS },
} as const;
type Test = keyof typeof TESTS;

async function rps(port: number, t: Test): Promise<number> {
  const { test, extra, requests } = TESTS[t];
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", test, "-r", String(KEYSPACE), "-n", String(requests)];
  const out = await runTool(["redis-benchmark", ...args, "-c", "50", "-q", "--csv", ...extra], { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark ${t} failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!line) throw new Error(`no ${test.toUpperCase()} line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

async function round(binary: string): Promise<Record<Test, number>> {
  const node = await startFlyDB({ binary, args: ["--log-level", "warn", "--fsync", FSYNC] });
  try {
    // GET runs last, on the keys the SET runs wrote.
    const r = {} as Record<Test, number>;
    for (const t of Object.keys(TESTS) as Test[]) r[t] = await rps(node.port, t);
    return r;
  } finally {
    await node.stop(2000);
  }
}

const results = { old: [] as Record<Test, number>[], new: [] as Record<Test, number>[] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
  for (const name of order) {
    const x = await round(name === "old" ? oldBin : newBin);
    results[name].push(x);
    const line = (Object.keys(TESTS) as Test[]).map((t) => `${t} ${x[t].toFixed(0)}/s`).join(", ");
    console.log(`round ${r + 1} ${name}: ${line}`);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const t of Object.keys(TESTS) as Test[]) {
  const ratios = results.new.map((n, i) => n[t] / results.old[i]![t]);
  const [o, n] = [results.old, results.new].map((r) => median(r.map((x) => x[t])).toFixed(0));
  const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  const perRound = ratios.map((x) => x.toFixed(2)).join(" ");
  console.log(`${t}: new/old per round ${perRound}; median ratio ${median(ratios).toFixed(2)} (spread ${spread});` +
    ` median/s old ${o}, new ${n}`);
}
