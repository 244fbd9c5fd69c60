// Return after a network partition heals (issue #18, item 4), in network namespaces: one node of
// three is cut off until it and the others declare each other dead, then its link comes back. Measured from the
// heal to the first moment the cut-off node serves a write in every partition through itself;
// p99 must stay under 3 s over 20 runs. The majority never loses sight of its own (reachable) members: no
// "no other member is alive" there. HEAL_RUNS=20 gives the p99 over 20 runs
// (docs/PERFORMANCE.md); the default 2 keeps npm test short.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  clusterStatus,
  createHarness,
  keysInDistinctPartitions,
  waitClusterSettled,
  waitUntil,
  type Harness,
} from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";

const RUNS = Number(process.env.HEAL_RUNS ?? 2);
/** How long the cut lasts once both sides declared each other dead: long enough for back-offs to grow. */
const HOLD_MS = Number(process.env.HEAL_HOLD_MS ?? 12_000);
const PARTITIONS = 16;
setDefaultTimeout(60_000 + RUNS * (40_000 + HOLD_MS));

describe.skipIf(skipNetns)("return after a partition heals", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test(`the cut-off node serves every partition again within 3 s of the heal (p99 of ${RUNS}); the majority never declares a reachable peer dead`, async () => {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "heal-");
    const lonely = (id: string) =>
      readFileSync(h.nodes.find((n) => n.id === id)!.logPath, "utf8").match(/no other member is alive/g)?.length ?? 0;
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const isolated = h.nodes[run % h.nodes.length]!;
      const majority = h.nodes.filter((n) => n !== isolated);
      const lonelyBefore = majority.map((n) => lonely(n.id));
      await h.net.linkDown(isolated.host.ns);
      await waitUntil(
        async () => {
          const s = await clusterStatus(h, majority[0]!);
          return s.members.find((m) => m.id === isolated.id)?.state === "dead";
        },
        30_000,
        `the majority to declare ${isolated.id} dead`,
        200,
      );
      // And the cut-off node to declare the majority dead: healing then needs gossip to reconnect.
      await waitUntil(
        async () => {
          const r = await h.http(isolated, "/cluster/status", { from: isolated.host.ns, timeoutMs: 3_000 });
          const s = r.status === 200 ? (JSON.parse(r.body) as Awaited<ReturnType<typeof clusterStatus>>) : undefined;
          return s?.members.filter((m) => m.id !== isolated.id).every((m) => m.state === "dead") === true;
        },
        30_000,
        `${isolated.id} to declare the others dead`,
        200,
      );
      await Bun.sleep(HOLD_MS);
      await h.net.linkUp(isolated.host.ns);
      const healed = Date.now();
      await waitUntil(
        async () => {
          const rs = await h.redisBatch(
            isolated,
            keys.map((k) => ["SET", k, `run-${run}`]),
            // Short: a batch stuck behind a request sent before the heal (retried by the router for
            // up to 5 s) would otherwise hide that fresh requests are served already.
            { from: isolated.host.ns, timeoutMs: 1_500 },
          );
          const ok = rs.every((r) => r.kind === "reply" && r.value === "OK");
          if (!ok && process.env.HEAL_DEBUG) {
            const st = await h.http(isolated, "/cluster/status", { from: isolated.host.ns, timeoutMs: 2_000 });
            const members =
              st.status === 200
                ? JSON.parse(st.body).members.map((m: { id: string; state: string }) => `${m.id}:${m.state}`)
                : st.status;
            console.log(
              `[heal-debug] +${Date.now() - healed} ms ${JSON.stringify([...new Set(rs.map((r) => JSON.stringify(r).slice(0, 160)))])} view ${members}`,
            );
          }
          return ok;
        },
        30_000,
        `${isolated.id} to serve every partition after the heal`,
        50,
      );
      times.push(Date.now() - healed);
      if (process.env.HEAL_DEBUG)
        console.log(
          `[heal-debug] ${isolated.id} ${Date.now() - healed} ms; heal at ${new Date(healed).toISOString()}\n${h.logTail(isolated, 40)}\n--- majority ${majority[0]!.id}\n${h.logTail(majority[0]!, 25)}`,
        );
      // Settle before the next cut: every member alive everywhere, every partition led.
      await waitClusterSettled(h, 30_000, 500);
      expect(majority.map((n) => lonely(n.id))).toEqual(lonelyBefore);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    console.log(`[heal] return after heal over ${RUNS} runs: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; ${times.join(", ")}`);
    // The bound, p99 < 3 s, is asserted over HEAL_RUNS >= 20 (a quiet machine). A short
    // run in npm test, on a machine loaded by other suites, only guards against the old behaviour:
    // 12-18 s, replies held in TCP retransmission back-off on connections from before the cut.
    expect(p(0.99)).toBeLessThan(RUNS >= 20 ? 3_000 : 10_000);
  });
});
