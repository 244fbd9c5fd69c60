// Clock skew and TTLs on a loopback cluster of real processes: n1's clock is right, n2's and n3's
// run 30 s behind (FLYDB_TEST_CLOCK_OFFSET_MS, a test-only hook: the processes share one kernel
// clock). A key n1 leads expires and n1 says so; then n1 is killed and a behind-clock node leads
// the partition. The key must stay expired: reads decide TTLs at no earlier a time than the newest
// op applied (src/cluster/replica-host.ts, the rule in docs/design/cluster.md), not by the serving
// leader's clock alone, with which the key would be alive for another 30 s.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;
const BEHIND = { FLYDB_TEST_CLOCK_OFFSET_MS: "-30000" };
const members: ClusterMemberProcess[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(members.map((m) => m.stop(2000)));
});

const client = (m: ClusterMemberProcess): Redis => {
  const c = new Redis({ port: m.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 5_000 });
  c.on("error", () => {});
  clients.push(c);
  return c;
};

/** Whether `m` says it leads the key's partition (CLUSTER SLOTS, on a connection of its own). */
async function leads(m: ClusterMemberProcess, key: string): Promise<boolean> {
  const c = new Redis({ port: m.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    const slot = (await c.call("cluster", "keyslot", key)) as number;
    const ranges = (await c.call("cluster", "slots")) as [number, number, [string, number]][];
    return ranges.find(([a, b]) => slot >= a && slot <= b)?.[2][1] === m.port;
  } finally {
    c.disconnect();
  }
}

const NAME = "a key seen expired through its leader stays expired after failover to a node whose clock is 30 s behind";

test(NAME, async () => {
  const n1 = await startClusterMember({ id: "c1", partitions: PARTITIONS });
  members.push(n1);
  for (const id of ["c2", "c3"]) {
    members.push(await startClusterMember({ id, seed: n1.gossip, partitions: PARTITIONS, env: BEHIND }));
  }
  await waitUntil(
    async () => {
      const s = (await (await fetch(`${n1.http}/cluster/status`)).json()) as {
        members: unknown[];
        partitions: { healthy: number; leaders_per_node: Record<string, number> };
      };
      // Replicas on every member first, then leaders spread over them by transfer.
      const leading = Object.keys(s.partitions.leaders_per_node).length;
      return s.members.length === 3 && s.partitions.healthy === PARTITIONS && leading === 3;
    },
    40_000,
    "3 members, every partition healthy, each member leading some",
    250,
  );
  // A hash tag whose partition n1 leads (the controller spreads leaders over the members).
  const tag = await waitUntil(
    async () => {
      for (let i = 0; i < 64; i++) if (await leads(n1, `{skew${i}}`)) return `{skew${i}}`;
      return undefined;
    },
    20_000,
    "a partition led by the node with the right clock",
  );
  const c1 = client(n1);
  expect(await c1.set(`${tag}ttl`, "v", "PX", 1500)).toBe("OK");
  expect(await client(members[1]!).get(`${tag}ttl`)).toBe("v");
  await waitUntil(async () => (await c1.get(`${tag}ttl`)) === null, 5_000, "the key to expire on n1", 10);
  // A later write in the partition, carrying n1's time; then n1 dies at once (before its active
  // expiry deletes the key through the log, which would hide the bug).
  expect(await c1.set(`${tag}later`, "x")).toBe("OK");
  await n1.kill9();
  const c2 = client(members[1]!);
  const got = await waitUntil(
    async () => {
      try {
        return { v: await c2.get(`${tag}ttl`) };
      } catch {
        return undefined; // no leader yet
      }
    },
    20_000,
    "a read of the partition through a survivor",
    50,
  );
  expect(await c2.get(`${tag}later`)).toBe("x");
  expect(got.v).toBeNull();
  expect(await client(members[2]!).get(`${tag}ttl`)).toBeNull();
});
