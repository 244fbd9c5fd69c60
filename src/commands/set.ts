// Set commands with Redis 7.0's replies and error texts. A set is one row per member.
import { array, bulk, EMPTY_ARRAY, err, int, NULL_BULK, ONE, set, ZERO, type Reply } from "../resp/reply.ts";
import {
  bulks,
  cardinality,
  countedKeys,
  isReply,
  noteGrowth,
  pickRandom,
  popCount,
  randomCount,
  scanCollection,
  sizeOf,
  notifyIfEmptied,
} from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext } from "./types.ts";
import { byteKey, bytesEqual, E, lower, parseInt64 } from "./util.ts";

const setSize = (ctx: CommandContext, key: Uint8Array) => sizeOf(ctx, key, "set");
const members = (ctx: CommandContext, key: Uint8Array) => ctx.db.setMembers(key);
const keyOf = byteKey;

function sadd(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const size = setSize(ctx, argv[1]!);
  if (isReply(size)) return size;
  const added = ctx.db.setAdd(argv[1]!, argv.slice(2));
  noteGrowth(ctx, argv[1]!, "set", argv.slice(2));
  if (added > 0) ctx.notify?.("s", "sadd", argv[1]!);
  return int(added);
}

function spop(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const parsed = popCount(argv);
  if (isReply(parsed)) return parsed;
  const { count } = parsed;
  const key = argv[1]!;
  const size = setSize(ctx, key);
  if (isReply(size)) return size;
  if (count === undefined) {
    if (size === 0) return NULL_BULK;
    const [m] = ctx.db.setMembers(key, Math.floor(ctx.random() * size), 1);
    ctx.db.setRemove(key, [m!]);
    ctx.notify?.("s", "spop", key);
    notifyIfEmptied(ctx, key, size === 1);
    return bulk(m!);
  }
  if (size === 0 || count === 0) return set([]);
  const picked = count >= size ? members(ctx, key) : pickRandom(members(ctx, key), count, ctx.random);
  if (count >= size) ctx.db.delete(key, ctx.now);
  else ctx.db.setRemove(key, picked);
  ctx.notify?.("s", "spop", key);
  notifyIfEmptied(ctx, key, count >= size);
  return set(bulks(picked));
}

function srandmember(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const parsed = randomCount(argv, undefined);
  if (isReply(parsed)) return parsed;
  const { count } = parsed;
  const key = argv[1]!;
  const size = setSize(ctx, key);
  if (isReply(size)) return size;
  if (count === undefined) {
    if (size === 0) return NULL_BULK;
    return bulk(ctx.db.setMembers(key, Math.floor(ctx.random() * size), 1)[0]!);
  }
  if (size === 0 || count === 0) return EMPTY_ARRAY;
  return array(bulks(pickRandom(members(ctx, key), count, ctx.random)));
}

/**
 * The sets named by keys, every key type-checked first as Redis does (a missing key is an empty
 * set); WRONGTYPE when any is not a set.
 */
function loadSets(ctx: CommandContext, keys: readonly Uint8Array[]): Uint8Array[][] | Reply {
  const out: Uint8Array[][] = [];
  for (const key of keys) {
    const size = setSize(ctx, key);
    if (isReply(size)) return size;
    out.push(size === 0 ? [] : members(ctx, key));
  }
  return out;
}

type SetOp = "inter" | "union" | "diff";

function combine(sets: readonly Uint8Array[][], op: SetOp, limit = 0): Uint8Array[] {
  if (op === "union") {
    const all = new Map<string, Uint8Array>();
    for (const s of sets) for (const m of s) all.set(keyOf(m), m);
    return [...all.values()];
  }
  if (op === "diff") {
    const drop = new Set(sets.slice(1).flatMap((s) => s.map(keyOf)));
    return sets[0]!.filter((m) => !drop.has(keyOf(m)));
  }
  if (sets.some((s) => s.length === 0)) return [];
  const [smallest, ...others] = [...sets].sort((a, b) => a.length - b.length);
  const lookups = others.map((s) => new Set(s.map(keyOf)));
  const out: Uint8Array[] = [];
  for (const m of smallest!) {
    if (lookups.every((l) => l.has(keyOf(m)))) {
      out.push(m);
      if (limit > 0 && out.length >= limit) break;
    }
  }
  return out;
}

function setOp(op: SetOp) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const sets = loadSets(ctx, argv.slice(1));
    if (isReply(sets)) return sets;
    return set(bulks(combine(sets, op)));
  };
}

function setOpStore(op: SetOp) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const sets = loadSets(ctx, argv.slice(2));
    if (isReply(sets)) return sets;
    const result = combine(sets, op);
    const dst = argv[1]!;
    const deleted = ctx.db.delete(dst, ctx.now);
    if (result.length > 0) {
      ctx.db.setAdd(dst, result);
      noteGrowth(ctx, dst, "set", result);
      ctx.notify?.("s", `s${op}store`, dst);
    } else notifyIfEmptied(ctx, dst, deleted);
    return int(result.length);
  };
}

function sintercard(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const numkeys = parseInt64(argv[1]!);
  if (numkeys === undefined || numkeys <= 0n) return err("ERR numkeys should be greater than 0");
  if (numkeys > BigInt(argv.length - 2)) return err("ERR Number of keys can't be greater than number of args");
  const n = Number(numkeys);
  let limit = 0;
  for (let i = 2 + n; i < argv.length; i++) {
    if (lower(argv[i]!) !== "limit" || i + 1 >= argv.length) return E.syntax;
    const l = parseInt64(argv[++i]!);
    if (l === undefined || l < 0n) return err("ERR LIMIT can't be negative");
    limit = Number(l);
  }
  const sets = loadSets(ctx, argv.slice(2, 2 + n));
  if (isReply(sets)) return sets;
  return int(combine(sets, "inter", limit).length);
}

function smove(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, src, dst, member] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const srcMeta = ctx.db.meta(src, ctx.now);
  if (!srcMeta) return ZERO;
  const dstMeta = ctx.db.meta(dst, ctx.now);
  if (srcMeta.type !== "set" || (dstMeta && dstMeta.type !== "set")) return E.wrongType;
  if (bytesEqual(src, dst)) return ctx.db.setHas(src, member) ? ONE : ZERO;
  if (ctx.db.setRemove(src, [member]) === 0) return ZERO;
  ctx.notify?.("s", "srem", src);
  notifyIfEmptied(ctx, src, ctx.db.collection(src, ctx.now) === undefined);
  const added = ctx.db.setAdd(dst, [member]);
  noteGrowth(ctx, dst, "set", [member]);
  if (added > 0) ctx.notify?.("s", "sadd", dst);
  return ONE;
}

export const SET_COMMANDS = define("set", [
  {
    name: "sadd",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW insert",
    summary: "Adds one or more members to a set. Creates the key if it doesn't exist.",
    run: sadd,
  },
  {
    name: "srem",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW delete",
    summary: "Removes one or more members from a set. Deletes the set if the last member was removed.",
    run: (ctx, argv) => {
      const size = setSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      const removed = size === 0 ? 0 : ctx.db.setRemove(argv[1]!, argv.slice(2));
      if (removed > 0) ctx.notify?.("s", "srem", argv[1]!);
      notifyIfEmptied(ctx, argv[1]!, removed > 0 && ctx.db.collection(argv[1]!, ctx.now) === undefined);
      return int(removed);
    },
  },
  {
    name: "smembers",
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns all members of a set.",
    run: (ctx, argv) => {
      const size = setSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return set(size === 0 ? [] : bulks(members(ctx, argv[1]!)));
    },
  },
  {
    name: "sismember",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RO",
    summary: "Determines whether a member belongs to a set.",
    run: (ctx, argv) => {
      const size = setSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return size > 0 && ctx.db.setHas(argv[1]!, argv[2]!) ? ONE : ZERO;
    },
  },
  {
    name: "smismember",
    arity: -3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    summary: "Determines whether multiple members belong to a set.",
    run: (ctx, argv) => {
      const size = setSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return array(argv.slice(2).map((m) => (size > 0 && ctx.db.setHas(argv[1]!, m) ? ONE : ZERO)));
    },
  },
  {
    name: "scard",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RO",
    summary: "Returns the number of members in a set.",
    run: cardinality("set"),
  },
  {
    name: "spop",
    arity: -2,
    flags: ["write", "random", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access delete",
    summary:
      "Returns one or more random members from a set after removing them." +
      " Deletes the set if the last member was popped.",
    run: spop,
  },
  {
    name: "srandmember",
    arity: -2,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Get one or multiple random members from a set",
    run: srandmember,
  },
  {
    name: "smove",
    arity: 4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 2, step: 1 },
    since: "1.0.0",
    keyFlags: ["RW access delete", "RW insert"],
    summary: "Moves a member from one set to another.",
    run: smove,
    cluster: ONE_SLOT,
  },
  {
    name: "sinter",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    summary: "Returns the intersect of multiple sets.",
    run: setOp("inter"),
    cluster: ONE_SLOT,
  },
  {
    name: "sintercard",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 2, last: 2, step: 1, find: countedKeys(1) },
    since: "7.0.0",
    summary: "Returns the number of members of the intersect of multiple sets.",
    run: sintercard,
    cluster: ONE_SLOT,
  },
  {
    name: "sunion",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    summary: "Returns the union of multiple sets.",
    run: setOp("union"),
    cluster: ONE_SLOT,
  },
  {
    name: "sdiff",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    summary: "Returns the difference of multiple sets.",
    run: setOp("diff"),
    cluster: ONE_SLOT,
  },
  {
    name: "sinterstore",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    keyFlags: ["RW update", "RO access"],
    summary: "Stores the intersect of multiple sets in a key.",
    run: setOpStore("inter"),
    cluster: ONE_SLOT,
  },
  {
    name: "sunionstore",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores the union of multiple sets in a key.",
    run: setOpStore("union"),
    cluster: ONE_SLOT,
  },
  {
    name: "sdiffstore",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Stores the difference of multiple sets in a key.",
    run: setOpStore("diff"),
    cluster: ONE_SLOT,
  },
  {
    name: "sscan",
    arity: -3,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Iterates over members of a set.",
    run: (ctx, argv) =>
      scanCollection(
        ctx,
        argv,
        "set",
        (from, l) => ctx.db.setMembersFrom(argv[1]!, from, l),
        (m) => m,
        (m) => [bulk(m)],
      ),
  },
]);
