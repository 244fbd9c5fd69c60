// Sorted set commands with Redis 7.0's replies and error texts. A sorted set is one row per
// member plus a (score, member) index, so point operations and short ranges are O(log n).
import { array, bulk, EMPTY_ARRAY, err, int, NULL_BULK, ZERO, type Reply } from "../resp/reply.ts";
import { formatDouble } from "../resp/encoder.ts";
import {
  cardinality,
  indexRange,
  intArg,
  isReply,
  noteGrowth,
  pairs,
  pickRandom,
  popCount,
  randomCount,
  scanCollection,
  score,
  sizeOf,
  notifyIfEmptied,
} from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext, LexBound, LexRange, ScoreBound, ScoreRange, ZEntry, ZRange } from "./types.ts";
import { E, lower, parseFloatArg, utf8 } from "./util.ts";

const zsetSize = (ctx: CommandContext, key: Uint8Array) => sizeOf(ctx, key, "zset");
const NOT_FLOAT_RANGE = err("ERR min or max is not a float");
const NOT_LEX_RANGE = err("ERR min or max not valid string range item");
const NAN_SCORE = err("ERR resulting score is not a number (NaN)");

function parseScoreBound(b: Uint8Array): ScoreBound | undefined {
  const exclusive = b[0] === 0x28; // "("
  const v = parseFloatArg(exclusive ? b.subarray(1) : b);
  return v === undefined ? undefined : { value: v, exclusive };
}

function parseLexBound(b: Uint8Array): LexBound | undefined {
  if (b.length === 1 && b[0] === 0x2d) return { inf: -1 };
  if (b.length === 1 && b[0] === 0x2b) return { inf: 1 };
  if (b[0] === 0x28 || b[0] === 0x5b) return { value: b.subarray(1), exclusive: b[0] === 0x28 };
  return undefined;
}

function scoreRange(min: Uint8Array, max: Uint8Array): ScoreRange | Reply {
  const lo = parseScoreBound(min);
  const hi = parseScoreBound(max);
  return lo && hi ? { by: "score", min: lo, max: hi } : NOT_FLOAT_RANGE;
}

function lexRange(min: Uint8Array, max: Uint8Array): LexRange | Reply {
  const lo = parseLexBound(min);
  const hi = parseLexBound(max);
  return lo && hi ? { by: "lex", min: lo, max: hi } : NOT_LEX_RANGE;
}

export function entries(ctx: CommandContext, list: readonly ZEntry[], withScores: boolean): Reply {
  if (!withScores) return array(list.map((e) => bulk(e.member)));
  return pairs(
    ctx,
    list.map((e) => [bulk(e.member), score(e.score)] as const),
  );
}

export function zadd(ctx: CommandContext, argv: readonly Uint8Array[], incrOnly: boolean): Reply {
  let nx = false,
    xx = false,
    gt = false,
    lt = false,
    ch = false,
    incr = incrOnly;
  let i = 2;
  if (!incrOnly) {
    for (; i < argv.length; i++) {
      const opt = lower(argv[i]!);
      if (opt === "nx") nx = true;
      else if (opt === "xx") xx = true;
      else if (opt === "gt") gt = true;
      else if (opt === "lt") lt = true;
      else if (opt === "ch") ch = true;
      else if (opt === "incr") incr = true;
      else break;
    }
  }
  const rest = argv.length - i;
  if (rest === 0 || rest % 2 !== 0) return E.syntax;
  if (nx && xx) return err("ERR XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt))
    return err("ERR GT, LT, and/or NX options at the same time are not compatible");
  if (incr && rest > 2) return err("ERR INCR option supports a single increment-element pair");
  const items: { score: number; member: Uint8Array }[] = [];
  for (; i < argv.length; i += 2) {
    const s = parseFloatArg(argv[i]!);
    if (s === undefined) return E.notFloat;
    items.push({ score: s, member: argv[i + 1]! });
  }
  const key = argv[1]!;
  const size = zsetSize(ctx, key);
  if (isReply(size)) return size;
  let added = 0,
    updated = 0;
  let result: number | undefined;
  if (!(xx && size === 0)) {
    for (const { score: s, member } of items) {
      const cur = ctx.db.zsetScore(key, member);
      if (cur !== undefined) {
        if (nx) continue;
        let next = s;
        if (incr) {
          next = cur + s;
          if (Number.isNaN(next)) return NAN_SCORE;
        }
        if ((lt && next >= cur) || (gt && next <= cur)) continue;
        if (next !== cur) {
          ctx.db.zsetAdd(key, member, next);
          updated++;
        }
        result = next;
      } else if (!xx) {
        ctx.db.zsetAdd(key, member, s);
        added++;
        result = s;
      }
    }
    noteGrowth(
      ctx,
      key,
      "zset",
      items.map((x) => x.member),
    );
    if (added + updated > 0) ctx.notify?.("z", incr ? "zincr" : "zadd", key);
  }
  if (incr) return result === undefined ? NULL_BULK : score(result);
  return int(ch ? added + updated : added);
}

interface RangeSpec {
  range: ZRange;
  rev: boolean;
  offset: number;
  limit: number;
  withScores: boolean;
}

/**
 * Parses the ZRANGE family's arguments after the key. `style` is ZRANGE's (BYSCORE/BYLEX/REV
 * keywords, REV swaps min and max) or one of the older commands with a fixed kind.
 */
function parseRange(
  ctx: CommandContext,
  key: Uint8Array,
  argv: readonly Uint8Array[],
  from: number,
  fixed: { by: "rank" | "score" | "lex"; rev: boolean } | undefined,
  allowWithScores: boolean,
): RangeSpec | Reply {
  let by = fixed?.by ?? "rank";
  let rev = fixed?.rev ?? false;
  let withScores = false;
  let limit: { offset: number; count: number } | undefined;
  for (let i = from + 2; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "withscores" && allowWithScores) withScores = true;
    else if (opt === "limit" && i + 2 < argv.length) {
      const o = intArg(argv[i + 1]!);
      const c = intArg(argv[i + 2]!);
      if (isReply(o)) return o;
      if (isReply(c)) return c;
      limit = { offset: o, count: c };
      i += 2;
    } else if (!fixed && opt === "byscore") by = "score";
    else if (!fixed && opt === "bylex") by = "lex";
    else if (!fixed && opt === "rev") rev = true;
    else return E.syntax;
  }
  if (limit && by === "rank")
    return err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  if (withScores && by === "lex") return err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  // Reversed score and lex ranges are given max first.
  const [a, b] = rev && by !== "rank" ? [argv[from + 1]!, argv[from]!] : [argv[from]!, argv[from + 1]!];
  let range: ZRange;
  if (by === "rank") {
    const w = indexRange(a, b, () => zsetSize(ctx, key));
    if (isReply(w)) return w;
    const r = w.range;
    range = r ? { by: "rank", start: r.start, stop: r.stop } : { by: "rank", start: 1, stop: 0 };
  } else {
    const r = by === "score" ? scoreRange(a, b) : lexRange(a, b);
    if (isReply(r)) return r;
    range = r;
  }
  const offset = limit?.offset ?? 0;
  return { range, rev, offset, limit: limit && limit.count >= 0 ? limit.count : -1, withScores };
}

function selectRange(ctx: CommandContext, key: Uint8Array, spec: RangeSpec): ZEntry[] | Reply {
  const size = zsetSize(ctx, key);
  if (isReply(size)) return size;
  const r = spec.range;
  if (size === 0 || spec.offset < 0 || (r.by === "rank" && r.start > r.stop)) return [];
  return ctx.db.zsetRange(key, r, spec.rev, spec.offset, spec.limit);
}

function zrangeCommand(fixed: { by: "rank" | "score" | "lex"; rev: boolean } | undefined, allowWithScores = true) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const spec = parseRange(ctx, argv[1]!, argv, 2, fixed, allowWithScores);
    if (isReply(spec)) return spec;
    const list = selectRange(ctx, argv[1]!, spec);
    return isReply(list) ? list : entries(ctx, list, spec.withScores);
  };
}

function zrangestore(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, dst, src] = argv as [Uint8Array, Uint8Array, Uint8Array];
  const spec = parseRange(ctx, src, argv, 3, undefined, false);
  if (isReply(spec)) return spec;
  const list = selectRange(ctx, src, spec);
  if (isReply(list)) return list;
  storeZset(ctx, dst, list, "zrangestore");
  return int(list.length);
}

/** Replaces dst with the given members (deleting it when there are none); `event` names the write. */
export function storeZset(ctx: CommandContext, dst: Uint8Array, list: readonly ZEntry[], event: string): void {
  const deleted = ctx.db.delete(dst, ctx.now);
  ctx.db.zsetInsertNew(dst, list);
  if (list.length > 0) {
    noteGrowth(
      ctx,
      dst,
      "zset",
      list.map((e) => e.member),
    );
    ctx.notify?.("z", event, dst);
  } else notifyIfEmptied(ctx, dst, deleted);
}

function zpop(max: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const parsed = popCount(argv);
    if (isReply(parsed)) return parsed;
    const { count } = parsed;
    const key = argv[1]!;
    const size = zsetSize(ctx, key);
    if (isReply(size)) return size;
    if (size === 0 || count === 0) return EMPTY_ARRAY;
    const list = popEntries(ctx, key, size, count ?? 1, max);
    ctx.notify?.("z", max ? "zpopmax" : "zpopmin", key);
    notifyIfEmptied(ctx, key, list.length === size);
    if (count === undefined) return array([bulk(list[0]!.member), score(list[0]!.score)]);
    return entries(ctx, list, true);
  };
}

export function popEntries(ctx: CommandContext, key: Uint8Array, size: number, count: number, max: boolean): ZEntry[] {
  const n = Math.min(count, size);
  const list = ctx.db.zsetRange(key, { by: "rank", start: 0, stop: n - 1 }, max, 0, -1);
  if (n === size) ctx.db.delete(key, ctx.now);
  else for (const e of list) ctx.db.zsetRemove(key, e.member);
  return list;
}

function zrandmember(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const parsed = randomCount(argv, "withscores");
  if (isReply(parsed)) return parsed;
  const { count, withPairs: withScores } = parsed;
  const key = argv[1]!;
  const size = zsetSize(ctx, key);
  if (isReply(size)) return size;
  if (count === undefined) {
    if (size === 0) return NULL_BULK;
    const r = Math.floor(ctx.random() * size);
    return bulk(ctx.db.zsetRange(key, { by: "rank", start: r, stop: r }, false, 0, -1)[0]!.member);
  }
  if (size === 0 || count === 0) return EMPTY_ARRAY;
  const all = ctx.db.zsetRange(key, { by: "rank", start: 0, stop: size - 1 }, false, 0, -1);
  return entries(ctx, pickRandom(all, count, ctx.random), withScores);
}

function zremrange(by: "rank" | "score" | "lex") {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const [, key, a, b] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    let range: ZRange;
    if (by === "rank") {
      const r = indexRange(a, b, () => zsetSize(ctx, key));
      if (isReply(r)) return r;
      if (!r.range) return ZERO;
      range = { by: "rank", ...r.range };
    } else {
      const r = by === "score" ? scoreRange(a, b) : lexRange(a, b);
      if (isReply(r)) return r;
      range = r;
    }
    const size = zsetSize(ctx, key);
    if (isReply(size)) return size;
    if (size === 0) return ZERO;
    const doomed = ctx.db.zsetRange(key, range, false, 0, -1);
    if (doomed.length === size) ctx.db.delete(key, ctx.now);
    else for (const e of doomed) ctx.db.zsetRemove(key, e.member);
    if (doomed.length > 0) ctx.notify?.("z", `zremrangeby${by}`, key);
    notifyIfEmptied(ctx, key, doomed.length === size);
    return int(doomed.length);
  };
}

function zcount(by: "score" | "lex") {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const r = by === "score" ? scoreRange(argv[2]!, argv[3]!) : lexRange(argv[2]!, argv[3]!);
    if (isReply(r)) return r;
    const size = zsetSize(ctx, argv[1]!);
    if (isReply(size)) return size;
    return int(size === 0 ? 0 : ctx.db.zsetCount(argv[1]!, r));
  };
}

function zrank(rev: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const size = zsetSize(ctx, argv[1]!);
    if (isReply(size)) return size;
    const rank = size === 0 ? undefined : ctx.db.zsetRank(argv[1]!, argv[2]!, rev);
    return rank === undefined ? NULL_BULK : int(rank);
  };
}

export const ZSET_COMMANDS = define("sortedset", [
  {
    name: "zadd",
    arity: -4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
    run: (ctx, argv) => zadd(ctx, argv, false),
  },
  {
    name: "zincrby",
    arity: 4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    keyFlags: "RW access update",
    summary: "Increments the score of a member in a sorted set.",
    run: (ctx, argv) => zadd(ctx, argv, true),
  },
  {
    name: "zrem",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    keyFlags: "RW delete",
    summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
    run: (ctx, argv) => {
      const size = zsetSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      let n = 0;
      if (size > 0) for (const m of argv.slice(2)) if (ctx.db.zsetRemove(argv[1]!, m)) n++;
      if (n > 0) ctx.notify?.("z", "zrem", argv[1]!);
      notifyIfEmptied(ctx, argv[1]!, n > 0 && n === size);
      return int(n);
    },
  },
  {
    name: "zscore",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    summary: "Returns the score of a member in a sorted set.",
    run: (ctx, argv) => {
      const size = zsetSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      const s = size === 0 ? undefined : ctx.db.zsetScore(argv[1]!, argv[2]!);
      return s === undefined ? NULL_BULK : score(s);
    },
  },
  {
    name: "zmscore",
    arity: -3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    summary: "Returns the score of one or more members in a sorted set.",
    run: (ctx, argv) => {
      const size = zsetSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return array(
        argv.slice(2).map((m) => {
          const s = size === 0 ? undefined : ctx.db.zsetScore(argv[1]!, m);
          return s === undefined ? NULL_BULK : score(s);
        }),
      );
    },
  },
  {
    name: "zcard",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    keyFlags: "RO",
    summary: "Returns the number of members in a sorted set.",
    run: cardinality("zset"),
  },
  {
    name: "zcount",
    arity: 4,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns the count of members in a sorted set that have scores within a range.",
    run: zcount("score"),
  },
  {
    name: "zlexcount",
    arity: 4,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.9",
    summary: "Returns the number of members in a sorted set within a lexicographical range.",
    run: zcount("lex"),
  },
  {
    name: "zrange",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    summary: "Returns members in a sorted set within a range of indexes.",
    run: zrangeCommand(undefined),
  },
  {
    name: "zrangebyscore",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.5",
    summary: "Returns members in a sorted set within a range of scores.",
    run: zrangeCommand({ by: "score", rev: false }),
  },
  {
    name: "zrevrangebyscore",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    summary: "Returns members in a sorted set within a range of scores in reverse order.",
    run: zrangeCommand({ by: "score", rev: true }),
  },
  {
    name: "zrangebylex",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.9",
    summary: "Returns members in a sorted set within a lexicographical range.",
    run: zrangeCommand({ by: "lex", rev: false }, false),
  },
  {
    name: "zrevrangebylex",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.9",
    summary: "Returns members in a sorted set within a lexicographical range in reverse order.",
    run: zrangeCommand({ by: "lex", rev: true }, false),
  },
  {
    name: "zrevrange",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    summary: "Returns members in a sorted set within a range of indexes in reverse order.",
    run: zrangeCommand({ by: "rank", rev: true }),
  },
  {
    name: "zrank",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
    run: zrank(false),
  },
  {
    name: "zrevrank",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns the index of a member in a sorted set ordered by descending scores.",
    run: zrank(true),
  },
  {
    name: "zpopmin",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    keyFlags: "RW access delete",
    summary:
      "Returns the lowest-scoring members from a sorted set after removing them." +
      " Deletes the sorted set if the last member was popped.",
    run: zpop(false),
  },
  {
    name: "zpopmax",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    keyFlags: "RW access delete",
    summary:
      "Returns the highest-scoring members from a sorted set after removing them." +
      " Deletes the sorted set if the last member was popped.",
    run: zpop(true),
  },
  {
    name: "zrandmember",
    arity: -2,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    summary: "Returns one or more random members from a sorted set.",
    run: zrandmember,
  },
  {
    name: "zrangestore",
    arity: -5,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "6.2.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores a range of members from sorted set in a key.",
    run: zrangestore,
    cluster: ONE_SLOT,
  },
  {
    name: "zremrangebyscore",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    keyFlags: "RW delete",
    summary:
      "Removes members in a sorted set within a range of scores." +
      " Deletes the sorted set if all members were removed.",
    run: zremrange("score"),
  },
  {
    name: "zremrangebyrank",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RW delete",
    summary:
      "Removes members in a sorted set within a range of indexes." +
      " Deletes the sorted set if all members were removed.",
    run: zremrange("rank"),
  },
  {
    name: "zremrangebylex",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.9",
    keyFlags: "RW delete",
    summary:
      "Removes members in a sorted set within a lexicographical range." +
      " Deletes the sorted set if all members were removed.",
    run: zremrange("lex"),
  },
  {
    name: "zscan",
    arity: -3,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.0",
    summary: "Iterates over members and scores of a sorted set.",
    run: (ctx, argv) => {
      const key = argv[1]!;
      const byScore = () => {
        const stop = (ctx.db.collection(key, ctx.now)?.size ?? 0) - 1;
        return ctx.db.zsetRange(key, { by: "rank", start: 0, stop }, false, 0, -1);
      };
      const render = (e: ZEntry) => [bulk(e.member), bulk(utf8(formatDouble(e.score)))];
      const page = (from: Uint8Array, l: number) => ctx.db.zsetMembersFrom(key, from, l);
      return scanCollection(ctx, argv, "zset", page, (e) => e.member, render, byScore);
    },
  },
]);
