// Parent side of workload-client.ts: run the workload inside a namespace, read its history, and
// judge it: per key, linearizability against the register or counter model (unknown outcomes may
// or may not have taken effect), with the values read at the end appended as final reads, so an
// acknowledged write missing at the end fails the check; plus direct checks that every
// acknowledged write is present and nothing was applied twice.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CheckResult,
  checkLinearizable,
  counterModel,
  registerModel,
  type CounterInput,
  type Operation,
  type RegisterInput,
} from "./linearizability.ts";
import type { FlyNode, Harness } from "./cluster-harness.ts";
import type { Netns } from "./netns.ts";
import type { OpRecord, WorkloadConfig, WorkloadSummary } from "./workload-client.ts";

export type { OpRecord, WorkloadConfig, WorkloadSummary } from "./workload-client.ts";

const CLIENT = new URL("./workload-client.ts", import.meta.url).pathname;

export interface WorkloadRun {
  readonly pid: number;
  /** Ask the client to stop early (SIGTERM): operations in flight complete and are recorded. */
  stop(): void;
  /** Resolves when the client exits (after maxOps, maxMs or stop()). */
  readonly done: Promise<{ records: OpRecord[]; summary: WorkloadSummary }>;
}

let runs = 0;

/**
 * Start the workload in namespace `ns` (`net` null: on this host, for loopback clusters); it stops
 * by itself (maxOps/maxMs), or is killed at maxMs + 15 s.
 */
export function startWorkload(net: Netns | null, ns: string, cfg: Omit<WorkloadConfig, "historyPath">): WorkloadRun {
  const historyPath = join(tmpdir(), `fly-ct-${process.pid}-history-${++runs}.jsonl`);
  const full: WorkloadConfig = { ...cfg, historyPath };
  const argv = [process.execPath, CLIENT, JSON.stringify(full)];
  const child = net ? net.spawn(ns, argv, { stderr: "pipe" }) : Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const guard = setTimeout(() => child.kill("SIGKILL"), cfg.maxMs + 15_000);
  const done = (async () => {
    const [out, err, code] = await Promise.all([
      new Response(child.stdout as ReadableStream<Uint8Array>).text(),
      new Response(child.stderr as ReadableStream<Uint8Array>).text(),
      child.exited,
    ]);
    clearTimeout(guard);
    if (code !== 0) throw new Error(`workload client exited ${code ?? child.signalCode}: ${err.trim()}`);
    const records = readFileSync(historyPath, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as OpRecord);
    rmSync(historyPath, { force: true });
    return { records, summary: JSON.parse(out) as WorkloadSummary };
  })();
  return { pid: child.pid, stop: () => child.kill("SIGTERM"), done };
}

/** The value of a key read at the end (after the workload), from one node. */
export interface FinalRead {
  readonly key: string;
  readonly value: string | null;
  /** Epoch ms around the read; it must follow every recorded operation. */
  readonly call: number;
  readonly ret: number;
}

/** GET every key through every given node (from the client namespace); each read is timed by its node's batch. */
/**
 * Every key read through every node. A node that answers an error (no leader yet, say) or times
 * out is asked again until `retryMs` has passed: a GET is idempotent, and the call time recorded is
 * the attempt that answered, so a retried read is judged exactly like a first one.
 */
export async function finalReads(
  h: Harness,
  nodes: readonly FlyNode[],
  keys: readonly string[],
  retryMs = 0,
): Promise<FinalRead[]> {
  const out: FinalRead[] = [];
  for (const node of nodes) {
    const deadline = Date.now() + retryMs;
    for (;;) {
      const call = Date.now();
      const replies = await h.redisBatch(
        node,
        keys.map((k) => ["GET", k]),
      );
      const ret = Date.now();
      const bad = replies.findIndex((r) => r.kind !== "reply" || (r.value !== null && typeof r.value !== "string"));
      if (bad >= 0) {
        if (Date.now() < deadline) {
          await Bun.sleep(500);
          continue;
        }
        throw new Error(`${node.id} GET ${keys[bad]}: ${JSON.stringify(replies[bad])}`);
      }
      replies.forEach((r, i) => {
        out.push({ key: keys[i]!, value: (r as { value: string | null }).value, call, ret });
      });
      break;
    }
  }
  return out;
}

export interface KeyCheck {
  readonly key: string;
  readonly model: "register" | "counter";
  readonly ops: number;
  readonly unknown: number;
  readonly linearizable: boolean;
  readonly inconclusive: boolean;
  /** Human-readable problems found by the direct checks (lost or doubled writes). */
  readonly problems: string[];
}

const retOf = (r: { ret: number | null; status: string }) => (r.status === "ok" && r.ret !== null ? r.ret : Infinity);

/** Check each key's history, with `finals` (reads taken after the workload) appended. */
export function checkHistory(records: readonly OpRecord[], finals: readonly FinalRead[] = []): KeyCheck[] {
  const keys = new Map<string, "register" | "counter">();
  for (const r of records) if (r.model !== "ttl") keys.set(r.key, r.model);
  const results: KeyCheck[] = [];
  for (const [key, model] of keys) {
    // A failed read, or a write refused with a code that says it was not applied, changed
    // nothing and returned nothing: leave it out (a read that finds such a SET's value fails the
    // check, as does a counter above the INCRs that may have been applied).
    const ops = records.filter((r) => r.key === key && r.status !== "fail");
    const mine = finals.filter((f) => f.key === key);
    const unknown = ops.filter((r) => r.status === "unknown").length;
    const problems: string[] = [];
    let result: CheckResult;
    if (model === "register") {
      const history: Operation<RegisterInput, string | null>[] = ops.map((r) => ({
        client: r.client,
        input: r.op === "set" ? { op: "set", value: r.value! } : { op: "get" },
        output: r.status === "ok" ? (r.out as string | null) : undefined,
        call: r.call,
        ret: retOf(r),
      }));
      mine.forEach((f, i) => {
        history.push({ client: -1 - i, input: { op: "get" }, output: f.value, call: f.call, ret: f.ret });
      });
      result = checkLinearizable(history, registerModel);
      const written = new Set(ops.filter((r) => r.op === "set").map((r) => r.value));
      const acked = ops.filter((r) => r.op === "set" && r.status === "ok");
      for (const f of mine) {
        if (f.value === null && acked.length > 0)
          problems.push(`${key}: final read null after ${acked.length} acknowledged SETs`);
        if (f.value !== null && !written.has(f.value))
          problems.push(`${key}: final value ${f.value} was never written`);
      }
    } else {
      const history: Operation<CounterInput, number>[] = ops.map((r) => ({
        client: r.client,
        input: r.op === "incr" ? { op: "incr" } : { op: "get" },
        output:
          r.status !== "ok" ? undefined : r.op === "incr" ? (r.out as number) : r.out === null ? 0 : Number(r.out),
        call: r.call,
        ret: retOf(r),
      }));
      mine.forEach((f, i) => {
        history.push({
          client: -1 - i,
          input: { op: "get" },
          output: f.value === null ? 0 : Number(f.value),
          call: f.call,
          ret: f.ret,
        });
      });
      result = checkLinearizable(history, counterModel);
      const acked = ops.filter((r) => r.op === "incr" && r.status === "ok").length;
      const maybe = ops.filter((r) => r.op === "incr" && r.status === "unknown").length;
      for (const f of mine) {
        const v = f.value === null ? 0 : Number(f.value);
        if (v < acked) problems.push(`${key}: final ${v} < ${acked} acknowledged INCRs (lost writes)`);
        if (v > acked + maybe)
          problems.push(`${key}: final ${v} > ${acked} acknowledged + ${maybe} unknown INCRs (applied twice)`);
      }
    }
    results.push({
      key,
      model,
      ops: ops.length,
      unknown,
      linearizable: result.ok,
      inconclusive: result.inconclusive,
      problems,
    });
  }
  return results;
}

/**
 * TTL keys (model "ttl") read alive by a read invoked after a read that found the key expired had
 * returned: expiry went backwards (a stale read, or a clock behind the one that saw it expire).
 */
export function ttlViolations(records: readonly OpRecord[]): string[] {
  const out: string[] = [];
  const byKey = new Map<string, OpRecord[]>();
  for (const r of records) {
    if (r.model === "ttl" && r.op === "get" && r.status === "ok") byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  }
  for (const [key, rs] of byKey) {
    const firstExpired = Math.min(...rs.filter((r) => r.out === null).map((r) => r.ret!));
    const back = rs.find((r) => r.out !== null && r.call > firstExpired);
    if (back) {
      const at = `${back.call.toFixed(0)} through ${back.target}`;
      out.push(`${key}: read alive at ${at} after it was read expired at ${firstExpired.toFixed(0)}`);
    }
  }
  return out;
}

/** One line per key that failed, for an assertion message; empty when all passed. */
export function describeFailures(checks: readonly KeyCheck[]): string[] {
  return checks
    .filter((c) => !c.linearizable || c.problems.length > 0)
    .map(
      (c) =>
        `${c.key} (${c.model}, ${c.ops} ops, ${c.unknown} unknown): ${c.linearizable ? "linearizable" : c.inconclusive ? "INCONCLUSIVE" : "NOT linearizable"}${c.problems.length ? `; ${c.problems.join("; ")}` : ""}`,
    );
}
