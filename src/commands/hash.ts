// Hash commands with Redis 7.0's replies and error texts. A hash is one row per field.
import {
  array,
  bulk,
  bulkOrNull,
  EMPTY_ARRAY,
  err,
  int,
  map,
  NULL_BULK,
  OK,
  ONE,
  ZERO,
  type Reply,
} from "../resp/reply.ts";
import {
  bulks,
  cardinality,
  isReply,
  noteGrowth,
  pairs,
  pickRandom,
  randomCount,
  scanCollection,
  sizeOf,
  notifyIfEmptied,
} from "./collection.ts";
import { define } from "./define.ts";
import { addFloatText } from "./strings.ts";
import type { CommandContext } from "./types.ts";
import { E, INT64_MAX, INT64_MIN, parseInt64, utf8 } from "./util.ts";

function hashSize(ctx: CommandContext, key: Uint8Array): number | Reply {
  return sizeOf(ctx, key, "hash");
}

function hset(ctx: CommandContext, argv: readonly Uint8Array[], name: string): Reply {
  if (argv.length % 2 !== 0) return E.arity(name);
  const key = argv[1]!;
  const size = hashSize(ctx, key);
  if (isReply(size)) return size;
  let created = 0;
  for (let i = 2; i < argv.length; i += 2) if (ctx.db.hashSet(key, argv[i]!, argv[i + 1]!)) created++;
  noteGrowth(ctx, key, "hash", argv.slice(2));
  ctx.notify?.("h", "hset", key);
  return name === "hmset" ? OK : int(created);
}

function hincrby(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, key, field, by] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const delta = parseInt64(by);
  if (delta === undefined) return E.notInt;
  const size = hashSize(ctx, key);
  if (isReply(size)) return size;
  const cur = size > 0 ? ctx.db.hashGet(key, field) : undefined;
  let n = 0n;
  if (cur !== undefined) {
    const parsed = parseInt64(cur);
    if (parsed === undefined) return err("ERR hash value is not an integer");
    n = parsed;
  }
  const next = n + delta;
  if (next > INT64_MAX || next < INT64_MIN) return E.overflow;
  const text = utf8(next.toString());
  ctx.db.hashSet(key, field, text);
  noteGrowth(ctx, key, "hash", [field, text]);
  ctx.notify?.("h", "hincrby", key);
  return int(next >= BigInt(Number.MIN_SAFE_INTEGER) && next <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(next) : next);
}

function hincrbyfloat(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, key, field, by] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  // Redis checks the increment before the key: a bad increment wins over WRONGTYPE.
  const probe = addFloatText(undefined, by);
  if (typeof probe !== "string") return probe === E.notFloat ? probe : err("ERR value is NaN or Infinity");
  const size = hashSize(ctx, key);
  if (isReply(size)) return size;
  const cur = size > 0 ? ctx.db.hashGet(key, field) : undefined;
  const text = addFloatText(cur, by);
  if (typeof text !== "string") return text === E.notFloat ? err("ERR hash value is not a float") : text;
  const value = utf8(text);
  ctx.db.hashSet(key, field, value);
  noteGrowth(ctx, key, "hash", [field, value]);
  ctx.notify?.("h", "hincrbyfloat", key);
  return bulk(value);
}

function hrandfield(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const parsed = randomCount(argv, "withvalues");
  if (isReply(parsed)) return parsed;
  const { count, withPairs: withValues } = parsed;
  const size = hashSize(ctx, key);
  if (isReply(size)) return size;
  if (count === undefined) {
    if (size === 0) return NULL_BULK;
    const [entry] = ctx.db.hashEntries(key, Math.floor(ctx.random() * size), 1);
    return bulk(entry![0]);
  }
  if (size === 0 || count === 0) return EMPTY_ARRAY;
  const all = ctx.db.hashEntries(key);
  const picked = pickRandom(all, count, ctx.random);
  if (!withValues) return array(picked.map(([f]) => bulk(f)));
  return pairs(
    ctx,
    picked.map(([f, v]) => [bulk(f), bulk(v)] as const),
  );
}

export const HASH_COMMANDS = define("hash", [
  {
    name: "hset",
    arity: -4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Creates or modifies the value of a field in a hash.",
    run: (ctx, argv) => hset(ctx, argv, "hset"),
  },
  {
    name: "hmset",
    arity: -4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Sets the values of multiple fields.",
    run: (ctx, argv) => hset(ctx, argv, "hmset"),
  },
  {
    name: "hsetnx",
    arity: 4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RW insert",
    summary: "Sets the value of a field in a hash only when the field doesn't exist.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      if (size > 0 && ctx.db.hashGet(argv[1]!, argv[2]!) !== undefined) return ZERO;
      ctx.db.hashSet(argv[1]!, argv[2]!, argv[3]!);
      noteGrowth(ctx, argv[1]!, "hash", [argv[2]!, argv[3]!]);
      ctx.notify?.("h", "hset", argv[1]!);
      return ONE;
    },
  },
  {
    name: "hget",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns the value of a field in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return size === 0 ? NULL_BULK : bulkOrNull(ctx.db.hashGet(argv[1]!, argv[2]!));
    },
  },
  {
    name: "hmget",
    arity: -3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns the values of all fields in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return array(argv.slice(2).map((f) => (size === 0 ? NULL_BULK : bulkOrNull(ctx.db.hashGet(argv[1]!, f)))));
    },
  },
  {
    name: "hgetall",
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns all fields and values in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return map(size === 0 ? [] : ctx.db.hashEntries(argv[1]!).map(([f, v]) => [bulk(f), bulk(v)] as const));
    },
  },
  {
    name: "hdel",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RW delete",
    summary: "Deletes one or more fields and their values from a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      let n = 0;
      if (size > 0) for (const f of argv.slice(2)) if (ctx.db.hashDelete(argv[1]!, f)) n++;
      if (n > 0) ctx.notify?.("h", "hdel", argv[1]!);
      notifyIfEmptied(ctx, argv[1]!, n > 0 && n === size);
      return int(n);
    },
  },
  {
    name: "hexists",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RO",
    summary: "Determines whether a field exists in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return size > 0 && ctx.db.hashGet(argv[1]!, argv[2]!) !== undefined ? ONE : ZERO;
    },
  },
  {
    name: "hlen",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RO",
    summary: "Returns the number of fields in a hash.",
    run: cardinality("hash"),
  },
  {
    name: "hkeys",
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns all fields in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return array(size === 0 ? [] : bulks(ctx.db.hashEntries(argv[1]!).map(([f]) => f)));
    },
  },
  {
    name: "hvals",
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    summary: "Returns all values in a hash.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return array(size === 0 ? [] : bulks(ctx.db.hashEntries(argv[1]!).map(([, v]) => v)));
    },
  },
  {
    name: "hincrby",
    arity: 4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RW access update",
    summary: "Increments the integer value of a field in a hash by a number.",
    run: hincrby,
  },
  {
    name: "hincrbyfloat",
    arity: 4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    keyFlags: "RW access update",
    summary: "Increments the floating point value of a field by a number.",
    run: hincrbyfloat,
  },
  {
    name: "hstrlen",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "3.2.0",
    keyFlags: "RO",
    summary: "Returns the length of the value of a field.",
    run: (ctx, argv) => {
      const size = hashSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      return int(size === 0 ? 0 : (ctx.db.hashGet(argv[1]!, argv[2]!)?.length ?? 0));
    },
  },
  {
    name: "hrandfield",
    arity: -2,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    summary: "Returns one or more random fields from a hash.",
    run: hrandfield,
  },
  {
    name: "hscan",
    arity: -3,
    flags: ["readonly", "random"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.0",
    summary: "Iterates over fields and values of a hash.",
    run: (ctx, argv) => {
      const page = (from: Uint8Array, l: number) => ctx.db.hashEntriesFrom(argv[1]!, from, l);
      return scanCollection(
        ctx,
        argv,
        "hash",
        page,
        ([f]) => f,
        ([f, v]) => [bulk(f), bulk(v)],
      );
    },
  },
]);
