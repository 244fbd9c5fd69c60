// A/B of cluster SET throughput between two compiled binaries (e.g. main's and a branch's), in
// interleaved rounds (old, new; then new, old; …), each on a fresh 3-node loopback cluster (16
// partitions, rf 3): redis-benchmark SET through one node (proxied) and with --cluster. Prints
// per-round new/old ratios and their median: on a shared, noisy machine only ratios mean much.
//
//   npx bun bench/cluster-ab.ts OLD_BINARY NEW_BINARY [rounds=3] [requests=10000] [fsync=always]
import { clusterSettled } from "./lib.ts";
import { runTool, startClusterMember } from "../test/helpers/processes.ts";

const [oldBin, newBin, roundsArg, requestsArg, fsyncArg] = process.argv.slice(2);
if (!oldBin || !newBin) throw new Error("usage: bench/cluster-ab.ts OLD_BINARY NEW_BINARY [rounds] [requests] [fsync]");
const ROUNDS = Number(roundsArg ?? 3);
const REQUESTS = Number(requestsArg ?? 10000);
const FSYNC = fsyncArg ?? "always";
const PARTITIONS = 16;

async function setRps(port: number, extra: string[] = []): Promise<number> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "set", "-r", "100000", "-n", String(REQUESTS), "-c", "50"];
  const out = await runTool(["redis-benchmark", ...args, "-q", "--csv", ...extra], { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`no SET line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

async function round(binary: string): Promise<{ proxied: number; direct: number }> {
  const args = ["--log-level", "warn", "--fsync", FSYNC];
  const start = (id: string, seed?: number) => startClusterMember({ id, seed, partitions: PARTITIONS, binary, args });
  const m1 = await start("b1");
  const members = [m1, await start("b2", m1.gossip), await start("b3", m1.gossip)];
  try {
    await clusterSettled(m1, PARTITIONS);
    return { proxied: await setRps(m1.port), direct: await setRps(m1.port, ["--cluster"]) };
  } finally {
    for (const m of members) await m.stop(2000);
  }
}

const results = { old: [] as { proxied: number; direct: number }[], new: [] as { proxied: number; direct: number }[] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
  for (const name of order) {
    const x = await round(name === "old" ? oldBin : newBin);
    results[name].push(x);
    console.log(`round ${r + 1} ${name}: proxied ${x.proxied.toFixed(0)} SET/s, --cluster ${x.direct.toFixed(0)}`);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const k of ["proxied", "direct"] as const) {
  const ratios = results.new.map((n, i) => n[k] / results.old[i]![k]);
  const [o, n] = [results.old, results.new].map((r) => median(r.map((x) => x[k])).toFixed(0));
  const perRound = ratios.map((x) => x.toFixed(2)).join(" ");
  const ratio = median(ratios).toFixed(2);
  console.log(`${k}: new/old per round ${perRound}; median ratio ${ratio}; median SET/s old ${o}, new ${n}`);
}
