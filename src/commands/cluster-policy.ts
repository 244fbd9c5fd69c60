// How a command behaves in a cluster, declared on its table row in the vocabulary of Redis 7's
// command tips (request_policy / response_policy). Routing (src/cluster/core/route.ts), the
// fan-out of keyless commands (src/cluster/fanout.ts) and the recombination of per-partition
// replies (src/cluster/core/reply-merge.ts) are derived from these declarations.
//
// Unlike Redis, FlyDB fans out on the server: a node answers DBSIZE for the whole cluster. That
// is why COMMAND INFO does not report these as tips: a cluster client following Redis's tips
// would send DBSIZE to every node and add up answers that are each already the total.
import type { Reply } from "../resp/reply.ts";

/** Combinations of per-partition replies that need no more than the replies. */
export type PlainResponse =
  | "agg_sum" // integers added (DEL, EXISTS)
  | "all_succeeded" // the first reply when none failed (MSET, FLUSHALL: OK)
  | "one_succeeded" // the first reply that is not an error
  | "agg_logical_and" // 1 when every partition answered 1
  | "concat"; // arrays joined: by key position when split (MGET), in partition order when fanned out (KEYS)

/** Named merges of what a command's internal per-partition command answers. */
export type SpecialMerge =
  | "key_count" // DBSIZE: the sum of the key counts in [keys, expires] pairs
  | "keyspace_totals" // INFO keyspace: [keys, expires] pairs added up element-wise
  | "random_key"; // RANDOMKEY: one offered key, picked in proportion to its partition's size

export type ResponsePolicy = PlainResponse | { readonly special: SpecialMerge };

/** Commands whose request policy is "special" name the function that routes them. */
export type SpecialRequest = "scan_cursor"; // SCAN: the cursor names the partition to continue in

export type ClusterTips =
  /** Every key in one slot, else -CROSSSLOT: the default of keyed commands. */
  | { readonly request: "one_slot" }
  /** Keys split per partition, each part sent where its keys live, replies recombined. */
  | { readonly request: "multi_shard"; readonly response: PlainResponse }
  /**
   * Keyless: every partition's leader runs `via` with the partition number followed by partArgs'
   * result (default: the command's own arguments), and the replies are merged.
   */
  | {
      readonly request: "all_shards";
      readonly via: string;
      readonly response: ResponsePolicy;
      /** The arguments passed on after the partition number, or the error the command answers instead. */
      readonly partArgs?: (argv: readonly Uint8Array[]) => readonly Uint8Array[] | Reply;
    }
  /** Keyless, routed by a named function that sends `via` to the partitions it picks. */
  | { readonly request: "special"; readonly via: string; readonly handler: SpecialRequest }
  /** Runs on the node that received it: connection and server commands, internal commands a fan-out addresses. */
  | { readonly request: "local" };

export const ONE_SLOT: ClusterTips = { request: "one_slot" };
export const LOCAL: ClusterTips = { request: "local" };
