// Quiet idle groups on a loopback cluster of real processes: once nothing is written, no Raft
// frame flows between the members at all; a write wakes its partition and is read back through
// every member; and after kill -9 of the node leading an idle (quiet) partition, writes to that
// partition resume through a survivor (its followers wake when their connections to the dead node
// close, or when gossip stops calling it alive; test/unit/multiraft.test.ts checks each alone).
// With lease reads, groups never go quiet.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { metricValue, startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;
const members: ClusterMemberProcess[] = [];
const clients = new Map<ClusterMemberProcess, Redis>();

afterAll(async () => {
  for (const c of clients.values()) c.disconnect();
  await Promise.all(members.map((m) => m.stop(2000)));
});

const client = (m: ClusterMemberProcess): Redis => {
  let c = clients.get(m);
  if (!c) {
    c = new Redis({
      port: m.port,
      host: "127.0.0.1",
      maxRetriesPerRequest: 0,
      commandTimeout: 10_000,
      lazyConnect: false,
    });
    c.on("error", () => {}); // the killed member's connection
    clients.set(m, c);
  }
  return c;
};

const framesOut = (m: ClusterMemberProcess) => metricValue(m, 'flydb_transport_frames_total{direction="out"}');

/** The member leading the key's partition, as that member itself says (CLUSTER SLOTS). */
async function leaderOf(key: string): Promise<ClusterMemberProcess> {
  return waitUntil(
    async () => {
      for (const m of members) {
        // A connection of its own: CLUSTER SLOTS puts a connection in cluster mode (-MOVED).
        const c = new Redis({ port: m.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
        try {
          const slot = (await c.call("cluster", "keyslot", key)) as number;
          const ranges = (await c.call("cluster", "slots")) as [number, number, [string, number]][];
          if (ranges.find(([a, b]) => slot >= a && slot <= b)?.[2][1] === m.port) return m;
        } finally {
          c.disconnect();
        }
      }
      return undefined;
    },
    10_000,
    `a member that says it leads ${key}'s partition`,
    100,
  );
}

describe("quiet idle groups", () => {
  test("once idle, no Raft frame flows; a write wakes its partition and reaches every member", async () => {
    const first = await startClusterMember({ id: "q1", partitions: PARTITIONS });
    members.push(
      first,
      await startClusterMember({ id: "q2", seed: first.gossip, partitions: PARTITIONS }),
      await startClusterMember({ id: "q3", seed: first.gossip, partitions: PARTITIONS }),
    );
    await waitUntil(
      async () => {
        const s = (await (await fetch(`${first.http}/cluster/status`)).json()) as {
          members: unknown[];
          partitions: { healthy: number };
        };
        return s.members.length === 3 && s.partitions.healthy === PARTITIONS;
      },
      30_000,
      "3 members and every partition healthy",
      250,
    );
    const keys = Array.from({ length: 16 }, (_, i) => `quiet-${i}`);
    for (const [i, k] of keys.entries()) expect(await client(members[i % 3]!).set(k, "v1")).toBe("OK");
    // Quiet: no frame sent by any member over a whole second (20 ticks, 10 heartbeat intervals).
    await waitUntil(
      async () => {
        const before = await Promise.all(members.map(framesOut));
        await Bun.sleep(1000);
        const after = await Promise.all(members.map(framesOut));
        return after.every((n, i) => n === before[i]);
      },
      30_000,
      "a second without Raft frames on every member",
      0,
    );
    // Every group, the metadata group included, is quiet on every member.
    for (const m of members) expect(await metricValue(m, "flydb_raft_quiet_groups")).toBe(PARTITIONS + 1);
    expect(await client(members[1]!).set("quiet-0", "v2")).toBe("OK");
    for (const m of members) expect(await client(m).get("quiet-0")).toBe("v2");
  });

  test("kill -9 of the node leading a quiet partition: writes to it resume through a survivor", async () => {
    const key = "quiet-5";
    // Quiet again after the previous test's write.
    await waitUntil(
      async () => {
        const before = await Promise.all(members.map(framesOut));
        await Bun.sleep(500);
        return (await Promise.all(members.map(framesOut))).every((n, i) => n === before[i]);
      },
      30_000,
      "quiet again",
      0,
    );
    const victim = await leaderOf(key);
    const survivor = client(members.find((m) => m !== victim)!);
    const killedAt = performance.now();
    await victim.kill9();
    let reply: string | null = null;
    while (reply !== "OK" && performance.now() - killedAt < 20_000)
      reply = await survivor.set(key, "after-kill").catch(() => null);
    const ms = performance.now() - killedAt;
    console.log(`kill -9 of ${victim.id}, leader of ${key}'s quiet partition: first write after ${ms.toFixed(0)} ms`);
    expect(reply).toBe("OK");
    // The issue asks for < 2 s; the bound here leaves room for a loaded CI machine.
    expect(ms).toBeLessThan(5_000);
    for (const m of members.filter((x) => x !== victim)) expect(await client(m).get("quiet-1")).toBe("v1");
  });

  test("with lease reads nothing goes quiet (a quiet leader's stopped clock would stretch its lease)", async () => {
    const lone = await startClusterMember({ id: "l1", partitions: PARTITIONS, args: ["--read-consistency", "lease"] });
    members.push(lone);
    await waitUntil(
      async () => (await fetch(`${lone.http}/ready`)).status === 200,
      30_000,
      "the one-node cluster to be ready",
      100,
    );
    expect(await client(lone).set("lease-key", "v")).toBe("OK");
    await Bun.sleep(1000); // 20 ticks: a one-node group in safe mode goes quiet within 2
    expect(await metricValue(lone, "flydb_raft_quiet_groups")).toBe(0);
    expect(await client(lone).get("lease-key")).toBe("v");
  });
});
