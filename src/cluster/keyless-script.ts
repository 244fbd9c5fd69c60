// A keyless EVAL/EVAL_RO/FCALL/FCALL_RO (numkeys 0) in a cluster. Redis Cluster runs one on the node
// the client is connected to, and lets it touch that node's keys; FlyDB has no such node (every node
// answers for every key), so it runs the script in one partition's state machine instead: first a
// partition this node leads (no hop, as Redis's "this node"), and if the first key the script
// touches belongs to another partition, the script — which has then written nothing — is sent once
// more to that key's partition, with the same `now` and seed; it usually takes the same path to that
// key (a keyless read such as RANDOMKEY may send it elsewhere: then the non-local error). A script
// that touches no keys runs where it was first sent.
import { SCRIPT_MOVED } from "../commands/scripting.ts";
import type { Op } from "../commands/types.ts";
import { lower, utf8 } from "../commands/util.ts";
import { SLOT_COUNT, partitionOf } from "../keyspace/slot.ts";
import { err, type Reply } from "../resp/reply.ts";
import type { PartitionRunner } from "./fanout.ts";

const SCRIPTS = new Set(["eval", "eval_ro", "fcall", "fcall_ro"]);
const NON_LOCAL = err("ERR Script attempted to access a non local key in a cluster node");

/** The slot a keyless script's run asked to be sent to, if it did (scripting.ts's movedTo). */
function movedSlot(r: Reply): number | undefined {
  if (r.t !== "error" || !r.v.startsWith(`${SCRIPT_MOVED} `)) return undefined;
  const slot = Number(r.v.slice(SCRIPT_MOVED.length + 1));
  return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT ? slot : undefined;
}

/** Whether `argv` is EVAL, EVAL_RO, FCALL or FCALL_RO: with numkeys 0, a keyless script. */
export const isScript = (argv: readonly Uint8Array[]): boolean => SCRIPTS.has(lower(argv[0]!));

/** Where a keyless script starts: the first partition this node leads (no hop, as Redis's "this node"), else 0. */
export function homePartition(run: PartitionRunner): number {
  let home = 0;
  while (home < run.partitionCount && !run.leads?.(home)) home++;
  return home < run.partitionCount ? home : 0;
}

/** Script command `argv` wrapped (`via`: __scriptpart or __scriptpart_ro) to run in partition `p`. */
export function inPartition(p: number, count: number, argv: readonly Uint8Array[], via = "__scriptpart"): Uint8Array[] {
  return [utf8(via), utf8(String(p)), utf8(String(p * (SLOT_COUNT / count))), ...argv];
}

/**
 * A transaction's reply: a keyless script in it whose first key was another partition's gets the
 * non-local error, as one of its later keys would (a transaction is not sent on).
 */
export function transactionReply(r: Reply): Reply {
  return r.t === "array" ? { ...r, v: r.v.map((x) => (movedSlot(x) === undefined ? x : NON_LOCAL)) } : r;
}

/**
 * Runs a keyless script command (`op`: a write, proposed as `__scriptpart`; else a read, sent as
 * `__scriptpart_ro` in the client's protocol). Undefined for any other command.
 */
export function keylessScript(
  run: PartitionRunner,
  argv: readonly Uint8Array[],
  op: Op | undefined,
  resp3 = false,
): Promise<Reply> | undefined {
  if (!isScript(argv)) return undefined;
  const send = (p: number) => {
    const wrapped = inPartition(p, run.partitionCount, argv, op ? "__scriptpart" : "__scriptpart_ro");
    return op ? run.write(p, { ...op, cmds: [wrapped] }) : run.read(p, wrapped, resp3);
  };
  return (async () => {
    const first = await send(homePartition(run));
    const moved = movedSlot(first);
    if (moved === undefined) return first;
    const again = await send(partitionOf(moved, run.partitionCount));
    return movedSlot(again) === undefined ? again : NON_LOCAL;
  })();
}
