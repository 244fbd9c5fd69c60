// Three nodes form a cluster by --peers (n1 --bootstrap, n2 and n3 --peers n1's gossip address),
// each in its own network namespace: all reach ready, the cluster settles, and a write through any
// node is readable through every node.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { clusterStatus, createHarness, keysInDistinctPartitions, waitClusterSettled, type Harness } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("3-node cluster formed by --peers", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("every node is ready and the cluster settles: all members alive, one metadata leader, every partition led and replicated", async () => {
    const status = await waitClusterSettled(h);
    expect(status.partitions.total).toBe(PARTITIONS);
    for (const n of h.nodes) expect((await h.http(n, "/ready")).status).toBe(200);
  });

  test("a write through any node is readable through every node, in every partition", async () => {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "k");
    for (const [i, key] of keys.entries()) {
      const via = h.nodes[i % h.nodes.length]!;
      expect(await h.redis(via, "SET", key, `v-${i}-${via.id}`)).toBe("OK");
    }
    for (const n of h.nodes) {
      for (const [i, key] of keys.entries()) {
        expect(await h.redis(n, "GET", key)).toBe(`v-${i}-${h.nodes[i % h.nodes.length]!.id}`);
      }
    }
    // INCR through each node in turn: one counter, every increment applied exactly once.
    for (const n of h.nodes) await h.redis(n, "INCR", "counter");
    for (const n of h.nodes) expect(await h.redis(n, "GET", "counter")).toBe("3");
  });

  test("/cluster/status on each node lists all three members alive and every partition healthy", async () => {
    for (const n of h.nodes) {
      const s = await clusterStatus(h, n);
      expect(s.members.map((m) => `${m.id}:${m.state}`).sort()).toEqual(["n1:alive", "n2:alive", "n3:alive"]);
      expect(s.partitions).toMatchObject({ total: PARTITIONS, healthy: PARTITIONS, under_replicated: 0, leaderless: 0 });
      expect(h.nodes.map((m) => m.id)).toContain(s.metadata_leader ?? "(none)");
    }
  });
});
