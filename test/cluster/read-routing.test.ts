// Read routing (issue #17) on a real 3-node cluster in network namespaces: the routing checks of
// test/helpers/routing-scenarios.ts (every strategy linearizable, also with a follower cut off
// and a leader killed; the 5-node cluster of test/cluster/formation.test.ts runs them too), and
// CLIENT ROUTING, one connection's strategy over the node's.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, type Harness, waitClusterSettled } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";
import { routingTests, servedEverywhere, setStrategy } from "../helpers/routing-scenarios.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;

describe.skipIf(skipNetns)("read routing strategies, 3 nodes", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("CLIENT ROUTING: one connection's reads go to followers while the nodes stay key-based", async () => {
    await setStrategy(h, "key-based");
    const n = h.nodes[0]!;
    const keys = Array.from({ length: 2 * PARTITIONS }, (_, i) => `cr:${i}`);
    const reads = Array.from({ length: 4 }, () => keys.map((k) => ["GET", k])).flat();
    const before = await servedEverywhere(h);
    const mine = await h.redisBatch(n, [
      ...keys.map((k) => ["SET", k, `v-${k}`]),
      ["CLIENT", "ROUTING"],
      ["CLIENT", "ROUTING", "Round-Robin"],
      ["CLIENT", "ROUTING"],
      ...reads,
      ["CLIENT", "ROUTING", "nearest"],
      ["CLIENT", "ROUTING", "DEFAULT"],
      ["CLIENT", "ROUTING"],
      ["CLIENT", "ROUTING", "hybrid"],
      ["RESET"],
      ["CLIENT", "ROUTING"],
    ]);
    const values = mine.map((o) => (o.kind === "reply" ? o.value : o.kind === "error" ? `ERR:${o.message}` : o.kind));
    expect(values.slice(keys.length, keys.length + 3)).toEqual(["key-based", "OK", "round-robin"]);
    expect(values.slice(keys.length + 3, keys.length + 3 + reads.length)).toEqual(reads.map(([, k]) => `v-${k}`));
    const tail = values.slice(keys.length + 3 + reads.length);
    expect(String(tail[0])).toContain("unknown routing strategy 'nearest'");
    expect(tail.slice(1)).toEqual(["OK", "key-based", "OK", "RESET", "key-based"]);
    // Another connection to the same node keeps the node's strategy.
    const other = await h.redisBatch(n, reads);
    expect(other.every((o) => o.kind === "reply")).toBe(true);
    const after = await servedEverywhere(h);
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    console.log(`CLIENT ROUTING round-robin: ${JSON.stringify({ before, after })}`);
    // Round-robin over three replicas: about two thirds of the override's reads are a follower's.
    expect(delta("round-robin/follower")).toBeGreaterThan(reads.length / 3);
    expect(delta("key-based/follower")).toBe(0);
    expect(delta("key-based/leader")).toBeGreaterThanOrEqual(reads.length);
  }, 30_000);

  routingTests(() => h, PARTITIONS, { strategyMs: 1_500, faultMs: 5_000 });
});
