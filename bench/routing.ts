// Read throughput and p99 under each routing strategy (issue #17), on a 3-node loopback cluster
// (16 partitions, rf 3, read_consistency linearizable): redis-benchmark GETs through all three
// nodes at once (10 connections each), for a uniform workload (keys over every partition) and a
// hot-partition one (80 % of the connections read keys of one partition, hash tag {hot}, 20 %
// uniform). The strategy is switched with CONFIG SET routing-strategy on every node; between
// cells the served-read counters (/metrics) and each node's CPU time (/proc/<pid>/stat) give the
// followers' share of the reads and of the CPU. The same load against a redis-server in the
// same run gives the reference ratio.
//
//   npx bun bench/routing.ts [requests per benchmark process=20000]
import { clusterSettled } from "./lib.ts";
import { readFileSync } from "node:fs";
import { ROUTING_STRATEGIES } from "../src/cluster/core/read-target.ts";
import { runTool, startClusterMember, startRedisServer, type ClusterMemberProcess } from "../test/helpers/processes.ts";

const REQUESTS = Number(process.argv[2] ?? 20_000);
const PARTITIONS = 16;
const KEYS = 10_000;
const HOT_KEYS = 1_000;

interface Bench {
  rps: number;
  p99: number;
}

/** One redis-benchmark run of `cmd` (with __rand_int__ below `range`); rps and p99 from its CSV. */
async function bench(port: number, clients: number, n: number, range: number, cmd: string[]): Promise<Bench> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-c", String(clients), "-n", String(n), "-r", String(range)];
  const out = await runTool(["redis-benchmark", ...args, "--csv", ...cmd], { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}${out.stdout}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const line = out.stdout.trim().split("\n").at(-1)!;
  const f = line.split(",").map((x) => x.replaceAll('"', ""));
  return { rps: Number(f[1]), p99: Number(f[6]) };
}

type Workload = "uniform" | "hot";

/** The workload through every port at once: total GET/s and the worst p99 of the processes. */
async function load(ports: readonly number[], w: Workload): Promise<Bench> {
  const runs = ports.flatMap((p) =>
    w === "uniform"
      ? [bench(p, 10, REQUESTS, KEYS, ["GET", "key:__rand_int__"])]
      : [
          bench(p, 8, Math.round(REQUESTS * 0.8), HOT_KEYS, ["GET", "{hot}:__rand_int__"]),
          bench(p, 2, Math.round(REQUESTS * 0.2), KEYS, ["GET", "key:__rand_int__"]),
        ],
  );
  const rs = await Promise.all(runs);
  return { rps: rs.reduce((a, r) => a + r.rps, 0), p99: Math.max(...rs.map((r) => r.p99)) };
}

async function preload(port: number): Promise<void> {
  await bench(port, 20, KEYS * 2, KEYS, ["SET", "key:__rand_int__", "xxxxxxxxxxxxxxxx"]);
  await bench(port, 20, HOT_KEYS * 4, HOT_KEYS, ["SET", "{hot}:__rand_int__", "xxxxxxxxxxxxxxxx"]);
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function served(m: ClusterMemberProcess): Promise<{ leader: number; follower: number }> {
  const text = await (await fetch(`${m.http}/metrics`)).text();
  const out = { leader: 0, follower: 0 };
  for (const x of text.matchAll(/^flydb_reads_served_total\{strategy="[^"]+",role="(leader|follower)"\} (\d+)/gm))
    out[x[1] as "leader" | "follower"] += Number(x[2]);
  return out;
}

async function call(m: ClusterMemberProcess, ...args: string[]): Promise<string> {
  const out = await runTool(["redis-cli", "-h", "127.0.0.1", "-p", String(m.port), ...args]);
  return out.stdout.trim();
}

const redis = await startRedisServer();
await preload(redis.port);
const ref: Record<Workload, Bench> = {
  uniform: await load([redis.port, redis.port, redis.port], "uniform"),
  hot: await load([redis.port, redis.port, redis.port], "hot"),
};
await redis.stop();

const args = ["--log-level", "warn"];
const start = (id: string, seed?: number) =>
  startClusterMember({ id, partitions: PARTITIONS, args, ...(seed !== undefined ? { seed } : {}) });
const m1 = await start("b1");
const members = [m1, await start("b2", m1.gossip), await start("b3", m1.gossip)];
const ids = ["b1", "b2", "b3"];
const rows: string[] = [];
try {
  await clusterSettled(m1, PARTITIONS);
  await preload(m1.port);
  const hotSlot = Number(await call(m1, "CLUSTER", "KEYSLOT", "{hot}"));
  const map = (await (await fetch(`${m1.http}/cluster/partitions`)).json()) as {
    partitions: { slots: [number, number]; leader: string }[];
  };
  const hotLeader = map.partitions.find((p) => p.slots[0] <= hotSlot && hotSlot <= p.slots[1])!.leader;
  const keyBased = new Map<Workload, number>();
  const ports = members.map((m) => m.port);
  for (const w of ["uniform", "hot"] as const) {
    for (const strategy of ROUTING_STRATEGIES) {
      for (const m of members) await call(m, "CONFIG", "SET", "routing-strategy", strategy);
      // Warm-up: followers learn their leaders, loads get gossiped.
      await load(ports, w);
      const cpu0 = members.map((m) => cpuSeconds(m.pid));
      const s0 = await Promise.all(members.map(served));
      const r = await load(ports, w);
      const cpu = members.map((m, i) => cpuSeconds(m.pid) - cpu0[i]!);
      const s1 = await Promise.all(members.map(served));
      const follower = s1.reduce((a, s, i) => a + s.follower - s0[i]!.follower, 0);
      const all = s1.reduce((a, s, i) => a + s.leader + s.follower - s0[i]!.leader - s0[i]!.follower, 0);
      const hotCpu = cpu[ids.indexOf(hotLeader)]!;
      const totalCpu = cpu.reduce((a, b) => a + b, 0);
      if (strategy === "key-based") keyBased.set(w, r.rps);
      const cells = [
        w,
        strategy,
        r.rps.toFixed(0),
        (r.rps / keyBased.get(w)!).toFixed(2),
        (r.rps / ref[w].rps).toFixed(2),
        r.p99.toFixed(1),
        `${((100 * follower) / Math.max(1, all)).toFixed(0)} %`,
        `${((100 * (totalCpu - hotCpu)) / totalCpu).toFixed(0)} % (${cpu.map((c) => c.toFixed(1)).join(" / ")} s)`,
      ];
      rows.push(`| ${cells.join(" | ")} |`);
      console.log(rows.at(-1));
    }
  }
  console.log(
    `\nredis-server, same load: uniform ${ref.uniform.rps.toFixed(0)} GET/s p99 ${ref.uniform.p99} ms; ` +
      `hot ${ref.hot.rps.toFixed(0)} GET/s p99 ${ref.hot.p99} ms; the hot partition's leader: ${hotLeader}\n`,
  );
  console.log(
    "| workload | strategy | GET/s | × key-based | × redis-server | p99 ms | reads served by followers | " +
      "CPU off the hot partition's leader (b1 / b2 / b3) |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
} finally {
  for (const m of members) await m.stop(2000);
}
