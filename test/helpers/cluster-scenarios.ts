// Fault scenarios shared by the cluster tests: each runs the recorded workload from the client
// namespace against every node while a fault happens, then reads every key through every node
// and checks the history (linearizable, no acknowledged write lost, none applied twice).
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  clusterStatus,
  keysInDistinctPartitions,
  slotCoverageProblems,
  waitClusterSettled,
  waitUntil,
  type Harness,
} from "./cluster-harness.ts";
import {
  checkHistory,
  describeFailures,
  finalReads,
  type KeyCheck,
  type OpRecord,
  type WorkloadSummary,
  startWorkload,
} from "./workload.ts";

export interface FaultRun {
  readonly records: OpRecord[];
  readonly summary: WorkloadSummary;
  readonly checks: KeyCheck[];
  readonly registerKeys: string[];
  readonly counterKeys: string[];
  /** Epoch ms when the fault began and when it was repaired. */
  readonly faultAt: number;
  readonly repairedAt: number;
}

export interface FaultOptions {
  partitionCount: number;
  /** Workload length; the fault starts after `faultAfterMs`. */
  workloadMs: number;
  faultAfterMs: number;
  /** Inject the fault (kill, cut a link); resolves when it is in place. */
  fault: () => Promise<void>;
  /** Runs while the fault is in place (assertions about the degraded cluster). */
  during?: () => Promise<void>;
  /** How long the fault stays after `during` finished. */
  holdMs: number;
  /** Undo the fault (restart, link up); resolves when done. */
  repair: () => Promise<void>;
  seed?: number;
  /** Keys of the workload (default workloadKeys(partitionCount)). */
  keys?: { registerKeys: string[]; counterKeys: string[] };
}

let workloads = 0;

/**
 * Fresh keys for one workload: `registers` registers and `counters` counters, each in its own
 * partition. Fresh because the models start empty: a key left over from an earlier run in the
 * same cluster would make its history look wrong.
 */
export function workloadKeys(
  partitionCount: number,
  registers = 2,
  counters = 1,
): { registerKeys: string[]; counterKeys: string[] } {
  const keys = keysInDistinctPartitions(registers + counters, partitionCount, `wl${++workloads}-`);
  return { registerKeys: keys.slice(0, registers), counterKeys: keys.slice(registers) };
}

export async function runWithFault(h: Harness, o: FaultOptions): Promise<FaultRun> {
  const { registerKeys, counterKeys } = o.keys ?? workloadKeys(o.partitionCount);
  const run = startWorkload(h.net, h.client.ns, {
    targets: h.nodes.map((n) => n.resp),
    clients: 6,
    registerKeys,
    counterKeys,
    maxOps: 50_000,
    maxMs: o.workloadMs,
    opTimeoutMs: 1_000,
    seed: o.seed ?? 1,
  });
  await Bun.sleep(o.faultAfterMs);
  const faultAt = Date.now();
  await o.fault();
  await o.during?.();
  await Bun.sleep(o.holdMs);
  await o.repair();
  const repairedAt = Date.now();
  const { records, summary } = await run.done;
  await waitClusterSettled(h, 30_000);
  const finals = await finalReads(h, h.nodes, [...registerKeys, ...counterKeys]);
  const checks = checkHistory(records, finals);
  if (describeFailures(checks).length > 0) {
    // Kept for diagnosis: the whole history, the final reads and the fault times.
    const path = join(tmpdir(), `fly-ct-failed-history-${process.pid}-${Date.now()}.json`);
    writeFileSync(path, JSON.stringify({ faultAt, repairedAt, finals, records }));
    console.log(`history that failed the check written to ${path}`);
  }
  return { records, summary, checks, registerKeys, counterKeys, faultAt, repairedAt };
}

/** ms from `from` to the first acknowledged write on `key` invoked after it (Infinity if none). */
export function writeResumedAfter(records: readonly OpRecord[], key: string, from: number): number {
  const first = records
    .filter((r) => r.key === key && r.op !== "get" && r.status === "ok" && r.call >= from)
    .reduce((m, r) => Math.min(m, r.ret!), Infinity);
  return first - from;
}

/**
 * The formation checks, registered as tests in the caller's describe (its cluster started in
 * beforeAll): settled and ready everywhere; CLUSTER SLOTS covering 0–16383 the same way on every
 * node with min(3, nodes) distinct members per range; CLUSTER KEYSLOT as in Redis; a write
 * through any node readable through every node in every partition; /cluster/status complete on
 * every node.
 */
export function formationTests(harness: () => Harness, partitionCount: number): void {
  test("every node is ready and the cluster settles: all members alive, one metadata leader, every partition led and replicated", async () => {
    const h = harness();
    const status = await waitClusterSettled(h);
    expect(status.partitions.total).toBe(partitionCount);
    for (const n of h.nodes) {
      const r = await h.http(n, "/ready");
      expect(`${n.id} ${r.status} ${r.body}`).toBe(`${n.id} 200 {"ready":true}`);
    }
  });

  test("a write through any node is readable through every node, in every partition", async () => {
    const h = harness();
    const keys = keysInDistinctPartitions(partitionCount, partitionCount, "k");
    const value = (i: number) => `v-${i}-${h.nodes[i % h.nodes.length]!.id}`;
    for (const [i, key] of keys.entries())
      expect(await h.redis(h.nodes[i % h.nodes.length]!, "SET", key, value(i))).toBe("OK");
    for (const n of h.nodes) {
      const got = await h.redisBatch(
        n,
        keys.map((k) => ["GET", k]),
      );
      expect(got).toEqual(keys.map((_, i) => ({ kind: "reply", value: value(i) })));
    }
    // INCR through each node in turn: one counter, every increment applied exactly once.
    for (const n of h.nodes) await h.redis(n, "INCR", "counter");
    for (const n of h.nodes) expect(await h.redis(n, "GET", "counter")).toBe(String(h.nodes.length));
  });

  test("/cluster/status on each node lists every member alive and every partition healthy", async () => {
    const h = harness();
    for (const n of h.nodes) {
      const s = await clusterStatus(h, n);
      expect(s.members.map((m) => `${m.id}:${m.state}`).sort()).toEqual(h.nodes.map((m) => `${m.id}:alive`));
      expect(s.partitions).toMatchObject({
        total: partitionCount,
        healthy: partitionCount,
        under_replicated: 0,
        leaderless: 0,
      });
      expect(h.nodes.map((m) => m.id)).toContain(s.metadata_leader ?? "(none)");
    }
  });

  test("CLUSTER SLOTS covers 0–16383 the same way on every node, each range on min(3, nodes) members", async () => {
    const h = harness();
    // Every node answers the same map once the controller has spread the leaders (no node
    // should lead every partition).
    const ranges = await waitUntil(
      async () => {
        const views = await Promise.all(h.nodes.map((n) => h.clusterSlots(n)));
        const same = views.every((v) => JSON.stringify(v) === JSON.stringify(views[0]));
        return same && new Set(views[0]!.map((r) => r.master)).size > 1 ? views[0] : undefined;
      },
      20_000,
      "the same CLUSTER SLOTS on every node, with leaders on more than one node",
    );
    expect(slotCoverageProblems(ranges)).toEqual([]);
    const members = new Set(h.nodes.map((n) => n.resp));
    for (const r of ranges) {
      const replicas = [r.master, ...r.replicas];
      expect(replicas.every((a) => members.has(a))).toBe(true);
      expect(new Set(replicas).size).toBe(Math.min(3, h.nodes.length));
    }
  });

  test("CLUSTER KEYSLOT agrees with Redis (hash tags included), and leaderFor names a node that takes the key's writes", async () => {
    const h = harness();
    for (const n of h.nodes) {
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "foo")).toBe(12182);
      expect(await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.a")).toBe(
        await h.redis(n, "CLUSTER", "KEYSLOT", "{user1}.b"),
      );
    }
    for (const key of keysInDistinctPartitions(4, partitionCount, "lf-")) {
      const leader = await h.leaderFor(key);
      expect(await h.redis(leader, "SET", key, "x")).toBe("OK");
    }
  });
}
