// Fault scenarios shared by the cluster tests: each runs the recorded workload from the client
// namespace against every node while a fault happens, then reads every key through every node
// and checks the history (linearizable, no acknowledged write lost, none applied twice).
import { keysInDistinctPartitions, waitClusterSettled, type FlyNode, type Harness } from "./cluster-harness.ts";
import { checkHistory, finalReads, type KeyCheck, type OpRecord, type WorkloadSummary, startWorkload } from "./workload.ts";

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
}

/** Keys of the workload: registers and a counter, each in its own partition. */
export function workloadKeys(partitionCount: number): { registerKeys: string[]; counterKeys: string[] } {
  const [r1, r2, c1] = keysInDistinctPartitions(3, partitionCount, "wl-");
  return { registerKeys: [r1!, r2!], counterKeys: [c1!] };
}

export async function runWithFault(h: Harness, o: FaultOptions): Promise<FaultRun> {
  const { registerKeys, counterKeys } = workloadKeys(o.partitionCount);
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
  return { records, summary, checks: checkHistory(records, finals), registerKeys, counterKeys, faultAt, repairedAt };
}

/** ms from `from` to the first acknowledged write on `key` invoked after it (Infinity if none). */
export function writeResumedAfter(records: readonly OpRecord[], key: string, from: number): number {
  const first = records
    .filter((r) => r.key === key && r.op !== "get" && r.status === "ok" && r.call >= from)
    .reduce((m, r) => Math.min(m, r.ret!), Infinity);
  return first - from;
}

/** Read the metadata (group 0) leader's node id from /cluster/status of a running node. */
export async function metadataLeader(h: Harness): Promise<FlyNode> {
  const via = h.nodes.find((n) => h.isRunning(n));
  if (!via) throw new Error("metadataLeader: no node is running");
  const r = await h.http(via, "/cluster/status");
  const status = JSON.parse(r.body) as Record<string, unknown>;
  // DESIGN §11 names the field "metadata leader"; snake_case like the rest of the status JSON.
  const id = status.metadata_leader;
  const node = h.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`metadataLeader: /cluster/status of ${via.id} has no metadata_leader naming a node: ${r.body}`);
  return node;
}
