// CLUSTER SLOTS and CLUSTER KEYSLOT on a 3-node cluster formed by --peers: the map covers 0–16383
// the same way on every node, masters are members, every node holds a replica of every partition
// (replication_factor 3), and key slots match Redis (hash tags included).
// Pending: cluster mode answers "ERR unknown command 'CLUSTER'" so far. Rename to .test.ts when
// the CLUSTER commands land.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, keysInDistinctPartitions, slotCoverageProblems, waitClusterSettled, waitUntil, type Harness } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("CLUSTER SLOTS and KEYSLOT on a 3-node cluster", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("every node is ready and CLUSTER SLOTS covers 0–16383 the same way on each, led by members", async () => {
    await waitClusterSettled(h);
    // Every node answers the same map once the controller has spread the leaders (with 16
    // partitions no node should lead them all).
    const ranges = await waitUntil(
      async () => {
        const views = await Promise.all(h.nodes.map((n) => h.clusterSlots(n)));
        const same = views.every((v) => JSON.stringify(v) === JSON.stringify(views[0]));
        return same && new Set(views[0]!.map((r) => r.master)).size > 1 ? views[0] : undefined;
      },
      20_000,
      "the same CLUSTER SLOTS on every node, with leaders on more than one node",
    );
    expect(slotCoverageProblems(ranges)).toEqual([]);
    const members = new Set(h.nodes.map((n) => n.resp));
    for (const r of ranges) {
      expect(members.has(r.master)).toBe(true);
      // replication_factor 3 on 3 nodes: every partition has a replica on every node.
      expect(new Set([r.master, ...r.replicas])).toEqual(members);
    }
  });

  test("CLUSTER KEYSLOT agrees with Redis (hash tags included) on every node", async () => {
    for (const n of h.nodes) {
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "foo")).toBe(12182);
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.a")).toBe(await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.b"));
    }
  });

  test("leaderFor names the master of a key's slot, and that node leads: a write through it succeeds", async () => {
    for (const key of keysInDistinctPartitions(4, PARTITIONS, "lf-")) {
      const leader = await h.leaderFor(key);
      expect(h.nodes).toContain(leader);
      expect(await h.redis(leader, "SET", key, "x")).toBe("OK");
    }
  });
});
