// What the FlyDB-against-Redis benchmarks share: numeric flags, a server pair with ioredis clients,
// and per-call timing.
import { readFileSync } from "node:fs";
import Redis from "ioredis";
import {
  type ClusterMemberProcess,
  startFlyDB,
  startRedisServer,
  type ServerProcess,
} from "../test/helpers/processes.ts";

/** The number after `--name` on the command line, or `fallback`. */
export function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export interface BenchPair {
  readonly redis: Redis;
  readonly fly: Redis;
  /** Disconnects the clients and stops both servers. */
  stop(): Promise<void>;
}

/**
 * A redis-server and a FlyDB (from source) on loopback, with a client on each. `durable`: both make
 * writes durable before replying (FlyDB's default fsync = "always", Redis with appendfsync always);
 * otherwise neither syncs.
 */
export async function startBenchPair(opts: { readonly durable: boolean }): Promise<BenchPair> {
  const servers: ServerProcess[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop();
  };
  try {
    servers.push(await startRedisServer({ aofAlways: opts.durable }));
    servers.push(await startFlyDB({ args: opts.durable ? [] : ["--fsync", "no"] }));
    for (const s of servers) {
      const client = new Redis({ port: s.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
      // Once the servers stop, the clients' reconnect attempts fail: that is expected.
      client.on("error", () => {});
      clients.push(client);
    }
    const [redis, fly] = clients as [Redis, Redis];
    return { redis, fly, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Writes elements 0..total-1 in commands of `batch` elements, 16 commands a pipeline; `command(from, to)`
 * is the command for elements from..to-1. Returns the seconds it took.
 */
export async function loadInBatches(
  client: Redis,
  total: number,
  batch: number,
  command: (from: number, to: number) => [string, ...(string | number)[]],
): Promise<number> {
  const started = performance.now();
  const depth = 16;
  for (let base = 0; base < total; base += batch * depth) {
    const p = client.pipeline();
    for (let b = base; b < Math.min(total, base + batch * depth); b += batch) {
      const [name, ...args] = command(b, Math.min(total, b + batch));
      p.call(name, ...args);
    }
    await p.exec();
  }
  return (performance.now() - started) / 1000;
}

/** Wall time of `n` calls made one at a time, in microseconds, sorted ascending. */
export async function timeCalls(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    times.push((performance.now() - t) * 1000);
  }
  return times.sort((x, y) => x - y);
}

/** The `p` quantile (0..1) of ascending `sorted` times. */
export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/**
 * Waits until a 3-node cluster, seen from `m`, has every member, every partition healthy and
 * leaders on every node: a cluster benchmark measured before that measures the settling.
 */
export async function clusterSettled(m: ClusterMemberProcess, partitions: number): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const s = (await fetch(`${m.http}/cluster/status`).then(
      (r) => r.json(),
      () => undefined,
    )) as { members: unknown[]; partitions: { healthy: number; leaders_per_node: Record<string, number> } } | undefined;
    const spread = s && Object.keys(s.partitions.leaders_per_node).length === 3;
    if (s && s.members.length === 3 && s.partitions.healthy === partitions && spread) return;
    await Bun.sleep(200);
  }
  throw new Error("cluster did not settle (members, healthy partitions, leaders on every node) within 60 s");
}

/** CPU time a process has used, in clock ticks (utime + stime, fields 14 and 15 of /proc/PID/stat). */
export const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
};

/** The machine's 1-minute load average, printed next to every round: the machines are shared. */
export const loadAverage = (): string => readFileSync("/proc/loadavg", "utf8").split(" ")[0]!;

export const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/**
 * Runs `round` on the old and the new binary alternately (old first in odd rounds, new first in
 * even ones, so drift in the machine's load falls on both), printing each result as it comes.
 */
export async function interleavedRounds<R>(
  rounds: number,
  bins: { readonly old: string; readonly new: string },
  round: (bin: string) => Promise<R>,
  describe: (r: R) => string,
): Promise<{ old: R[]; new: R[] }> {
  const results = { old: [] as R[], new: [] as R[] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
    for (const name of order) {
      const x = await round(bins[name]);
      results[name].push(x);
      console.log(`round ${r + 1} ${name}: ${describe(x)}; load average ${loadAverage()}`);
    }
  }
  return results;
}
