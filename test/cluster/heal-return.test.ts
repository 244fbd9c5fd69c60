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
import { groupOf } from "../../src/keyspace/groups.ts";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";

const RUNS = Number(process.env.HEAL_RUNS ?? 1);
/** How long the cut lasts once both sides declared each other dead: long enough for back-offs to grow. */
const HOLD_MS = Number(process.env.HEAL_HOLD_MS ?? 12_000);
const PARTITIONS = 16;
const PROBE_EVERY_MS = 100;
/** Short: a batch stuck behind a request sent before the heal must not hide that fresh ones are served. */
const PROBE_TIMEOUT_MS = 1_500;
setDefaultTimeout(60_000 + RUNS * (40_000 + HOLD_MS));

describe.skipIf(skipNetns)("return after a partition heals", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({
      nodes: 3,
      mode: "cluster",
      partitionCount: PARTITIONS,
      extraArgs: () => (process.env.HEAL_DEBUG ? ["--log-level", "debug"] : []),
    });
    await h.startAll({ timeoutMs: 30_000 });
    await waitClusterSettled(h);
  });

  afterAll(async () => {
    await h?.destroy();
  });

  /** Every node's log lines from 1 s before the heal on (log lines start with their ISO time). */
  function dumpLogs(healed: number): void {
    const since = new Date(healed - 1_000).toISOString();
    for (const n of h.nodes) {
      const lines = readFileSync(n.logPath, "utf8")
        .split("\n")
        .filter((l) => l.slice(0, since.length) >= since);
      console.log(`[heal-debug] --- ${n.id}\n${lines.join("\n")}`);
    }
  }

  /**
   * Sends a batch of one SET per partition through the cut-off node every PROBE_EVERY_MS, each
   * batch given PROBE_TIMEOUT_MS, and returns when every partition has answered OK to a SET sent
   * after the heal (ms after the heal; a key counts when its batch ends, an upper bound).
   * Overlapping batches time the return to ~0.1 s where waiting for each in turn would add a whole
   * timeout per failed batch. redis-cli sends a batch's SETs one after the other, so each batch
   * starts at another key: a stalled partition, or a machine so loaded that 16 round trips take
   * longer than the timeout, does not keep the same keys behind it every time.
   */
  async function probeUntilServed(isolated: Harness["nodes"][number], run: number, healed: number): Promise<number> {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "heal-");
    const servedAt = new Map<string, number>();
    const batches: Promise<void>[] = [];
    for (let batch = 0; servedAt.size < keys.length && Date.now() - healed < 30_000; batch++) {
      const order = [...keys.slice(batch % keys.length), ...keys.slice(0, batch % keys.length)];
      batches.push(
        h
          .redisBatch(
            isolated,
            order.map((k) => ["SET", k, `run-${run}`]),
            { from: isolated.host.ns, timeoutMs: PROBE_TIMEOUT_MS },
          )
          .then((rs) => {
            const now = Date.now();
            rs.forEach((r, i) => {
              if (r.kind === "reply" && r.value === "OK" && !servedAt.has(order[i]!)) servedAt.set(order[i]!, now);
            });
            const stalled = rs.findIndex((r) => !(r.kind === "reply" && r.value === "OK"));
            if (stalled >= 0 && process.env.HEAL_DEBUG) {
              const key = order[stalled]!;
              const p = partitionOf(keySlot(new TextEncoder().encode(key)), PARTITIONS);
              console.log(
                `[heal-debug] +${now - healed} ms: ${key} (grp ${groupOf(p)}) ${JSON.stringify(rs[stalled])}`,
              );
            }
          }),
      );
      await Bun.sleep(PROBE_EVERY_MS);
    }
    await Promise.all(batches);
    if (servedAt.size < keys.length) {
      if (process.env.HEAL_DEBUG) dumpLogs(healed);
      const never = keys.filter((k) => !servedAt.has(k));
      throw new Error(`${isolated.id} did not serve ${never.join(", ")} within 30 s of the heal`);
    }
    return Math.max(...servedAt.values()) - healed;
  }

  test(`the cut-off node serves every partition again within 3 s of the heal (p99 of ${RUNS}); the majority never declares a reachable peer dead`, async () => {
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
      const returned = await probeUntilServed(isolated, run, healed);
      times.push(returned);
      console.log(`[heal] run ${run + 1}: ${isolated.id} served every partition ${returned} ms after the heal`);
      if (process.env.HEAL_DEBUG && returned > 3_000) dumpLogs(healed);
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
