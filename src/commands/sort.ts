// SORT and SORT_RO over lists, sets and sorted sets, with Redis 7.0's options, replies and error
// texts. Strings compare by bytes (Redis's strcoll in the C locale).
//
// In a cluster, BY and GET patterns read keys formed from the elements. Redis 7.0 refuses them
// in cluster mode outright; FlyDB accepts a pattern whose keys all hash to one slot of the sorted
// key's partition: one with a hash tag before its '*' (e.g. '{user1}weight_*' for '{user1}ids'),
// and refuses any other with an error that says so. Standalone, every pattern works.
import { array, bulk, err, int, NULL_BULK, type Reply } from "../resp/reply.ts";
import { keySlot } from "../keyspace/slot.ts";
import { isReply, sizeOf } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext } from "./types.ts";
import { compareBytes, E, lower, parseInt64, str } from "./util.ts";

const STAR = 0x2a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const NOT_DOUBLE = err("ERR One or more scores can't be converted into double");

/** A BY or GET pattern split at its first '*' and, after it, its "->field" hash dereference. */
interface Pattern {
  readonly raw: Uint8Array;
  /** Index of the first '*'; -1 when there is none (a GET of a constant key always answers nil). */
  readonly star: number;
  /** End of the key part: the start of "->field", or the pattern's length. */
  readonly keyEnd: number;
  readonly field: Uint8Array | undefined;
}

function parsePattern(raw: Uint8Array): Pattern {
  const star = raw.indexOf(STAR);
  let keyEnd = raw.length;
  let field: Uint8Array | undefined;
  if (star >= 0) {
    for (let i = star + 1; i + 2 < raw.length; i++) {
      if (raw[i] === 0x2d && raw[i + 1] === 0x3e) {
        keyEnd = i;
        field = raw.subarray(i + 2);
        break;
      }
    }
  }
  return { raw, star, keyEnd, field };
}

const isHashPattern = (p: Pattern) => p.raw.length === 1 && p.raw[0] === 0x23; // "#"

/**
 * The slot of every key the pattern can form, when the element substituted for '*' cannot
 * change it: a non-empty hash tag closes before the '*'. Undefined otherwise.
 */
function patternSlot(p: Pattern): number | undefined {
  const prefix = p.raw.subarray(0, p.star);
  const open = prefix.indexOf(OPEN_BRACE);
  if (open < 0) return undefined;
  const close = prefix.indexOf(CLOSE_BRACE, open + 1);
  return close > open + 1 ? keySlot(prefix) : undefined;
}

/** Redis's lookupKeyByPattern: the element itself for "#", else a string key's value or a hash field. */
function lookup(ctx: CommandContext, p: Pattern, elem: Uint8Array): Uint8Array | undefined {
  if (isHashPattern(p)) return elem;
  if (p.star < 0) return undefined;
  const key = new Uint8Array(p.keyEnd - 1 + elem.length);
  key.set(p.raw.subarray(0, p.star), 0);
  key.set(elem, p.star);
  key.set(p.raw.subarray(p.star + 1, p.keyEnd), p.star + elem.length);
  const meta = ctx.db.meta(key, ctx.now);
  if (p.field) return meta?.type === "hash" ? ctx.db.hashGet(key, p.field) : undefined;
  if (meta?.type !== "string") return undefined;
  const v = ctx.db.getString(key, ctx.now);
  return v instanceof Uint8Array ? v : undefined;
}

const DECIMAL = String.raw`(\d+\.?\d*|\.\d+)(?:e([+-]?\d+))?`;
const HEX = String.raw`0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p([+-]?\d+))?`;
const STRTOD = new RegExp(String.raw`^[\t\n\v\f\r ]*([+-]?)(?:${DECIMAL}|${HEX}|(inf(?:inity)?))$`, "i");

/**
 * A sort weight with C's strtod rules as Redis applies them: leading spaces, hex and "inf" are
 * accepted, an empty string is 0; NaN, trailing bytes, overflow and underflow are not.
 */
export function sortWeight(b: Uint8Array): number | undefined {
  if (b.length === 0) return 0;
  const m = STRTOD.exec(str(b));
  if (!m) return undefined;
  const sign = m[1] === "-" ? -1 : 1;
  if (m[6]) return sign * Infinity;
  let v: number;
  let nonZero: boolean;
  if (m[2] !== undefined) {
    v = Number(`${m[2]}e${m[3] ?? 0}`);
    nonZero = /[1-9]/.test(m[2]);
  } else {
    const [int, frac = ""] = m[4]!.split(".");
    const digits = int! + frac;
    v = parseInt(digits || "0", 16) * 2 ** (Number(m[5] ?? 0) - 4 * frac.length);
    nonZero = /[1-9a-f]/i.test(digits);
  }
  // ERANGE: overflow, or a non-zero value too small for a normal double.
  if (!Number.isFinite(v) || (nonZero && Math.abs(v) < 2.2250738585072014e-308)) return undefined;
  return sign * v;
}

interface SortOptions {
  desc: boolean;
  alpha: boolean;
  limit: { start: bigint; count: bigint } | undefined;
  store: Uint8Array | undefined;
  by: Pattern | undefined;
  gets: Pattern[];
}

/** "{tag}" that puts a pattern's keys in the key's slot, for the error's example. */
function tagFor(key: Uint8Array): string {
  const open = key.indexOf(OPEN_BRACE);
  const close = open < 0 ? -1 : key.indexOf(CLOSE_BRACE, open + 1);
  return `{${str(close > open + 1 ? key.subarray(open + 1, close) : key)}}`;
}

function crossPartition(ctx: CommandContext, key: Uint8Array, option: string, p: Pattern): Reply | undefined {
  if (ctx.db.colocated(key, patternSlot(p))) return undefined;
  return err(
    `ERR ${option} option of SORT denied in cluster mode: keys formed by pattern '${str(p.raw)}' may be in another ` +
      `partition than '${str(key)}'; give the pattern a hash tag before its '*', like '${tagFor(key)}${str(p.raw)}'`,
  );
}

function parseOptions(ctx: CommandContext, argv: readonly Uint8Array[], readonly: boolean): SortOptions | Reply {
  const o: SortOptions = { desc: false, alpha: false, limit: undefined, store: undefined, by: undefined, gets: [] };
  const key = argv[1]!;
  for (let i = 2; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    const left = argv.length - i - 1;
    if (opt === "asc") o.desc = false;
    else if (opt === "desc") o.desc = true;
    else if (opt === "alpha") o.alpha = true;
    else if (opt === "limit" && left >= 2) {
      const start = parseInt64(argv[i + 1]!);
      const count = parseInt64(argv[i + 2]!);
      if (start === undefined || count === undefined) return E.notInt;
      o.limit = { start, count };
      i += 2;
    } else if (!readonly && opt === "store" && left >= 1) o.store = argv[++i]!;
    else if (opt === "by" && left >= 1) {
      o.by = parsePattern(argv[++i]!);
      if (o.by.star >= 0) {
        const refused = crossPartition(ctx, key, "BY", o.by);
        if (refused) return refused;
      }
    } else if (opt === "get" && left >= 1) {
      const p = parsePattern(argv[++i]!);
      if (!isHashPattern(p) && p.star >= 0) {
        const refused = crossPartition(ctx, key, "GET", p);
        if (refused) return refused;
      }
      o.gets.push(p);
    } else return E.syntax;
  }
  return o;
}

interface Item {
  readonly elem: Uint8Array;
  weight: number;
  /** ALPHA with BY: the looked-up value, undefined when the key is missing (sorts first). */
  cmp: Uint8Array | undefined;
}

/** The elements in their native order: list order, member byte order, score order. */
function load(ctx: CommandContext, key: Uint8Array, type: string, size: number): Uint8Array[] {
  if (size === 0) return [];
  if (type === "list") return ctx.db.listRange(key, 0, size - 1).map((i) => i.value);
  if (type === "set") return ctx.db.setMembers(key);
  return ctx.db.zsetRange(key, { by: "rank", start: 0, stop: size - 1 }, false, 0, -1).map((e) => e.member);
}

function sort(readonly: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const o = parseOptions(ctx, argv, readonly);
    if (isReply(o)) return o;
    const key = argv[1]!;
    const type = ctx.db.meta(key, ctx.now)?.type ?? "list";
    if (type !== "list" && type !== "set" && type !== "zset") return E.wrongType;
    const size = sizeOf(ctx, key, type);
    if (isReply(size)) return size;
    // BY a constant: keep the native order, except that a set being stored is sorted ALPHA so
    // replicas and the stored list agree (as Redis does).
    let dontSort = o.by !== undefined && o.by.star < 0;
    let by = o.by;
    let alpha = o.alpha;
    if (dontSort && type === "set" && o.store) [dontSort, alpha, by] = [false, true, undefined];

    const n = size;
    const clamp = (v: bigint, lo: number) => (v < BigInt(lo) ? lo : v > BigInt(n) ? n : Number(v));
    const limitCount = o.limit ? clamp(o.limit.count, -1) : -1;
    let start = o.limit ? clamp(o.limit.start, 0) : 0;
    let end = limitCount < 0 ? n - 1 : start + limitCount - 1;
    if (start >= n) [start, end] = [n - 1, n - 2];
    if (end >= n) end = n - 1;

    let elems = load(ctx, key, type, size);
    if (dontSort && o.desc && type !== "set") elems = elems.reverse();
    const items: Item[] = elems.map((elem) => ({ elem, weight: 0, cmp: undefined }));
    if (!dontSort) {
      let convertError = false;
      for (const item of items) {
        const v = by ? lookup(ctx, by, item.elem) : item.elem;
        if (v === undefined) continue;
        if (alpha) {
          if (by) item.cmp = v;
        } else {
          const w = sortWeight(v);
          if (w === undefined) convertError = true;
          else item.weight = w;
        }
      }
      if (convertError) return NOT_DOUBLE;
      const sign = o.desc ? -1 : 1;
      items.sort((a, b) => sign * compareItems(a, b, alpha, by !== undefined));
    }

    const chosen = end >= start ? items.slice(start, end + 1) : [];
    const out: (Uint8Array | undefined)[] =
      o.gets.length === 0
        ? chosen.map((i) => i.elem)
        : chosen.flatMap((i) => o.gets.map((p) => lookup(ctx, p, i.elem)));
    if (!o.store) return array(out.map((v) => (v === undefined ? NULL_BULK : bulk(v))));
    const deleted = ctx.db.delete(o.store, ctx.now);
    if (out.length > 0) {
      ctx.db.listPush(
        o.store,
        out.map((v) => v ?? new Uint8Array(0)),
        false,
      );
      ctx.notify?.("l", "sortstore", o.store);
    } else if (deleted) ctx.notify?.("g", "del", o.store);
    return int(out.length);
  };
}

/** Redis's sortCompare, before DESC is applied. */
function compareItems(a: Item, b: Item, alpha: boolean, byPattern: boolean): number {
  if (!alpha) return a.weight > b.weight ? 1 : a.weight < b.weight ? -1 : compareBytes(a.elem, b.elem);
  if (!byPattern) return compareBytes(a.elem, b.elem);
  if (!a.cmp || !b.cmp) return a.cmp === b.cmp ? 0 : a.cmp ? 1 : -1;
  return compareBytes(a.cmp, b.cmp);
}

/** SORT's keys: the sorted key and the last STORE destination (Redis's sortGetKeys). */
function sortKeys(argv: readonly Uint8Array[]): Uint8Array[] {
  let store: Uint8Array | undefined;
  for (let i = 2; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "limit") i += 2;
    else if (opt === "get" || opt === "by") i += 1;
    else if (opt === "store" && i + 1 < argv.length) store = argv[i + 1]!;
  }
  return store ? [argv[1]!, store] : [argv[1]!];
}

export const SORT_COMMANDS = define("generic", [
  {
    name: "sort",
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1, find: sortKeys },
    since: "1.0.0",
    keyFlags: ["RO access", "OW update"],
    summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    run: sort(false),
    cluster: ONE_SLOT,
  },
  {
    name: "sort_ro",
    arity: -2,
    flags: ["readonly"],
    // A function, as Redis finds SORT_RO's key (sortROGetKeys), so COMMAND INFO says movablekeys as Redis does.
    keys: { first: 1, last: 1, step: 1, find: (argv) => [argv[1]!] },
    since: "7.0.0",
    summary: "Returns the sorted elements of a list, a set, or a sorted set.",
    run: sort(true),
    cluster: ONE_SLOT,
  },
]);
