// A cluster of real dist/flydb processes on loopback (no namespaces, no root), reachable from the
// test process itself: ioredis clients (plain, or Redis Cluster) connect straight to the members.
// Members restart on their own data dir and ports; the leader of a key is what the member
// leading it says of itself.
import { rmSync } from "node:fs";
import Redis from "ioredis";
import { waitUntil } from "./cluster-harness.ts";
import { ensureBinary, startClusterMember, type ClusterMemberProcess } from "./processes.ts";

export interface LoopbackMember {
  readonly id: string;
  proc: ClusterMemberProcess;
  /** Whether it is up (false between kill9 and restart). */
  up: boolean;
}

export interface LoopbackCluster {
  readonly members: readonly LoopbackMember[];
  readonly partitions: number;
  /** A plain connection (the member proxies), made on first use and reused; errors are swallowed. */
  client(m: LoopbackMember): Redis;
  /** A fresh plain connection, closed by stop(). */
  connect(m: LoopbackMember): Redis;
  kill9(m: LoopbackMember): Promise<void>;
  /**
   * Starts a stopped or killed member again on the same data dir and ports; `args` replaces the
   * cluster's extra arguments for this member from now on (a config change across a restart).
   */
  restart(m: LoopbackMember, args?: string[]): Promise<void>;
  /** Every up member ready, all of them alive members, every partition led (and fully replicated when all are up). */
  settled(timeoutMs?: number): Promise<void>;
  /** The up member that says it leads the key's partition (CLUSTER SLOTS through itself). */
  leaderOf(key: string, timeoutMs?: number): Promise<LoopbackMember>;
  byPort(port: number): LoopbackMember;
  stop(): Promise<void>;
}

interface Status {
  members: { id: string; state: string }[];
  partitions: { total: number; healthy: number; leaderless: number; under_replicated: number };
}

export async function startLoopbackCluster(o: {
  size: number;
  partitions: number;
  prefix: string;
  args?: string[];
}): Promise<LoopbackCluster> {
  ensureBinary();
  const members: LoopbackMember[] = [];
  const clients = new Map<LoopbackMember, Redis>();
  const extra: Redis[] = [];
  /** Temp dirs of earlier incarnations: a restart keeps the data dir inside the first one. */
  const firstDirs: string[] = [];
  const args = ["--log-level", "warn", ...(o.args ?? [])];
  const memberArgs = new Map<LoopbackMember, string[]>();
  for (let i = 1; i <= o.size; i++) {
    const id = `${o.prefix}${i}`;
    const proc = await startClusterMember({
      id,
      seed: members[0]?.proc.gossip,
      partitions: o.partitions,
      args,
      binary: "dist",
    });
    members.push({ id, proc, up: true });
  }
  const connect = (m: LoopbackMember) => {
    const c = new Redis({ port: m.proc.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 10_000 });
    c.on("error", () => {}); // a killed member's connections
    extra.push(c);
    return c;
  };
  const client = (m: LoopbackMember) => {
    let c = clients.get(m);
    if (!c || c.status === "end") clients.set(m, (c = connect(m)));
    return c;
  };
  const status = async (m: LoopbackMember) => (await (await fetch(`${m.proc.http}/cluster/status`)).json()) as Status;
  const cluster: LoopbackCluster = {
    members,
    partitions: o.partitions,
    client,
    connect,
    kill9: async (m) => {
      await m.proc.kill9();
      m.up = false;
      clients.get(m)?.disconnect();
      clients.delete(m);
    },
    restart: async (m, newArgs) => {
      if (newArgs) memberArgs.set(m, ["--log-level", "warn", ...newArgs]);
      const p = m.proc;
      if (!firstDirs.includes(p.dir) && p.dataDir.startsWith(p.dir)) firstDirs.push(p.dir);
      m.proc = await startClusterMember({
        id: m.id,
        partitions: o.partitions,
        args: memberArgs.get(m) ?? args,
        binary: "dist",
        restart: { dataDir: p.dataDir, resp: p.port, http: p.httpPort, gossip: p.gossip, raft: p.raft },
      });
      m.up = true;
    },
    settled: (timeoutMs = 45_000) =>
      waitUntil(
        async () => {
          const up = members.filter((m) => m.up);
          for (const m of up) if ((await fetch(`${m.proc.http}/ready`)).status !== 200) return false;
          const s = await status(up[0]!);
          const alive = up.every((m) => s.members.some((x) => x.id === m.id && x.state === "alive"));
          // With a member down its replicas are missing until it returns (or is replaced).
          const replicated =
            up.length < members.length ||
            (s.partitions.under_replicated === 0 && s.partitions.healthy === s.partitions.total);
          return alive && s.partitions.leaderless === 0 && replicated;
        },
        timeoutMs,
        "every up member ready and alive, every partition led (and fully replicated when all are up)",
        250,
      ).then(() => undefined),
    leaderOf: (key, timeoutMs = 15_000) =>
      waitUntil(
        async () => {
          for (const m of members.filter((x) => x.up)) {
            // A connection of its own: CLUSTER SLOTS puts a connection in cluster mode (-MOVED).
            const c = new Redis({ port: m.proc.port, host: "127.0.0.1", maxRetriesPerRequest: 0, lazyConnect: true });
            c.on("error", () => {});
            try {
              await c.connect();
              const slot = (await c.call("cluster", "keyslot", key)) as number;
              const ranges = (await c.call("cluster", "slots")) as [number, number, [string, number]][];
              if (ranges.find(([a, b]) => slot >= a && slot <= b)?.[2][1] === m.proc.port) return m;
            } catch {
              // down or not ready: ask the next
            } finally {
              c.disconnect();
            }
          }
          return undefined;
        },
        timeoutMs,
        `a member that says it leads ${key}'s partition`,
        100,
      ),
    byPort: (port) => {
      const m = members.find((x) => x.proc.port === port);
      if (!m)
        throw new Error(`no member listens on RESP port ${port} (have ${members.map((x) => x.proc.port).join(", ")})`);
      return m;
    },
    stop: async () => {
      for (const c of [...clients.values(), ...extra]) c.disconnect();
      await Promise.all(members.map((m) => m.proc.stop(2000)));
      for (const d of firstDirs) rmSync(d, { recursive: true, force: true });
    },
  };
  return cluster;
}
