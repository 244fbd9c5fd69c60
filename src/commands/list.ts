// List commands with Redis 7.0's replies and error texts. A list is one row per item, ordered
// by a sequence number, so pushes and pops at either end are O(log n).
import { array, bulk, EMPTY_ARRAY, err, int, NULL_ARRAY, NULL_BULK, OK, ZERO, type Reply } from "../resp/reply.ts";
import { bulks, cardinality, countedKeys, indexRange, intArg, isReply, notifyIfEmptied, sizeOf } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext } from "./types.ts";
import { bytesEqual, E, lower, parseInt64 } from "./util.ts";

const listSize = (ctx: CommandContext, key: Uint8Array) => sizeOf(ctx, key, "list");
const MUST_BE_POSITIVE = err("ERR value is out of range, must be positive");

function push(left: boolean, onlyIfExists: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const size = listSize(ctx, argv[1]!);
    if (isReply(size)) return size;
    if (onlyIfExists && size === 0) return ZERO;
    const length = ctx.db.listPush(argv[1]!, argv.slice(2), left);
    ctx.notify?.("l", left ? "lpush" : "rpush", argv[1]!);
    return int(length);
  };
}

/** Removes and returns up to `count` items from one end. */
function popItems(ctx: CommandContext, key: Uint8Array, size: number, count: number, left: boolean): Uint8Array[] {
  const n = Math.min(count, size);
  const items = left ? ctx.db.listRange(key, 0, n - 1) : ctx.db.listRange(key, size - n, size - 1).reverse();
  ctx.db.listDelete(
    key,
    items.map((i) => i.seq),
  );
  return items.map((i) => i.value);
}

/** Redis's events of a pop that took `n` of `size` items: the pop, then "del" when it emptied the list. */
function notifyPop(ctx: CommandContext, key: Uint8Array, left: boolean, n: number, size: number): void {
  if (n === 0) return;
  ctx.notify?.("l", left ? "lpop" : "rpop", key);
  notifyIfEmptied(ctx, key, n >= size);
}

function popAndNotify(ctx: CommandContext, key: Uint8Array, size: number, count: number, left: boolean): Uint8Array[] {
  const items = popItems(ctx, key, size, count, left);
  notifyPop(ctx, key, left, items.length, size);
  return items;
}

function pop(left: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    if (argv.length > 3) return E.arity(left ? "lpop" : "rpop");
    let count: number | undefined;
    if (argv.length === 3) {
      const c = parseInt64(argv[2]!);
      if (c === undefined || c < 0n) return MUST_BE_POSITIVE;
      count = Number(c);
    }
    const size = listSize(ctx, argv[1]!);
    if (isReply(size)) return size;
    if (size === 0) return count === undefined ? NULL_BULK : NULL_ARRAY;
    if (count === undefined) return bulk(popAndNotify(ctx, argv[1]!, size, 1, left)[0]!);
    return array(bulks(popAndNotify(ctx, argv[1]!, size, count, left)));
  };
}

function lrange(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const w = indexRange(argv[2]!, argv[3]!, () => listSize(ctx, argv[1]!));
  if (isReply(w)) return w;
  const r = w.range;
  return r ? array(bulks(ctx.db.listRange(argv[1]!, r.start, r.stop).map((i) => i.value))) : EMPTY_ARRAY;
}

/** The item at a Redis index (negative from the tail), or undefined when out of range. */
function itemAt(ctx: CommandContext, key: Uint8Array, size: number, index: number) {
  const i = index < 0 ? size + index : index;
  if (i < 0 || i >= size) return undefined;
  return ctx.db.listRange(key, i, i)[0];
}

function lset(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const size = listSize(ctx, argv[1]!);
  if (isReply(size)) return size;
  if (size === 0) return E.noSuchKey;
  const index = intArg(argv[2]!);
  if (isReply(index)) return index;
  const item = itemAt(ctx, argv[1]!, size, index);
  if (!item) return err("ERR index out of range");
  ctx.db.listReplace(argv[1]!, item.seq, argv[3]!);
  ctx.notify?.("l", "lset", argv[1]!);
  return OK;
}

function lrem(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const count = intArg(argv[2]!);
  if (isReply(count)) return count;
  const size = listSize(ctx, argv[1]!);
  if (isReply(size)) return size;
  if (size === 0) return ZERO;
  let items = ctx.db.listRange(argv[1]!, 0, size - 1);
  if (count < 0) items = items.reverse();
  const limit = count === 0 ? Infinity : Math.abs(count);
  const doomed: number[] = [];
  for (const item of items) {
    if (doomed.length >= limit) break;
    if (bytesEqual(item.value, argv[3]!)) doomed.push(item.seq);
  }
  ctx.db.listDelete(argv[1]!, doomed);
  if (doomed.length > 0) ctx.notify?.("l", "lrem", argv[1]!);
  notifyIfEmptied(ctx, argv[1]!, doomed.length === size);
  return int(doomed.length);
}

function ltrim(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const w = indexRange(argv[2]!, argv[3]!, () => listSize(ctx, argv[1]!));
  if (isReply(w)) return w;
  const { size, range: r } = w;
  if (size === 0) return OK;
  if (!r) ctx.db.delete(argv[1]!, ctx.now);
  else if (r.start > 0 || r.stop < size - 1) ctx.db.listTrim(argv[1]!, r.start, r.stop);
  ctx.notify?.("l", "ltrim", argv[1]!);
  notifyIfEmptied(ctx, argv[1]!, !r);
  return OK;
}

function linsert(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const where = lower(argv[2]!);
  if (where !== "before" && where !== "after") return E.syntax;
  const size = listSize(ctx, argv[1]!);
  if (isReply(size)) return size;
  if (size === 0) return ZERO;
  const pivot = ctx.db.listRange(argv[1]!, 0, size - 1).find((i) => bytesEqual(i.value, argv[3]!));
  if (!pivot) return int(-1);
  ctx.db.listInsert(argv[1]!, pivot.seq, argv[4]!, where === "after");
  ctx.notify?.("l", "linsert", argv[1]!);
  return int(size + 1);
}

function lpos(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  let rank = 1;
  let count: number | undefined;
  let maxlen = 0;
  for (let i = 3; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (i + 1 >= argv.length) return E.syntax;
    const v = intArg(argv[++i]!);
    if (isReply(v)) return v;
    if (opt === "rank") {
      if (v === 0) {
        return err(
          "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        );
      }
      rank = v;
    } else if (opt === "count") {
      if (v < 0) return err("ERR COUNT can't be negative");
      count = v;
    } else if (opt === "maxlen") {
      if (v < 0) return err("ERR MAXLEN can't be negative");
      maxlen = v;
    } else return E.syntax;
  }
  const size = listSize(ctx, argv[1]!);
  if (isReply(size)) return size;
  const matches: number[] = [];
  if (size > 0) {
    const items = ctx.db.listRange(argv[1]!, 0, size - 1);
    const want = count === undefined ? 1 : count === 0 ? Infinity : count;
    const scanned = maxlen === 0 ? size : Math.min(maxlen, size);
    let skip = Math.abs(rank) - 1;
    for (let n = 0; n < scanned && matches.length < want; n++) {
      const i = rank > 0 ? n : size - 1 - n;
      if (!bytesEqual(items[i]!.value, argv[2]!)) continue;
      if (skip > 0) skip--;
      else matches.push(i);
    }
  }
  if (count === undefined) return matches.length ? int(matches[0]!) : NULL_BULK;
  return array(matches.map((m) => int(m)));
}

function whereArg(b: Uint8Array): boolean | undefined {
  const w = lower(b);
  return w === "left" ? true : w === "right" ? false : undefined;
}

/** LMOVE and RPOPLPUSH: src is checked (and may be empty) before dst's type is. */
function lmove(ctx: CommandContext, src: Uint8Array, dst: Uint8Array, fromLeft: boolean, toLeft: boolean): Reply {
  const size = listSize(ctx, src);
  if (isReply(size)) return size;
  if (size === 0) return NULL_BULK;
  const dstSize = listSize(ctx, dst);
  if (isReply(dstSize)) return dstSize;
  // Rotating a one-element list onto itself changes nothing; popping it would delete the key and
  // lose its TTL, which Redis keeps.
  const rotatesOne = size === 1 && bytesEqual(src, dst);
  const [value] = rotatesOne ? [ctx.db.listRange(src, 0, 0)[0]!.value] : popItems(ctx, src, size, 1, fromLeft);
  if (!rotatesOne) ctx.db.listPush(dst, [value!], toLeft);
  // Redis's order: the push on dst, then the pop on src (and its "del").
  ctx.notify?.("l", toLeft ? "lpush" : "rpush", dst);
  notifyPop(ctx, src, fromLeft, 1, rotatesOne ? 2 : size);
  return bulk(value!);
}

function lmpop(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const numkeys = parseInt64(argv[1]!);
  if (numkeys === undefined || numkeys <= 0n) return err("ERR numkeys should be greater than 0");
  const n = Number(numkeys);
  if (argv.length < 3 + n) return E.syntax;
  const left = whereArg(argv[2 + n]!);
  if (left === undefined) return E.syntax;
  let count = 1;
  let rest = argv.slice(3 + n);
  if (rest.length > 0) {
    if (rest.length !== 2 || lower(rest[0]!) !== "count") return E.syntax;
    const c = parseInt64(rest[1]!);
    if (c === undefined || c <= 0n) return err("ERR count should be greater than 0");
    count = Number(c);
    rest = [];
  }
  for (const key of argv.slice(2, 2 + n)) {
    const size = listSize(ctx, key);
    if (isReply(size)) return size;
    if (size > 0) return array([bulk(key), array(bulks(popAndNotify(ctx, key, size, count, left)))]);
  }
  return NULL_ARRAY;
}

export const LIST_COMMANDS = define("list", [
  {
    name: "lpush",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW insert",
    summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
    run: push(true, false),
  },
  {
    name: "rpush",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW insert",
    summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.",
    run: push(false, false),
  },
  {
    name: "lpushx",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    keyFlags: "RW insert",
    summary: "Prepends one or more elements to a list only when the list exists.",
    run: push(true, true),
  },
  {
    name: "rpushx",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    keyFlags: "RW insert",
    summary: "Appends an element to a list only when the list exists.",
    run: push(false, true),
  },
  {
    name: "lpop",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access delete",
    summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
    run: pop(true),
  },
  {
    name: "rpop",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access delete",
    summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
    run: pop(false),
  },
  {
    name: "llen",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RO",
    summary: "Returns the length of a list.",
    run: cardinality("list"),
  },
  {
    name: "lrange",
    arity: 4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns a range of elements from a list.",
    run: lrange,
  },
  {
    name: "lindex",
    arity: 3,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns an element from a list by its index.",
    run: (ctx, argv) => {
      // Redis looks the key up before it parses the index.
      const size = listSize(ctx, argv[1]!);
      if (isReply(size)) return size;
      if (size === 0) return NULL_BULK;
      const index = intArg(argv[2]!);
      if (isReply(index)) return index;
      const item = itemAt(ctx, argv[1]!, size, index);
      return item ? bulk(item.value) : NULL_BULK;
    },
  },
  {
    name: "lset",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Sets the value of an element in a list by its index.",
    run: lset,
  },
  {
    name: "lrem",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW delete",
    summary: "Removes elements from a list. Deletes the list if the last element was removed.",
    run: lrem,
  },
  {
    name: "ltrim",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW delete",
    summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
    run: ltrim,
  },
  {
    name: "linsert",
    arity: 5,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    keyFlags: "RW insert",
    summary: "Inserts an element before or after another element in a list.",
    run: linsert,
  },
  {
    name: "lpos",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.0.6",
    summary: "Returns the index of matching elements in a list.",
    run: lpos,
  },
  {
    name: "lmove",
    arity: 5,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "6.2.0",
    keyFlags: ["RW access delete", "RW insert"],
    summary:
      "Returns an element after popping it from one list and pushing it to another." +
      " Deletes the list if the last element was moved.",
    run: (ctx, argv) => {
      const from = whereArg(argv[3]!);
      const to = whereArg(argv[4]!);
      if (from === undefined || to === undefined) return E.syntax;
      return lmove(ctx, argv[1]!, argv[2]!, from, to);
    },
    cluster: ONE_SLOT,
  },
  {
    name: "rpoplpush",
    arity: 3,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "1.2.0",
    keyFlags: ["RW access delete", "RW insert"],
    summary:
      "Returns the last element of a list after removing and pushing it to another list." +
      " Deletes the list if the last element was popped.",
    run: (ctx, argv) => lmove(ctx, argv[1]!, argv[2]!, false, true),
    cluster: ONE_SLOT,
  },
  {
    name: "lmpop",
    arity: -4,
    flags: ["write"],
    keys: { first: 2, last: 2, step: 1, find: countedKeys(1) },
    keyFlags: "RW access delete",
    since: "7.0.0",
    summary:
      "Returns multiple elements from a list after removing them." +
      " Deletes the list if the last element was popped.",
    run: lmpop,
    cluster: ONE_SLOT,
  },
]);
