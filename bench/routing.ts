// Read throughput and p99 under each routing strategy (issue #17), on a 3-node loopback cluster
// (16 partitions, rf 3, read_consistency linearizable): redis-benchmark GETs through all three
// nodes at once (as a client spreading its connections over the cluster would), for a uniform
// workload (keys over every partition) and a hot-partition one (80 % of each node's connections
// read keys of one partition, hash tag {hot}, 20 % uniform). The strategy is switched with
// CONFIG SET routing-strategy on every node.
//
// The machine is shared, so: every round measures every cell (strategies in a rotated order,
// redis-server under the same load first), ratios are taken within a round, and the table shows
// medians over rounds, with the load average. Per cell, each node's CPU time (/proc/<pid>/stat)
// and the served-read counters (/metrics) give the CPU per read, the followers' share of the
// reads and of the serving CPU, and the 3-machine prediction: with a machine per node the
// busiest node's CPU per read bounds the throughput, so × key-based there is key-based's busiest
// node's CPU per read over this strategy's. The redis-benchmark processes' own CPU is shown too.
//
//   npx bun bench/routing.ts [--requests 10000] [--rounds 3] [--clients 10]
//   (requests per benchmark process, connections per node)
import { readFileSync } from "node:fs";
import { argValue, clusterSettled, loadAverage, median } from "./lib.ts";
import { ROUTING_STRATEGIES, type RoutingStrategy } from "../src/cluster/core/read-target.ts";
import { runTool, startClusterMember, startRedisServer, type ClusterMemberProcess } from "../test/helpers/processes.ts";

const REQUESTS = argValue("--requests", 10_000);
const ROUNDS = argValue("--rounds", 3);
const CLIENTS = argValue("--clients", 10);
const PARTITIONS = 16;
const KEYS = 10_000;
const HOT_KEYS = 1_000;

interface Bench {
  rps: number;
  p99: number;
  /** CPU seconds the redis-benchmark processes used. */
  clientCpu: number;
}

/** One redis-benchmark run of `cmd` (with __rand_int__ below `range`); rps and p99 from its CSV. */
async function bench(port: number, clients: number, n: number, range: number, cmd: string[]): Promise<Bench> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-c", String(clients), "-n", String(n), "-r", String(range)];
  const proc = Bun.spawn(["redis-benchmark", ...args, "--csv", ...cmd], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(9), 600_000);
  const [out, errText, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`redis-benchmark ${args.join(" ")} failed (${code}): ${errText}${out}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const f = out
    .trim()
    .split("\n")
    .at(-1)!
    .split(",")
    .map((x) => x.replaceAll('"', ""));
  const usage = proc.resourceUsage();
  const clientCpu = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : 0;
  return { rps: Number(f[1]), p99: Number(f[6]), clientCpu };
}

type Workload = "uniform" | "hot";

/** The workload through every port at once: total GET/s, the worst p99 of the processes, their CPU. */
async function load(ports: readonly number[], w: Workload, requests = REQUESTS): Promise<Bench> {
  const hot = Math.max(1, Math.round(CLIENTS * 0.8));
  const runs = ports.flatMap((p) =>
    w === "uniform"
      ? [bench(p, CLIENTS, requests, KEYS, ["GET", "key:__rand_int__"])]
      : [
          bench(p, hot, Math.round(requests * 0.8), HOT_KEYS, ["GET", "{hot}:__rand_int__"]),
          bench(p, CLIENTS - hot, Math.round(requests * 0.2), KEYS, ["GET", "key:__rand_int__"]),
        ],
  );
  const rs = await Promise.all(runs);
  return {
    rps: rs.reduce((a, r) => a + r.rps, 0),
    p99: Math.max(...rs.map((r) => r.p99)),
    clientCpu: rs.reduce((a, r) => a + r.clientCpu, 0),
  };
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

/** Reads this node served, by role, and the frames it sent to the others (forwards, replies, Raft). */
async function served(m: ClusterMemberProcess): Promise<{ leader: number; follower: number; frames: number }> {
  const text = await (await fetch(`${m.http}/metrics`)).text();
  const frames = text.match(/^flydb_transport_frames_total\{direction="out"\} (\d+)/m);
  const out = { leader: 0, follower: 0, frames: Number(frames?.[1] ?? Number.NaN) };
  for (const x of text.matchAll(/^flydb_reads_served_total\{strategy="[^"]+",role="(leader|follower)"\} (\d+)/gm))
    out[x[1] as "leader" | "follower"] += Number(x[2]);
  return out;
}

async function call(m: ClusterMemberProcess, ...args: string[]): Promise<string> {
  const out = await runTool(["redis-cli", "-h", "127.0.0.1", "-p", String(m.port), ...args]);
  return out.stdout.trim();
}

interface Cell {
  rps: number;
  p99: number;
  /** × key-based in the same round. */
  ratio: number;
  /** × redis-server in the same round. */
  vsRedis: number;
  followerReads: number;
  /** Transport frames the nodes sent. */
  frames: number;
  /** Each node's CPU seconds, in member order. */
  cpu: number[];
  reads: number;
  clientCpu: number;
  load: number;
}

const redis = await startRedisServer();
await preload(redis.port);
const args = ["--log-level", "warn"];
const start = (id: string, seed?: number) =>
  startClusterMember({ id, partitions: PARTITIONS, args, ...(seed !== undefined ? { seed } : {}) });
const m1 = await start("b1");
const members = [m1, await start("b2", m1.gossip), await start("b3", m1.gossip)];
const ids = members.map((m) => m.id);
const cells = new Map<string, Cell[]>();
const refs: Record<Workload, number[]> = { uniform: [], hot: [] };
const key = (w: Workload, s: RoutingStrategy) => `${w} ${s}`;
try {
  await clusterSettled(m1, PARTITIONS);
  await preload(m1.port);
  const hotSlot = Number(await call(m1, "CLUSTER", "KEYSLOT", "{hot}"));
  const map = (await (await fetch(`${m1.http}/cluster/partitions`)).json()) as {
    partitions: { slots: [number, number]; leader: string }[];
  };
  const hotLeader = map.partitions.find((p) => p.slots[0] <= hotSlot && hotSlot <= p.slots[1])!.leader;
  const ports = members.map((m) => m.port);
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of ["hot", "uniform"] as const) {
      const ref = await load([redis.port, redis.port, redis.port], w);
      refs[w].push(ref.rps);
      // Rotated, so that no strategy always runs first (or last) in a round.
      const order = ROUTING_STRATEGIES.map((_, i) => ROUTING_STRATEGIES[(i + round) % ROUTING_STRATEGIES.length]!);
      const results = new Map<RoutingStrategy, Omit<Cell, "ratio">>();
      for (const strategy of order) {
        for (const m of members) await call(m, "CONFIG", "SET", "routing-strategy", strategy);
        // Warm-up: followers learn their leaders, loads get gossiped.
        await load(ports, w, Math.ceil(REQUESTS / 4));
        const cpu0 = members.map((m) => cpuSeconds(m.pid));
        const s0 = await Promise.all(members.map(served));
        const r = await load(ports, w);
        const cpu = members.map((m, i) => cpuSeconds(m.pid) - cpu0[i]!);
        const s1 = await Promise.all(members.map(served));
        const followerReads = s1.reduce((a, s, i) => a + s.follower - s0[i]!.follower, 0);
        const reads = s1.reduce((a, s, i) => a + s.leader + s.follower - s0[i]!.leader - s0[i]!.follower, 0);
        const frames = s1.reduce((a, s, i) => a + s.frames - s0[i]!.frames, 0);
        const loadNow = Number(loadAverage());
        results.set(strategy, { ...r, vsRedis: r.rps / ref.rps, followerReads, frames, cpu, reads, load: loadNow });
        console.log(
          `round ${round + 1} ${w} ${strategy}: ${r.rps.toFixed(0)} GET/s, p99 ${r.p99} ms, CPU ` +
            `${cpu.map((c) => c.toFixed(2)).join(" / ")} s, clients ${r.clientCpu.toFixed(2)} s, ` +
            `${(frames / reads).toFixed(2)} frames per read, load ${loadNow}`,
        );
      }
      const base = results.get("key-based")!.rps;
      for (const [s, c] of results)
        cells.set(key(w, s), [...(cells.get(key(w, s)) ?? []), { ...c, ratio: c.rps / base }]);
    }
  }

  const hot = ids.indexOf(hotLeader);
  const perRead = (c: Cell) => (1e6 * c.cpu.reduce((a, b) => a + b, 0)) / c.reads;
  const busiest = (c: Cell) => (1e6 * Math.max(...c.cpu)) / c.reads;
  const loads = [...cells.values()].flat().map((c) => c.load);
  console.log(
    `\n${ROUNDS} rounds, ${CLIENTS} connections and ${REQUESTS} requests per node per cell; medians over rounds. ` +
      `Load average ${Math.min(...loads)}–${Math.max(...loads)}. redis-server, same load: uniform ` +
      `${median(refs.uniform).toFixed(0)} GET/s, hot ${median(refs.hot).toFixed(0)} GET/s. ` +
      `The hot partition's leader: ${hotLeader}.\n`,
  );
  console.log(
    "| workload | strategy | GET/s | × key-based | × redis-server | p99 ms | reads served by followers | " +
      `followers' share of the serving CPU | CPU ${ids.join(" / ")} s | server CPU µs per read | ` +
      "client CPU s | transport frames per read | busiest node µs per read | 3 machines: × key-based |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const w of ["hot", "uniform"] as const) {
    const kb = cells.get(key(w, "key-based"))!;
    for (const s of ROUTING_STRATEGIES) {
      const cs = cells.get(key(w, s))!;
      const m = (f: (c: Cell) => number) => median(cs.map(f));
      // Within a round: key-based's busiest node per read over this strategy's.
      const predicted = median(cs.map((c, i) => busiest(kb[i]!) / busiest(c)));
      const row = [
        w,
        s,
        m((c) => c.rps).toFixed(0),
        m((c) => c.ratio).toFixed(2),
        m((c) => c.vsRedis).toFixed(2),
        m((c) => c.p99).toFixed(1),
        `${m((c) => (100 * c.followerReads) / Math.max(1, c.reads)).toFixed(0)} %`,
        `${m((c) => (100 * (c.cpu.reduce((a, b) => a + b, 0) - c.cpu[hot]!)) / c.cpu.reduce((a, b) => a + b, 0)).toFixed(0)} %`,
        ids.map((_, i) => m((c) => c.cpu[i]!).toFixed(2)).join(" / "),
        m(perRead).toFixed(0),
        m((c) => c.clientCpu).toFixed(2),
        m((c) => c.frames / c.reads).toFixed(2),
        m(busiest).toFixed(0),
        predicted.toFixed(2),
      ];
      console.log(`| ${row.join(" | ")} |`);
    }
  }
} finally {
  for (const m of members) await m.stop(2000);
  await redis.stop();
}
