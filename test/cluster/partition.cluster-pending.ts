// One node's link goes down inside its namespace while clients read and write through every node.
// The majority keeps serving every partition; the cut-off node answers errors within a bounded
// time (never a stale success for a linearizable read, never a hang); after the link returns
// every node converges on the majority's values, and the whole history is linearizable.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, keysInDistinctPartitions, waitClusterSettled, waitUntil, type FlyNode, type Harness } from "../helpers/cluster-harness.ts";
import { runWithFault, workloadKeys } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { describeFailures } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("network partition of one node out of three", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("majority serves, minority errors, heal converges, history linearizable", async () => {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "part-");
    for (const k of keys) expect(await h.redis(h.nodes[0]!, "SET", k, "before")).toBe("OK");
    // Cut off a node that leads the workload's first key, so the majority must elect for it.
    const isolated: FlyNode = await h.leaderFor(workloadKeys(PARTITIONS).registerKeys[0]!);
    const majority = h.nodes.filter((n) => n !== isolated);
    const minorityAnswers: string[] = [];

    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      workloadMs: 14_000,
      faultAfterMs: 1_500,
      fault: () => h.net.linkDown(isolated.host.ns),
      during: async () => {
        // Every partition gets a leader in the majority and takes writes through both its nodes.
        await waitUntil(
          async () => {
            for (const n of majority) {
              for (const k of keys) {
                const r = await h.redisTry(n, ["SET", k, "after"], { timeoutMs: 3_000 });
                if (r.kind !== "reply") return undefined;
              }
            }
            return true;
          },
          15_000,
          "the majority to accept writes in every partition",
          200,
        );
        for (const n of majority) for (const k of keys) expect(await h.redis(n, "GET", k)).toBe("after");
        // The cut-off node is reached from its own namespace; every key now holds "after" in the
        // majority, so a successful read of "before" would be stale. It must answer an error,
        // within a bounded time.
        for (const k of keys.slice(0, 2)) {
          const read = await h.redisTry(isolated, ["GET", k], { from: isolated.host.ns, timeoutMs: 5_000 });
          const write = await h.redisTry(isolated, ["SET", k, "minority"], { from: isolated.host.ns, timeoutMs: 5_000 });
          minorityAnswers.push(`${k}: GET ${JSON.stringify(read)}, SET ${JSON.stringify(write)}`);
          expect(read.kind).toBe("error");
          expect(write.kind).toBe("error");
        }
      },
      holdMs: 1_000,
      repair: () => h.net.linkUp(isolated.host.ns),
    });
    console.log(`partition of ${isolated.id}: minority answered ${minorityAnswers.join("; ")}; workload ${JSON.stringify(run.summary)}`);

    // Converged: every node, the healed one included, reads the majority's values; the writes
    // the minority refused never appear.
    for (const n of h.nodes) for (const k of keys) expect(await h.redis(n, "GET", k)).toBe("after");
    expect(describeFailures(run.checks)).toEqual([]);
    // The healed node serves writes again.
    expect(await h.redis(isolated, "SET", "healed", "yes")).toBe("OK");
    for (const n of majority) expect(await h.redis(n, "GET", "healed")).toBe("yes");
  });
});
