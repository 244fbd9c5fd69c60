// A/B of a standalone node between two compiled binaries (e.g. main's and a branch's), in
// interleaved rounds (old, new; then new, old; …), each on a fresh data dir: redis-benchmark
// durable SET (-c 50), pipelined SET (-P 16) and GET. Prints per-round new/old ratios, their
// median and spread: on a shared, noisy machine only ratios of neighbours mean much.
// A standalone node is a cluster of one without ports (src/cluster/standalone.ts).
// --new-cluster-of-one starts the new side as a cluster member that bootstrapped alone (loopback
// Raft and gossip ports, the router and control round in the path); --old-cluster-of-one does the
// same for the old side (an A/B of that path between two binaries).
//
//   npx bun bench/standalone-ab.ts --old BIN --new BIN [--rounds 5] [--requests 20000] [--fsync always]
//     [--new-cluster-of-one] [--old-cluster-of-one]
import { parseArgs } from "node:util";
import { runTool, startClusterMember, startFlyDB, type FlyDBProcess } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    old: { type: "string" },
    new: { type: "string" },
    rounds: { type: "string", default: "5" },
    requests: { type: "string", default: "20000" },
    fsync: { type: "string", default: "always" },
    "new-cluster-of-one": { type: "boolean", default: false },
    "old-cluster-of-one": { type: "boolean", default: false },
  },
});
if (!values.old || !values.new) throw new Error("usage: bench/standalone-ab.ts --old BIN --new BIN [--rounds N] …");
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const KEYSPACE = 100_000;
const PARTITIONS = 256; // partition_count's default, which a standalone node uses too

const TESTS = {
  set: { test: "set", extra: [] as string[], requests: REQUESTS },
  "set -P 16": { test: "set", extra: ["-P", "16"], requests: REQUESTS * 8 },
  get: { test: "get", extra: [] as string[], requests: REQUESTS },
} as const;
type Test = keyof typeof TESTS;
const NAMES = Object.keys(TESTS) as Test[];

async function rps(port: number, t: Test): Promise<number> {
  const { test, extra, requests } = TESTS[t];
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", test, "-r", String(KEYSPACE), "-n", String(requests)];
  const out = await runTool(["redis-benchmark", ...args, "-c", "50", "-q", "--csv", ...extra], { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark ${t} failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!line) throw new Error(`no ${test.toUpperCase()} line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

/** Until SET succeeds: a cluster member serves once it leads its groups. */
async function serving(node: FlyDBProcess): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const out = await runTool(["redis-cli", "-p", String(node.port), "SET", "ab:probe", "1"]);
    if (out.stdout.trim() === "OK") return;
    await Bun.sleep(100);
  }
  throw new Error(`node on port ${node.port} did not accept a SET within 60 s`);
}

async function round(side: "old" | "new"): Promise<Record<Test, number>> {
  const binary = side === "old" ? values.old! : values.new!;
  const args = ["--log-level", "warn", "--fsync", values.fsync!];
  const node = values[`${side}-cluster-of-one`]
    ? await startClusterMember({ id: "ab1", partitions: PARTITIONS, binary, args })
    : await startFlyDB({ binary, args });
  try {
    await serving(node);
    // GET runs last, on the keys the SET runs wrote.
    const r = {} as Record<Test, number>;
    for (const t of NAMES) r[t] = await rps(node.port, t);
    return r;
  } finally {
    await node.stop(2000);
  }
}

const results = { old: [] as Record<Test, number>[], new: [] as Record<Test, number>[] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
  for (const side of order) {
    const x = await round(side);
    results[side].push(x);
    console.log(`round ${r + 1} ${side}: ${NAMES.map((t) => `${t} ${x[t].toFixed(0)}/s`).join(", ")}`);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const t of NAMES) {
  const ratios = results.new.map((n, i) => n[t] / results.old[i]![t]);
  const [o, n] = [results.old, results.new].map((r) => median(r.map((x) => x[t])).toFixed(0));
  const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  const perRound = ratios.map((x) => x.toFixed(2)).join(" ");
  console.log(
    `${t}: new/old per round ${perRound}; median ratio ${median(ratios).toFixed(2)} (spread ${spread});` +
      ` median/s old ${o}, new ${n}`,
  );
}
