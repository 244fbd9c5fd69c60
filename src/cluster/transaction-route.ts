// Where a transaction goes in a cluster (an op of several commands, or a MULTI/EXEC): one op on one
// partition, never split, even with a single command. Its keyed commands and WATCHed keys must all be
// in that partition: each replica checks the watched versions in its own copy of their partition,
// which another partition's log does not keep in step. A SELECT in it (applied inside the op,
// src/commands/databases.ts) goes wherever the keys go, and so does a keyless script (numkeys 0):
// it runs in the transaction's partition, as Redis Cluster runs one on the node that received the
// MULTI, with that partition's keys only (src/cluster/keyless-script.ts). A transaction of keyless
// scripts alone starts where a lone one would.
import type { Op } from "../commands/types.ts";
import { lower } from "../commands/util.ts";
import { keySlot, partitionOf } from "../keyspace/slot.ts";
import type { Reply } from "../resp/reply.ts";
import { CROSSSLOT, type Route } from "./core/route.ts";
import type { PartitionRunner } from "./fanout.ts";
import { homePartition, inPartition, isScript, transactionReply } from "./keyless-script.ts";

/** Proposes transaction `op`, whose commands route as `routes`, to its one partition; CROSSSLOT when it has none. */
export function proposeTransaction(run: PartitionRunner, op: Op, routes: readonly Route[]): Promise<Reply> {
  const keyless = (i: number) => routes[i]!.kind === "keyless" && isScript(op.cmds[i]!);
  const parts = new Set<number>();
  for (const [i, r] of routes.entries()) {
    if (lower(op.cmds[i]![0]!) === "select" || keyless(i)) continue;
    parts.add(r.kind === "partition" ? r.partition : -1);
  }
  for (const w of op.watch ?? []) parts.add(partitionOf(keySlot(w.key), run.partitionCount));
  if (parts.size > 1 || parts.has(-1)) return Promise.resolve(CROSSSLOT);
  const p = parts.size === 1 ? [...parts][0]! : homePartition(run);
  if (!op.cmds.some((_, i) => keyless(i))) return run.write(p, op);
  const cmds = op.cmds.map((c, i) => (keyless(i) ? inPartition(p, run.partitionCount, c) : c));
  return run.write(p, { ...op, cmds }).then(transactionReply);
}
