// Where a command goes in a cluster (docs/design/cluster.md): the partition of its keys. Pure.
import { commandKeys } from "../../commands/connection.ts";
import type { CommandSpec } from "../../commands/types.ts";
import { keySlot, partitionOf } from "../../keyspace/slot.ts";
import { err } from "../../resp/reply.ts";

export type Route =
  | { readonly kind: "keyless" }
  | { readonly kind: "partition"; readonly partition: number; readonly slot: number }
  | {
      readonly kind: "split";
      readonly parts: readonly {
        readonly partition: number;
        readonly argv: readonly Uint8Array[];
        readonly positions: readonly number[];
      }[];
    }
  | { readonly kind: "crossslot" };

/** The refusal of a "crossslot" route, and of a transaction whose keys are in two partitions. */
export const CROSSSLOT = err("CROSSSLOT Keys in request don't hash to the same slot");

export function route(spec: CommandSpec, argv: readonly Uint8Array[], partitionCount: number): Route {
  const keys = commandKeys(spec, argv);
  if (keys.length === 0) return { kind: "keyless" };
  const slot = keySlot(keys[0]!);
  const partition = partitionOf(slot, partitionCount);
  const partitions = keys.map((k) => partitionOf(keySlot(k), partitionCount));
  if (partitions.every((p) => p === partition)) return { kind: "partition", partition, slot };
  // Only a multi_shard row (src/commands/cluster-policy.ts) may be split; its replies recombine in reply-merge.ts.
  if (spec.cluster?.request !== "multi_shard") return { kind: "crossslot" };
  // Split keeping each key's arguments (MSET: key and value) and its position in the reply.
  const step = spec.step;
  const byPart = new Map<number, { argv: Uint8Array[]; positions: number[] }>();
  let i = 0;
  for (let a = spec.firstKey; a < argv.length; a += step, i++) {
    const p = partitions[i]!;
    let part = byPart.get(p);
    if (!part) byPart.set(p, (part = { argv: [argv[0]!], positions: [] }));
    part.argv.push(...argv.slice(a, a + step));
    part.positions.push(i);
  }
  return { kind: "split", parts: [...byPart].map(([partition, v]) => ({ partition, ...v })) };
}
