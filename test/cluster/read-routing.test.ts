// Read routing (issue #17) on a real 3-node cluster in network namespaces: under every
// routing_strategy (switched with CONFIG SET routing-strategy on every node) a recorded
// read/write history through every node is linearizable, and the strategies that may pick a
// follower do have followers serve reads (counted in /metrics). Then, under round-robin, a
// follower is cut off and a leader is killed while the workload runs: still linearizable.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ROUTING_STRATEGIES } from "../../src/cluster/core/read-target.ts";
import {
  clusterStatus,
  createHarness,
  type FlyNode,
  type Harness,
  waitClusterSettled,
} from "../helpers/cluster-harness.ts";
import { runWithFault, workloadKeys } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { checkHistory, describeFailures, finalReads, startWorkload } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;

/** flydb_reads_served_total of one node, by `strategy/role`. */
async function served(h: Harness, n: FlyNode): Promise<Record<string, number>> {
  const body = (await h.http(n, "/metrics")).body;
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^flydb_reads_served_total\{strategy="([^"]+)",role="([^"]+)"\} (\d+)/gm))
    out[`${m[1]}/${m[2]}`] = Number(m[3]);
  return out;
}

async function servedEverywhere(h: Harness): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const n of h.nodes) for (const [k, v] of Object.entries(await served(h, n))) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

async function setStrategy(h: Harness, strategy: string): Promise<void> {
  for (const n of h.nodes) expect(await h.redis(n, "CONFIG", "SET", "routing-strategy", strategy)).toBe("OK");
}

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

  test("every strategy: a history through every node is linearizable; followers serve all but key-based", async () => {
    const lines: string[] = [];
    for (const strategy of ROUTING_STRATEGIES) {
      await setStrategy(h, strategy);
      const before = await servedEverywhere(h);
      const { registerKeys, counterKeys } = workloadKeys(PARTITIONS, 3, 1);
      const run = startWorkload(h.net, h.client.ns, {
        targets: h.nodes.map((n) => n.resp),
        clients: 6,
        registerKeys,
        counterKeys,
        maxOps: 20_000,
        maxMs: 2_500,
        opTimeoutMs: 1_000,
        seed: 7,
      });
      const { records, summary } = await run.done;
      const checks = checkHistory(records, await finalReads(h, h.nodes, [...registerKeys, ...counterKeys]));
      const after = await servedEverywhere(h);
      const delta = (role: string) => (after[`${strategy}/${role}`] ?? 0) - (before[`${strategy}/${role}`] ?? 0);
      lines.push(
        `${strategy}: ${JSON.stringify(summary)}; served by leaders ${delta("leader")}, followers ${delta("follower")}`,
      );
      expect(`${strategy}: ${describeFailures(checks).join("; ")}`).toBe(`${strategy}: `);
      expect(records.filter((r) => r.op === "get" && r.status === "ok").length).toBeGreaterThan(20);
      if (strategy === "key-based") expect(delta("follower")).toBe(0);
      else expect(delta("follower")).toBeGreaterThan(10);
    }
    console.log(lines.join("\n"));
  }, 90_000);

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

  test("round-robin while a follower is cut off: linearizable", async () => {
    await setStrategy(h, "round-robin");
    const s = await clusterStatus(h, h.nodes[0]!);
    // A node other than the metadata leader: a follower of group 0 (it leads some data partitions).
    const cut = h.nodes.find((n) => n.id !== s.metadata_leader)!;
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      keys: workloadKeys(PARTITIONS, 3, 1),
      workloadMs: 6_000,
      faultAfterMs: 1_000,
      fault: () => h.net.linkDown(cut.host.ns),
      holdMs: 3_000,
      repair: () => h.net.linkUp(cut.host.ns),
    });
    console.log(`round-robin, ${cut.id} cut off: ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
  }, 90_000);

  test("hybrid while a leader is killed: linearizable", async () => {
    await setStrategy(h, "hybrid");
    const s = await clusterStatus(h, h.nodes[0]!);
    const victim = h.nodes.find((n) => n.id === s.metadata_leader)!;
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      keys: workloadKeys(PARTITIONS, 3, 1),
      workloadMs: 6_000,
      faultAfterMs: 1_000,
      fault: () => h.kill9(victim),
      holdMs: 2_000,
      repair: async () => {
        await h.start(victim, { wait: "ready", timeoutMs: 20_000 });
        // A restarted node starts with the configured strategy: key-based.
        expect(await h.redis(victim, "CONFIG", "SET", "routing-strategy", "hybrid")).toBe("OK");
      },
    });
    console.log(`hybrid, ${victim.id} killed: ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
  }, 90_000);
});
