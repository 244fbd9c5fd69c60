// Three nodes form a cluster by --peers (n1 --bootstrap, n2 and n3 --peers n1's gossip address),
// each in its own network namespace: all reach ready, CLUSTER SLOTS covers 0–16383 identically
// everywhere, and a write through any node is readable through every node.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, keysInDistinctPartitions, slotCoverageProblems, waitClusterSettled, type Harness } from "../helpers/cluster-harness.ts";
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

  test("every node is ready and CLUSTER SLOTS covers 0–16383 the same way on each, led by members", async () => {
    const ranges = await waitClusterSettled(h);
    expect(slotCoverageProblems(ranges)).toEqual([]);
    const members = new Set(h.nodes.map((n) => n.resp));
    for (const r of ranges) {
      expect(members.has(r.master)).toBe(true);
      // replication_factor 3 on 3 nodes: every partition has a replica on every node.
      expect(new Set([r.master, ...r.replicas])).toEqual(members);
    }
    for (const n of h.nodes) expect(await h.clusterSlots(n)).toEqual(ranges);
    // Leaders are spread: with 16 partitions no node should lead them all.
    expect(new Set(ranges.map((r) => r.master)).size).toBeGreaterThan(1);
  });

  test("CLUSTER KEYSLOT agrees with Redis (hash tags included) on every node", async () => {
    for (const n of h.nodes) {
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "foo")).toBe(12182);
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.a")).toBe(await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.b"));
    }
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

  test("/cluster/status on each node lists all three members", async () => {
    for (const n of h.nodes) {
      const r = await h.http(n, "/cluster/status");
      expect(r.status).toBe(200);
      for (const m of h.nodes) expect(r.body).toContain(m.id);
    }
  });
});
