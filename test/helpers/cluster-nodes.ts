// In-process cluster members on loopback for integration tests: free ports, temp data dirs, node 1
// bootstraps and the others join through its gossip port.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { ConfigKey } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { startNode, type RunningNode } from "../../src/node.ts";
import { freePorts } from "./ports.ts";

export interface TestMember {
  readonly id: string;
  readonly gossipPort: number;
  readonly raftPort: number;
  readonly dataDir: string;
  node: RunningNode;
  stopped: boolean;
}

export interface TestCluster {
  readonly members: TestMember[];
  readonly dir: string;
  http(i: number, path: string, init?: RequestInit): Promise<Response>;
  /** Starts one more member joining through member 0. */
  add(id: string, extra?: Partial<Record<ConfigKey, unknown>>): Promise<TestMember>;
  stop(): Promise<void>;
}

async function startMember(
  dir: string,
  id: string,
  flags: Partial<Record<ConfigKey, unknown>>,
  onLeft?: () => void,
): Promise<TestMember> {
  const [gossipPort, raftPort] = freePorts(2) as [number, number];
  const dataDir = join(dir, id);
  const { config } = loadConfig({
    env: {},
    defaultConfigPath: join(dir, "none.toml"),
    flags: {
      node_id: id,
      bind_addr: "127.0.0.1:0",
      http_addr: "127.0.0.1:0",
      cluster_addr: `127.0.0.1:${gossipPort}`,
      raft_addr: `127.0.0.1:${raftPort}`,
      advertise_addr: "127.0.0.1",
      data_dir: dataDir,
      partition_count: "16",
      fsync: "no",
      ...flags,
    },
  });
  const node = await startNode(config, { log: createLogger("error", "text"), onLeft });
  return { id, gossipPort, raftPort, dataDir, node, stopped: false };
}

export async function startCluster(
  n: number,
  prefix: string,
  extra: Partial<Record<ConfigKey, unknown>> = {},
): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), `flydb-${prefix}-`));
  const members: TestMember[] = [];
  const add = async (id: string, more: Partial<Record<ConfigKey, unknown>> = {}) => {
    const flags = members.length === 0 ? { bootstrap: true } : { cluster_peers: `127.0.0.1:${members[0]!.gossipPort}` };
    const m: TestMember = await startMember(dir, id, { ...flags, ...extra, ...more }, () => {
      m.stopped = true;
    });
    members.push(m);
    return m;
  };
  for (let i = 1; i <= n; i++) await add(`${prefix}${i}`);
  return {
    members,
    dir,
    add,
    http: (i, path, init) => fetch(`http://127.0.0.1:${members[i]!.node.httpPort}${path}`, init),
    async stop() {
      for (const m of members) if (!m.stopped) await m.node.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until check() is true; throws with the last reason after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Every member is ready and sees `n` members with all partitions healthy. */
export async function waitHealthy(c: TestCluster, n: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${n} members healthy`,
    async () => {
      for (let i = 0; i < c.members.length; i++) {
        if (c.members[i]!.stopped) continue;
        const ready = await c.http(i, "/ready");
        if (ready.status !== 200) return false;
      }
      const live = c.members.findIndex((m) => !m.stopped);
      const s = (await (await c.http(live, "/cluster/status")).json()) as {
        members: unknown[];
        partitions: { total: number; healthy: number };
      };
      return s.members.length === n && s.partitions.healthy === s.partitions.total;
    },
    timeoutMs,
    250,
  );
}
