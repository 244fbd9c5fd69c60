// Sorted-set commands over several keys: ZUNION, ZINTER, ZDIFF (and their STORE forms),
// ZINTERCARD and ZMPOP, with Redis 7.0's replies and error texts. Plain sets are accepted as
// inputs with every score 1, as Redis does.
import { array, bulk, err, int, NULL_ARRAY, type Reply } from "../resp/reply.ts";
import { countedKeys, isReply, notifyIfEmptied, score, sizeOf } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext, ZEntry } from "./types.ts";
import { entries, popEntries, storeZset } from "./zset.ts";
import { byteKey, compareBytes, E, lower, parseFloatArg, parseInt64 } from "./util.ts";

type Aggregate = "sum" | "min" | "max";
type SetOp = "union" | "inter" | "diff";

/** Where a call of the family takes its input and what it answers. */
type Output =
  | { readonly to: "key"; readonly name: string } // ZUNIONSTORE …: numkeys at argv[2], stores into argv[1]
  | { readonly to: "reply"; readonly name: string } // ZUNION …: numkeys at argv[1], WITHSCORES allowed
  | { readonly to: "card" }; // ZINTERCARD: numkeys at argv[1], LIMIT allowed

interface Source {
  readonly key: Uint8Array;
  readonly entries: readonly ZEntry[];
  weight: number;
}

/** A source as a member → score map, built once for the lookups of ZINTER and ZDIFF. */
function byMember(src: Source): Map<string, number> {
  return new Map(src.entries.map((e) => [byteKey(e.member), e.score]));
}

/**
 * The sorted sets (or plain sets, score 1) named by keys, each type-checked before any option
 * is parsed, as Redis does; a missing key is empty.
 */
function loadSources(ctx: CommandContext, keys: readonly Uint8Array[]): Source[] | Reply {
  const out: Source[] = [];
  for (const key of keys) {
    const meta = ctx.db.meta(key, ctx.now);
    let list: ZEntry[] = [];
    if (meta?.type === "zset") {
      const size = ctx.db.collection(key, ctx.now)?.size ?? 0;
      list = ctx.db.zsetRange(key, { by: "rank", start: 0, stop: size - 1 }, false, 0, -1);
    } else if (meta?.type === "set") list = ctx.db.setMembers(key).map((member) => ({ member, score: 1 }));
    else if (meta) return E.wrongType;
    out.push({ key, entries: list, weight: 1 });
  }
  return out;
}

/** Redis's zunionInterAggregate: a SUM that is NaN (inf + -inf) counts as 0; MIN/MAX keep the target on NaN. */
function aggregate(how: Aggregate, target: number, value: number): number {
  if (how === "sum") {
    const v = target + value;
    return Number.isNaN(v) ? 0 : v;
  }
  // Comparisons, not Math.min/max: those return NaN when either side is NaN, Redis keeps the other.
  // biome-ignore lint/complexity/useMathMinMax: NaN handling (see above)
  if (how === "min") return value < target ? value : target;
  // biome-ignore lint/complexity/useMathMinMax: NaN handling (see above)
  return value > target ? value : target;
}

/** A weighted score; inf * 0 is NaN, which Redis counts as 0. */
function weighted(s: number, w: number): number {
  const v = s * w;
  return Number.isNaN(v) ? 0 : v;
}

/** Skiplist order: by score, then by member bytes. */
const bySkiplistOrder = (a: ZEntry, b: ZEntry): number =>
  a.score < b.score ? -1 : a.score > b.score ? 1 : compareBytes(a.member, b.member);

function union(sources: readonly Source[], how: Aggregate): ZEntry[] {
  const acc = new Map<string, { member: Uint8Array; score: number }>();
  for (const src of sources) {
    for (const e of src.entries) {
      const k = byteKey(e.member);
      const s = weighted(e.score, src.weight);
      const cur = acc.get(k);
      if (cur) cur.score = aggregate(how, cur.score, s);
      else acc.set(k, { member: e.member, score: s });
    }
  }
  return [...acc.values()];
}

/**
 * Walks the smallest source and looks each member up in the others, as Redis does: only the
 * first score is NaN-checked on its own, later ones go through aggregate(). `limit` (ZINTERCARD)
 * stops the walk once that many members are found; 0 means no limit.
 */
function inter(sources: readonly Source[], how: Aggregate, limit = 0): ZEntry[] {
  const [first, ...rest] = sources;
  const maps = rest.map(byMember);
  const out: ZEntry[] = [];
  for (const e of first!.entries) {
    let s = weighted(e.score, first!.weight);
    const k = byteKey(e.member);
    let everywhere = true;
    for (let j = 0; j < maps.length; j++) {
      const v = maps[j]!.get(k);
      if (v === undefined) {
        everywhere = false;
        break;
      }
      s = aggregate(how, s, v * rest[j]!.weight);
    }
    if (!everywhere) continue;
    out.push({ member: e.member, score: s });
    if (limit > 0 && out.length >= limit) break;
  }
  return out;
}

function diff(sources: readonly Source[]): ZEntry[] {
  const [first, ...rest] = sources;
  const maps = rest.map(byMember);
  return first!.entries.filter((e) => !maps.some((m) => m.has(byteKey(e.member))));
}

/** ZUNION/ZINTER/ZDIFF/ZINTERCARD and the STORE forms: Redis's zunionInterDiffGenericCommand. */
function setOperation(op: SetOp, out: Output) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const at = out.to === "key" ? 2 : 1;
    const numkeys = parseInt64(argv[at]!);
    if (numkeys === undefined) return E.notInt;
    const name = out.to === "card" ? "zintercard" : out.name;
    if (numkeys < 1n) return err(`ERR at least 1 input key is needed for '${name}' command`);
    if (numkeys > BigInt(argv.length - at - 1)) return E.syntax;
    const n = Number(numkeys);
    const sources = loadSources(ctx, argv.slice(at + 1, at + 1 + n));
    if (isReply(sources)) return sources;
    let how: Aggregate = "sum";
    let withScores = false;
    let limit = 0;
    const weighs = op !== "diff" && out.to !== "card";
    for (let i = at + 1 + n; i < argv.length; i++) {
      const opt = lower(argv[i]!);
      const remaining = argv.length - i;
      if (weighs && opt === "weights" && remaining >= n + 1) {
        for (let j = 0; j < n; j++) {
          const w = parseFloatArg(argv[i + 1 + j]!);
          if (w === undefined) return err("ERR weight value is not a float");
          sources[j]!.weight = w;
        }
        i += n;
      } else if (weighs && opt === "aggregate" && remaining >= 2) {
        const a = lower(argv[++i]!);
        if (a !== "sum" && a !== "min" && a !== "max") return E.syntax;
        how = a;
      } else if (out.to === "reply" && opt === "withscores") withScores = true;
      else if (out.to === "card" && opt === "limit" && remaining >= 2) {
        const l = parseInt64(argv[++i]!);
        if (l === undefined || l < 0n) return err("ERR LIMIT can't be negative");
        limit = Number(l);
      } else return E.syntax;
    }
    // Smallest first, as Redis orders the inputs of ZINTER and ZUNION: it decides which
    // source the walk starts from and the order in which floating-point sums are added.
    if (op !== "diff") sources.sort((a, b) => a.entries.length - b.entries.length);
    const result = op === "union" ? union(sources, how) : op === "inter" ? inter(sources, how, limit) : diff(sources);
    if (out.to === "card") return int(result.length);
    result.sort(bySkiplistOrder);
    if (out.to === "reply") return entries(ctx, result, withScores);
    storeZset(ctx, argv[1]!, result, `z${op}store`);
    return int(result.length);
  };
}

/** ZMPOP numkeys key [key …] MIN|MAX [COUNT count]: pops from the first key that exists. */
function zmpop(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const numkeys = parseInt64(argv[1]!);
  if (numkeys === undefined || numkeys < 1n) return err("ERR numkeys should be greater than 0");
  if (numkeys > BigInt(argv.length - 3)) return E.syntax;
  const n = Number(numkeys);
  const where = lower(argv[2 + n]!);
  if (where !== "min" && where !== "max") return E.syntax;
  let count: number | undefined;
  for (let i = 3 + n; i < argv.length; i++) {
    if (count === undefined && lower(argv[i]!) === "count" && i + 1 < argv.length) {
      const c = parseInt64(argv[++i]!);
      if (c === undefined || c < 1n) return err("ERR count should be greater than 0");
      count = Number(c);
    } else return E.syntax;
  }
  for (const key of argv.slice(2, 2 + n)) {
    const size = sizeOf(ctx, key, "zset");
    if (isReply(size)) return size;
    if (size === 0) continue;
    const popped = popEntries(ctx, key, size, count ?? 1, where === "max");
    ctx.notify?.("z", where === "max" ? "zpopmax" : "zpopmin", key);
    notifyIfEmptied(ctx, key, popped.length === size);
    return array([bulk(key), array(popped.map((e) => array([bulk(e.member), score(e.score)])))]);
  }
  return NULL_ARRAY;
}

const READ_KEYS = { first: 2, last: 2, step: 1, find: countedKeys(1) };
const STORE_KEYS = { first: 1, last: 1, step: 1, find: countedKeys(2, [1]) };

export const ZSET_ALGEBRA_COMMANDS = define("sortedset", [
  {
    name: "zunion",
    arity: -3,
    flags: ["readonly"],
    keys: READ_KEYS,
    since: "6.2.0",
    summary: "Returns the union of multiple sorted sets.",
    run: setOperation("union", { to: "reply", name: "zunion" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zinter",
    arity: -3,
    flags: ["readonly"],
    keys: READ_KEYS,
    since: "6.2.0",
    summary: "Returns the intersect of multiple sorted sets.",
    run: setOperation("inter", { to: "reply", name: "zinter" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zdiff",
    arity: -3,
    flags: ["readonly"],
    keys: READ_KEYS,
    since: "6.2.0",
    summary: "Returns the difference between multiple sorted sets.",
    run: setOperation("diff", { to: "reply", name: "zdiff" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zintercard",
    arity: -3,
    flags: ["readonly"],
    keys: READ_KEYS,
    since: "7.0.0",
    summary: "Returns the number of members of the intersect of multiple sorted sets.",
    run: setOperation("inter", { to: "card" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zunionstore",
    arity: -4,
    flags: ["write"],
    keys: STORE_KEYS,
    since: "2.0.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores the union of multiple sorted sets in a key.",
    run: setOperation("union", { to: "key", name: "zunionstore" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zinterstore",
    arity: -4,
    flags: ["write"],
    keys: STORE_KEYS,
    since: "2.0.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores the intersect of multiple sorted sets in a key.",
    run: setOperation("inter", { to: "key", name: "zinterstore" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zdiffstore",
    arity: -4,
    flags: ["write"],
    keys: STORE_KEYS,
    since: "6.2.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores the difference of multiple sorted sets in a key.",
    run: setOperation("diff", { to: "key", name: "zdiffstore" }),
    cluster: ONE_SLOT,
  },
  {
    name: "zmpop",
    arity: -4,
    flags: ["write"],
    keys: READ_KEYS,
    since: "7.0.0",
    keyFlags: "RW access delete",
    summary:
      "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them." +
      " Deletes the sorted set if the last member was popped.",
    run: zmpop,
    cluster: ONE_SLOT,
  },
]);
