// Three nodes started at the same moment with mDNS discovery and bootstrap_expect = 3, no peers
// given: exactly one cluster forms (no node bootstraps its own), all reach ready, and a write
// through any node is readable through every node. Multicast stays on the namespaced bridge.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { clusterStatus, createHarness, keysInDistinctPartitions, waitClusterSettled, type Harness } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("3 nodes by discovery with bootstrap_expect = 3", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "discovery", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("one cluster of three forms: every node sees the same members, cluster id and metadata leader", async () => {
    await waitClusterSettled(h);
    const views = await Promise.all(h.nodes.map((n) => clusterStatus(h, n)));
    for (const v of views) {
      expect(v.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
      expect(v.cluster_id).toBe(views[0]!.cluster_id);
      expect(v.metadata_leader).toBe(views[0]!.metadata_leader);
      expect(v.partitions).toMatchObject({ total: PARTITIONS, healthy: PARTITIONS, leaderless: 0 });
    }
  });

  test("a write through any node is readable through every node", async () => {
    const keys = keysInDistinctPartitions(6, PARTITIONS, "d");
    for (const [i, key] of keys.entries()) expect(await h.redis(h.nodes[i % 3]!, "SET", key, `v${i}`)).toBe("OK");
    for (const n of h.nodes) for (const [i, key] of keys.entries()) expect(await h.redis(n, "GET", key)).toBe(`v${i}`);
  });
});
