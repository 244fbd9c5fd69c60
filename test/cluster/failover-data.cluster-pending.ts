// kill -9 the leader of a data partition while clients read and write through every node:
// writes to that partition resume, the killed node restarts, catches up and serves, and the
// recorded history is linearizable with every acknowledged write present at the end.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, waitClusterSettled, type FlyNode, type Harness } from "../helpers/cluster-harness.ts";
import { runWithFault, workloadKeys, writeResumedAfter } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { describeFailures } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("kill -9 of a data partition leader under load", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("writes resume, no acknowledged write is lost, the history is linearizable, the node catches up", async () => {
    const hot = workloadKeys(PARTITIONS).registerKeys[0]!;
    const victim: FlyNode = await h.leaderFor(hot);
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      workloadMs: 10_000,
      faultAfterMs: 2_000,
      fault: () => h.kill9(victim),
      holdMs: 4_000,
      repair: () => h.start(victim, { wait: "ready", timeoutMs: 20_000 }),
    });
    const resumedMs = writeResumedAfter(run.records, hot, run.faultAt);
    console.log(`failover (data partition leader ${victim.id}): writes on ${hot} resumed ${resumedMs.toFixed(0)} ms after kill -9; ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
    // The issue asks for < 2 s; the bound here leaves room for a loaded CI machine.
    expect(resumedMs).toBeLessThan(5_000);
    expect(run.records.some((r) => r.op !== "get" && r.status === "ok" && r.call > run.repairedAt)).toBe(true);

    // The restarted node serves: a write through it is read back through the others, and the
    // other way round.
    const others = h.nodes.filter((n) => n !== victim);
    expect(await h.redis(victim, "SET", "after-restart", "from-victim")).toBe("OK");
    for (const n of others) expect(await h.redis(n, "GET", "after-restart")).toBe("from-victim");
    expect(await h.redis(others[0]!, "SET", "after-restart-2", "to-victim")).toBe("OK");
    expect(await h.redis(victim, "GET", "after-restart-2")).toBe("to-victim");
  });
});
