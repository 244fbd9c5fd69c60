// Recombines the replies of several partitions into one command's reply, by the response policy
// the command's table row declares (src/commands/cluster-policy.ts). Pure: randomness comes in.
import type { PlainResponse, ResponsePolicy, SpecialMerge } from "../../commands/cluster-policy.ts";
import type { CommandSpec } from "../../commands/types.ts";
import { array, err, int, NULL_BULK, OK, type Reply } from "../../resp/reply.ts";
import { splitWriteError } from "./write-outcome.ts";

/** The elements of an array reply; none for any other reply. */
export const items = (r: Reply | undefined): readonly Reply[] => (r?.t === "array" ? r.v : []);
/** The value of an integer reply; 0 for any other reply. */
export const num = (r: Reply | undefined): number => (r?.t === "int" ? Number(r.v) : 0);
const sumAt = (replies: readonly Reply[], i: number) => replies.reduce((n, r) => n + num(items(r)[i]), 0);

/** Replies of partitions, none an error (a fan-out fails first; a split returns the error), in partition order. */
export type Merge = (replies: readonly Reply[], random: () => number) => Reply;

export const PLAIN_MERGES: { readonly [P in PlainResponse]: Merge } = {
  agg_sum: (replies) => int(replies.reduce((n, r) => n + num(r), 0)),
  all_succeeded: (replies) => replies[0] ?? OK,
  one_succeeded: (replies) => replies[0] ?? OK,
  agg_logical_and: (replies) => int(replies.every((r) => num(r) !== 0) ? 1 : 0),
  // Partition order: a split concatenates by key position instead (mergeSplit).
  concat: (replies) => array(replies.flatMap(items)),
};

/** Per database, the sums of __dbsizepart ALL's [db, keys, expires] triples, in database order. */
function keyspaceTotals(replies: readonly Reply[]): Reply {
  const byDb = new Map<number, [number, number]>();
  for (const r of replies) {
    const v = items(r);
    for (let i = 0; i + 2 < v.length; i += 3) {
      const t = byDb.get(num(v[i])) ?? [0, 0];
      byDb.set(num(v[i]), [t[0] + num(v[i + 1]), t[1] + num(v[i + 2])]);
    }
  }
  const sorted = [...byDb].sort(([a], [b]) => a - b);
  return array(sorted.flatMap(([db, [keys, expires]]) => [int(db), int(keys), int(expires)]));
}

/**
 * Over the internal commands' replies: __dbsizepart [keys, expires] (ALL: [db, keys, expires]…),
 * __randomkeypart [keys, key or nil].
 */
export const SPECIAL_MERGES: { readonly [S in SpecialMerge]: Merge } = {
  key_count: (replies) => int(sumAt(replies, 0)),
  keyspace_totals: keyspaceTotals,
  random_key: (replies, random) => {
    const offers = replies.map(items).filter(([n, key]) => num(n) > 0 && key?.t === "bulk");
    let pick = random() * offers.reduce((s, [n]) => s + num(n), 0);
    for (const [n, key] of offers) {
      pick -= num(n);
      if (pick < 0) return key!;
    }
    return offers.length > 0 ? offers[offers.length - 1]![1]! : NULL_BULK;
  },
};

export function mergeFor(policy: ResponsePolicy): Merge {
  return typeof policy === "string" ? PLAIN_MERGES[policy] : SPECIAL_MERGES[policy.special];
}

/** The reply of one part of a split command, and the positions of its keys among the command's keys. */
export interface SplitReply {
  readonly positions: readonly number[];
  readonly reply: Reply;
}

/**
 * Recombines a command split per partition (a multi_shard row: MGET, DEL, MSET, …). An error of
 * any part is the reply (a write's as splitWriteError words it), except under one_succeeded,
 * which needs one part to succeed.
 */
export function mergeSplit(spec: Pick<CommandSpec, "name" | "cluster" | "flags">, parts: readonly SplitReply[]): Reply {
  const tips = spec.cluster;
  if (tips?.request !== "multi_shard") {
    return err(`ERR ${spec.name} is not split per partition: its keys must share a slot`);
  }
  const ok = parts.filter((p) => p.reply.t !== "error");
  if (tips.response === "one_succeeded") return (ok[0] ?? parts[0])?.reply ?? OK;
  const replies = parts.map((p) => p.reply);
  const failed = spec.flags.includes("write")
    ? splitWriteError(spec.name.toUpperCase(), replies)
    : replies.find((r) => r.t === "error");
  if (failed) return failed;
  if (tips.response !== "concat")
    return PLAIN_MERGES[tips.response](
      parts.map((p) => p.reply),
      () => 0,
    );
  const out: Reply[] = new Array(parts.reduce((n, p) => n + p.positions.length, 0));
  for (const p of parts) {
    const r = p.reply;
    if (r.t === "array") {
      p.positions.forEach((pos, j) => {
        out[pos] = r.v[j]!;
      });
    }
  }
  return array(out);
}
