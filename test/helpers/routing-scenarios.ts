// The read-routing checks (issue #17), registered as tests in the caller's describe (its cluster
// started in beforeAll): under every routing_strategy (switched with CONFIG SET routing-strategy
// on every node) a recorded read/write history through every node is linearizable, and the
// strategies that may pick a follower do have followers serve reads (counted in /metrics); then,
// under round-robin, a follower is cut off, and under hybrid a leader is killed, while the
// workload runs: still linearizable. Used by the 3-node (test/cluster/read-routing.test.ts) and
// the 5-node (test/cluster/formation.test.ts) clusters.
import { expect, test } from "bun:test";
import { ROUTING_STRATEGIES } from "../../src/cluster/core/read-target.ts";
import { clusterStatus, type FlyNode, type Harness, waitClusterSettled } from "./cluster-harness.ts";
import { runWithFault, workloadKeys } from "./cluster-scenarios.ts";
import { checkHistory, describeFailures, finalReads, startWorkload } from "./workload.ts";

/** flydb_reads_served_total of one node, by `strategy/role`. */
async function served(h: Harness, n: FlyNode): Promise<Record<string, number>> {
  const body = (await h.http(n, "/metrics")).body;
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^flydb_reads_served_total\{strategy="([^"]+)",role="([^"]+)"\} (\d+)/gm))
    out[`${m[1]}/${m[2]}`] = Number(m[3]);
  return out;
}

/** flydb_reads_served_total summed over the nodes, by `strategy/role`. */
export async function servedEverywhere(h: Harness): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const n of h.nodes) for (const [k, v] of Object.entries(await served(h, n))) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

export async function setStrategy(h: Harness, strategy: string): Promise<void> {
  for (const n of h.nodes) expect(await h.redis(n, "CONFIG", "SET", "routing-strategy", strategy)).toBe("OK");
}

export interface RoutingTestOptions {
  /** How long the workload runs under each strategy. */
  readonly strategyMs: number;
  /** How long the workload runs around a fault (cut off after 1 s, or killed after 1 s). */
  readonly faultMs: number;
}

export function routingTests(harness: () => Harness, partitionCount: number, o: RoutingTestOptions): void {
  const label = () => `${harness().nodes.length} nodes`;

  test("every strategy: a history through every node is linearizable; followers serve all but key-based", async () => {
    const h = harness();
    await waitClusterSettled(h);
    const lines: string[] = [];
    for (const strategy of ROUTING_STRATEGIES) {
      await setStrategy(h, strategy);
      const before = await servedEverywhere(h);
      const { registerKeys, counterKeys } = workloadKeys(partitionCount, 3, 1);
      const run = startWorkload(h.net, h.client.ns, {
        targets: h.nodes.map((n) => n.resp),
        clients: 6,
        registerKeys,
        counterKeys,
        maxOps: 20_000,
        maxMs: o.strategyMs,
        // Enough reads for the counts below (a loaded machine issues fewer within strategyMs).
        minOps: 200,
        opTimeoutMs: 1_000,
        seed: 7,
      });
      const { records, summary } = await run.done;
      const checks = checkHistory(records, await finalReads(h, h.nodes, [...registerKeys, ...counterKeys]));
      const after = await servedEverywhere(h);
      const delta = (role: string) => (after[`${strategy}/${role}`] ?? 0) - (before[`${strategy}/${role}`] ?? 0);
      lines.push(
        `${label()}, ${strategy}: ${JSON.stringify(summary)}; served by leaders ${delta("leader")}, ` +
          `followers ${delta("follower")}`,
      );
      expect(`${strategy}: ${describeFailures(checks).join("; ")}`).toBe(`${strategy}: `);
      expect(records.filter((r) => r.op === "get" && r.status === "ok").length).toBeGreaterThan(20);
      if (strategy === "key-based") expect(delta("follower")).toBe(0);
      else expect(delta("follower")).toBeGreaterThan(10);
    }
    console.log(lines.join("\n"));
  }, 90_000);

  test("round-robin while a follower is cut off: linearizable", async () => {
    const h = harness();
    await setStrategy(h, "round-robin");
    const s = await clusterStatus(h, h.nodes[0]!);
    // A node other than the metadata leader: a follower of group 0 (it leads some data partitions).
    const cut = h.nodes.find((n) => n.id !== s.metadata_leader)!;
    const run = await runWithFault(h, {
      partitionCount,
      keys: workloadKeys(partitionCount, 3, 1),
      workloadMs: o.faultMs,
      faultAfterMs: 1_000,
      fault: () => h.net.linkDown(cut.host.ns),
      holdMs: o.faultMs / 2,
      repair: () => h.net.linkUp(cut.host.ns),
    });
    console.log(`${label()}, round-robin, ${cut.id} cut off: ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
  }, 90_000);

  test("hybrid while a leader is killed: linearizable", async () => {
    const h = harness();
    await setStrategy(h, "hybrid");
    const s = await clusterStatus(h, h.nodes[0]!);
    const victim = h.nodes.find((n) => n.id === s.metadata_leader)!;
    const run = await runWithFault(h, {
      partitionCount,
      keys: workloadKeys(partitionCount, 3, 1),
      workloadMs: o.faultMs,
      faultAfterMs: 1_000,
      fault: () => h.kill9(victim),
      holdMs: o.faultMs / 3,
      repair: async () => {
        await h.start(victim, { wait: "ready", timeoutMs: 20_000 });
        // A restarted node starts with the configured strategy: key-based.
        expect(await h.redis(victim, "CONFIG", "SET", "routing-strategy", "hybrid")).toBe("OK");
      },
    });
    console.log(`${label()}, hybrid, ${victim.id} killed: ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
  }, 90_000);
}
