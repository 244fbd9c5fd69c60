// Membership changes on a loopback cluster of real processes: a fourth node gets its share of
// partitions (learner → voter → old replica removed), and a node that dies for good has its
// replicas rebuilt on the others, with every acknowledged write still readable everywhere.
import { afterAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startClusterMember, type ClusterMemberProcess, type FlyDBProcess } from "../helpers/processes.ts";

const PARTITIONS = 8;
const nodes = new Map<string, ClusterMemberProcess>();
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all([...nodes.values()].map((n) => n.stop(2000)));
});

const start = async (id: string, seed?: number) => {
  const n = await startClusterMember({ id, seed, partitions: PARTITIONS, args: ["--dead-node-timeout", "3s"] });
  nodes.set(id, n);
  return n;
};

const client = (n: FlyDBProcess) => {
  const c = new Redis({ port: n.port, host: "127.0.0.1", maxRetriesPerRequest: 1, lazyConnect: false });
  clients.push(c);
  return c;
};

interface Status {
  members: { id: string; state: string }[];
  partitions: { total: number; healthy: number; leaderless: number; leaders_per_node: Record<string, number> };
}
const status = async (n: FlyDBProcess): Promise<Status> =>
  (await fetch(`${n.http}/cluster/status`)).json() as Promise<Status>;

const until = (what: string, cond: () => Promise<boolean>, ms = 45_000) => waitUntil(cond, ms, what, 250);

const keys = Array.from({ length: 40 }, (_, i) => `member-key-${i}`);

describe("cluster membership on loopback", () => {
  test("three nodes form a cluster; a fourth takes its share; a dead node's replicas are rebuilt", async () => {
    const n1 = await start("m1");
    const n2 = await start("m2", n1.gossip);
    const n3 = await start("m3", n1.gossip);
    await until("3 members, every partition healthy", async () => {
      const s = await status(n1);
      return s.members.length === 3 && s.partitions.healthy === PARTITIONS;
    });
    const writers = [client(n1), client(n2), client(n3)];
    for (const [i, k] of keys.entries()) expect(await writers[i % 3]!.set(k, `v${i}`)).toBe("OK");

    const n4 = await start("m4", n1.gossip);
    await until("m4 leads partitions and holds replicas", async () => {
      const s = await status(n1);
      return (
        s.members.length === 4 && s.partitions.healthy === PARTITIONS && (s.partitions.leaders_per_node.m4 ?? 0) > 0
      );
    });
    // Until m4 is ready (a voter of every group placed on it, the metadata group included) it
    // answers INFO KEYSPACE with CLUSTERDOWN rather than counting with a partial view.
    await until("m4 ready", async () => (await fetch(`${n4.http}/ready`)).status === 200);
    const c4 = client(n4);
    expect(await c4.mget(...keys)).toEqual(keys.map((_, i) => `v${i}`));
    // 8 partitions × 3 replicas over 4 nodes: each holds 6 partitions, so some keys live on m4.
    const info4 = await c4.info("keyspace");
    expect(Number(/keys=(\d+)/.exec(info4)?.[1] ?? 0)).toBeGreaterThan(0);

    writers[1]!.disconnect(); // its node is about to die; reconnect attempts would only be noise
    await n2.kill9();
    nodes.delete("m2");
    await until("m2 removed and every partition back to 3 live replicas", async () => {
      const s = await status(n1);
      return (
        s.members.length === 3 &&
        !s.members.some((m) => m.id === "m2") &&
        s.partitions.healthy === PARTITIONS &&
        s.partitions.leaderless === 0
      );
    });
    // rf = 3 on 3 nodes: every node holds every key again.
    for (const n of [n1, n3, n4]) {
      await until(`${n.port} holds all ${keys.length} keys`, async () => {
        const info = await client(n).info("keyspace");
        return Number(/keys=(\d+)/.exec(info)?.[1] ?? 0) === keys.length;
      });
      expect(await client(n).mget(...keys)).toEqual(keys.map((_, i) => `v${i}`));
    }
  }, 150_000);
});
