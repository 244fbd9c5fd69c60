// kill -9 the leader of group 0 (the metadata group) while clients read and write through every
// node: data keeps flowing, a new metadata leader is elected, the killed node restarts and
// rejoins, and the recorded history is linearizable with every acknowledged write present.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  createHarness,
  metadataLeader,
  waitClusterSettled,
  waitUntil,
  type FlyNode,
  type Harness,
} from "../helpers/cluster-harness.ts";
import { runWithFault, writeResumedAfter } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { describeFailures } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("kill -9 of the metadata leader under load", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("a new metadata leader is elected, writes resume, nothing acknowledged is lost", async () => {
    const victim: FlyNode = await metadataLeader(h);
    let successor: FlyNode | undefined;
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      workloadMs: 10_000,
      faultAfterMs: 2_000,
      fault: () => h.kill9(victim),
      during: async () => {
        successor = await waitUntil(
          async () => {
            const l = await metadataLeader(h);
            return l !== victim ? l : undefined;
          },
          10_000,
          "a new metadata leader",
        );
      },
      holdMs: 2_000,
      repair: () => h.start(victim, { wait: "ready", timeoutMs: 20_000 }),
    });
    expect(successor).toBeDefined();
    expect(successor).not.toBe(victim);
    const resumed = Math.max(
      ...[...run.registerKeys, ...run.counterKeys].map((k) => writeResumedAfter(run.records, k, run.faultAt)),
    );
    console.log(
      `failover (metadata leader ${victim.id} → ${successor?.id}): every key written again within ${resumed.toFixed(0)} ms; ${JSON.stringify(run.summary)}`,
    );
    expect(describeFailures(run.checks)).toEqual([]);
    expect(resumed).toBeLessThan(5_000);

    // The restarted node is an alive member again everywhere, and every partition is led and fully replicated.
    const status = await waitClusterSettled(h);
    expect(status.members.map((m) => m.id).sort()).toEqual(h.nodes.map((n) => n.id));
    expect(status.partitions.healthy).toBe(PARTITIONS);
  });
});
