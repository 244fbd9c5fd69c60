// Membership changes under a recorded workload: a 4th node joins a 3-node cluster and partitions
// rebalance onto it (it ends up holding and leading some); then it is killed for good and, after
// dead_node_timeout, it is removed and its replicas are rebuilt on the survivors, so every
// partition is back to replication_factor. Data written before, during and after is all there,
// and the history is linearizable.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  clusterStatus,
  createHarness,
  keysInDistinctPartitions,
  waitClusterSettled,
  waitUntil,
  type Harness,
} from "../helpers/cluster-harness.ts";
import { workloadKeys } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { checkHistory, describeFailures, finalReads, startWorkload } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("adding and removing a node", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({
      nodes: 4,
      mode: "cluster",
      partitionCount: PARTITIONS,
      extraArgs: () => ["--dead-node-timeout", "2s"],
    });
    const [n1, n2, n3] = h.nodes;
    await h.start(n1!);
    await Promise.all([h.start(n2!), h.start(n3!)]);
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("a 4th node gets partitions; a node gone for good is replaced, back to 3 replicas everywhere", async () => {
    const [n1, n2, n3, n4] = h.nodes as [
      (typeof h.nodes)[0],
      (typeof h.nodes)[0],
      (typeof h.nodes)[0],
      (typeof h.nodes)[0],
    ];
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "m-");
    const all = (node: typeof n1, cmds: string[][]) =>
      h.redisBatch(node, cmds).then((rs) => rs.map((r) => (r.kind === "reply" ? r.value : r.kind)));
    const gets = keys.map((k) => ["GET", k]);
    expect(
      await all(
        n1,
        keys.map((k) => ["SET", k, "v1"]),
      ),
    ).toEqual(keys.map(() => "OK"));

    const wk = workloadKeys(PARTITIONS);
    const run = startWorkload(h.net, h.client.ns, {
      targets: [n1.resp, n2.resp, n3.resp],
      clients: 4,
      ...wk,
      maxOps: 50_000,
      maxMs: 40_000,
      opTimeoutMs: 1_000,
      seed: 3,
    });

    // Join: n4 is admitted, receives replicas and (by leadership spreading) leads some partitions.
    await h.start(n4, { wait: "ready", timeoutMs: 30_000 });
    const joined = await waitUntil(
      async () => {
        const s = await clusterStatus(h, n1);
        const ok =
          s.members.some((m) => m.id === n4.id && m.state === "alive") &&
          s.partitions.leaderless === 0 &&
          s.partitions.under_replicated === 0 &&
          (s.partitions.leaders_per_node[n4.id] ?? 0) > 0;
        return ok ? s : undefined;
      },
      30_000,
      "n4 to be admitted, hold replicas and lead partitions",
    );
    console.log(`after join: leaders per node ${JSON.stringify(joined.partitions.leaders_per_node)}`);
    expect(await all(n4, gets)).toEqual(keys.map(() => "v1"));

    // Gone for good: after dead_node_timeout (2 s) it is removed and its replicas rebuilt.
    await h.kill9(n4);
    const removedAt = Date.now();
    const healed = await waitUntil(
      async () => {
        const s = await clusterStatus(h, n1);
        const ok =
          !s.members.some((m) => m.id === n4.id) &&
          s.partitions.healthy === PARTITIONS &&
          s.partitions.leaderless === 0 &&
          s.partitions.under_replicated === 0 &&
          !(n4.id in s.partitions.leaders_per_node);
        return ok ? s : undefined;
      },
      30_000,
      "n4 to be removed and every partition back to 3 live replicas",
    );
    console.log(`re-replicated ${Date.now() - removedAt} ms after kill -9 of n4: ${JSON.stringify(healed.partitions)}`);
    await waitClusterSettled(h);
    for (const n of [n1, n2, n3]) expect(await all(n, gets)).toEqual(keys.map(() => "v1"));
    expect(
      await all(
        n2,
        keys.map((k) => ["SET", k, "v2"]),
      ),
    ).toEqual(keys.map(() => "OK"));
    expect(await all(n3, gets)).toEqual(keys.map(() => "v2"));

    run.stop();
    const { records, summary } = await run.done;
    console.log(`workload during join and removal: ${JSON.stringify(summary)}`);
    const finals = await finalReads(h, [n1, n2, n3], [...wk.registerKeys, ...wk.counterKeys]);
    expect(describeFailures(checkHistory(records, finals))).toEqual([]);
  });
});
