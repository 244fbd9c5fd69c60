// Three and five nodes form a cluster by --peers (n1 --bootstrap, the others --peers n1's gossip
// address, started together), each in its own network namespace: all reach ready, the cluster
// settles, and a write through any node is readable through every node.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { clusterStatus, createHarness, keysInDistinctPartitions, waitClusterSettled, type Harness } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

for (const size of [3, 5]) describe.skipIf(skipNetns)(`${size}-node cluster formed by --peers`, () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: size, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("every node is ready and the cluster settles: all members alive, one metadata leader, every partition led and replicated", async () => {
    const status = await waitClusterSettled(h);
    expect(status.partitions.total).toBe(PARTITIONS);
    for (const n of h.nodes) {
      const r = await h.http(n, "/ready");
      expect(`${n.id} ${r.status} ${r.body}`).toBe(`${n.id} 200 {"ready":true}`);
    }
  });

  test("a write through any node is readable through every node, in every partition", async () => {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "k");
    const value = (i: number) => `v-${i}-${h.nodes[i % h.nodes.length]!.id}`;
    for (const [i, key] of keys.entries()) expect(await h.redis(h.nodes[i % h.nodes.length]!, "SET", key, value(i))).toBe("OK");
    for (const n of h.nodes) {
      const got = await h.redisBatch(n, keys.map((k) => ["GET", k]));
      expect(got).toEqual(keys.map((_, i) => ({ kind: "reply", value: value(i) })));
    }
    // INCR through each node in turn: one counter, every increment applied exactly once.
    for (const n of h.nodes) await h.redis(n, "INCR", "counter");
    for (const n of h.nodes) expect(await h.redis(n, "GET", "counter")).toBe(String(size));
  });

  test("/cluster/status on each node lists every member alive and every partition healthy", async () => {
    for (const n of h.nodes) {
      const s = await clusterStatus(h, n);
      expect(s.members.map((m) => `${m.id}:${m.state}`).sort()).toEqual(h.nodes.map((m) => `${m.id}:alive`));
      expect(s.partitions).toMatchObject({ total: PARTITIONS, healthy: PARTITIONS, under_replicated: 0, leaderless: 0 });
      expect(h.nodes.map((m) => m.id)).toContain(s.metadata_leader ?? "(none)");
    }
  });
});
