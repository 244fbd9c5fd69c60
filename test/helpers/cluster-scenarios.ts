// Fault scenarios shared by the cluster tests: each runs the recorded workload from the client
// namespace against every node while a fault happens, then reads every key through every node
// and checks the history (linearizable, no acknowledged write lost, none applied twice).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keysInDistinctPartitions, waitClusterSettled, type Harness } from "./cluster-harness.ts";
import { checkHistory, describeFailures, finalReads, type KeyCheck, type OpRecord, type WorkloadSummary, startWorkload } from "./workload.ts";

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
export function workloadKeys(partitionCount: number, registers = 2, counters = 1): { registerKeys: string[]; counterKeys: string[] } {
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
