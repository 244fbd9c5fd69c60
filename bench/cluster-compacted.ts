// A/B of a 3-node loopback cluster's SET cost once its partitions have compacted their logs (a
// snapshot of each partition stored in raft.db), between two compiled binaries, in interleaved
// rounds on fresh clusters: load enough pipelined SETs to pass the 2,000-entry compaction
// threshold in every partition, wait for the compaction, then run redis-benchmark SET through one
// node (-c 50). Prints per round SET/s, server CPU µs per SET (summed over the 3 nodes) and bytes
// written to disk per SET per node (/proc/PID/io write_bytes), and the new/old ratios: CPU and
// bytes per SET move far less with a shared machine's load than requests per second.
//
//   npx bun bench/cluster-compacted.ts OLD_BINARY NEW_BINARY [rounds=3] [requests=10000] [partitions=16]
import { readFileSync } from "node:fs";
import { clusterSettled, cpuTicks, interleavedRounds, median } from "./lib.ts";
import { runTool, startClusterMember, type ClusterMemberProcess } from "../test/helpers/processes.ts";

const [oldBin, newBin, roundsArg, requestsArg, partitionsArg] = process.argv.slice(2);
if (!oldBin || !newBin) throw new Error("usage: bench/cluster-compacted.ts OLD NEW [rounds] [requests] [partitions]");
const ROUNDS = Number(roundsArg ?? 3);
const REQUESTS = Number(requestsArg ?? 10000);
const PARTITIONS = Number(partitionsArg ?? 16);
/** src/cluster/replica-host.ts: COMPACT_AFTER_ENTRIES (2,000) per group, checked every COMPACT_MS (10 s). */
const LOAD = PARTITIONS * 2600;
const COMPACTION_WAIT_MS = 12_000;
const KEYSPACE = 100_000;

interface Result {
  rps: number;
  cpuUsPerSet: number;
  bytesPerSetPerNode: number;
}

const written = (pid: number) => Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))![1]);
const TICK_US = 1e6 / 100; // CLK_TCK

async function benchmark(port: number, n: number, extra: string[] = []): Promise<number> {
  const args = [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-t",
    "set",
    "-r",
    String(KEYSPACE),
    "-n",
    String(n),
    "-c",
    "50",
  ];
  const out = await runTool(["redis-benchmark", ...args, "-q", "--csv", ...extra], { timeoutMs: 900_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`no SET line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

async function round(binary: string): Promise<Result> {
  const args = ["--log-level", "warn", "--fsync", "always"];
  const start = (id: string, seed?: number) => startClusterMember({ id, seed, partitions: PARTITIONS, binary, args });
  const m1 = await start("c1");
  const members: ClusterMemberProcess[] = [m1, await start("c2", m1.gossip), await start("c3", m1.gossip)];
  try {
    await clusterSettled(m1, PARTITIONS);
    await benchmark(m1.port, LOAD, ["--cluster", "-P", "4"]);
    await Bun.sleep(COMPACTION_WAIT_MS);
    const pids = members.map((m) => m.pid);
    const [c0, w0] = [pids.map(cpuTicks), pids.map(written)];
    const rps = await benchmark(m1.port, REQUESTS);
    const [c1, w1] = [pids.map(cpuTicks), pids.map(written)];
    const sum = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x - b[i]!, 0);
    return {
      rps,
      cpuUsPerSet: (sum(c1, c0) * TICK_US) / REQUESTS,
      bytesPerSetPerNode: sum(w1, w0) / REQUESTS / members.length,
    };
  } finally {
    for (const m of members) await m.stop(2000);
  }
}

const results = await interleavedRounds(
  ROUNDS,
  { old: oldBin, new: newBin },
  round,
  (x) =>
    `${x.rps.toFixed(0)} SET/s, ${x.cpuUsPerSet.toFixed(0)} µs CPU/SET (3 nodes),` +
    ` ${x.bytesPerSetPerNode.toFixed(0)} B written/SET/node`,
);
for (const k of ["rps", "cpuUsPerSet", "bytesPerSetPerNode"] as const) {
  const ratios = results.new.map((n, i) => n[k] / results.old[i]![k]);
  const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  console.log(
    `${k}: new/old per round ${ratios.map((x) => x.toFixed(2)).join(" ")}; median ${median(ratios).toFixed(2)} (${spread})`,
  );
}
