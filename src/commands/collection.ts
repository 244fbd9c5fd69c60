// Shared by the collection command files (hash, list, set, zset): type checks with Redis's
// WRONGTYPE, Redis 7.0's encoding thresholds, and the reply shapes that differ between RESP2/3.
import { array, bulk, double, EMPTY_ARRAY, err, int, type Reply } from "../resp/reply.ts";
import { parseCursor64, parseScanOptions } from "./keys.ts";
import type { CommandContext, CommandFn, EncodingLimits, KeyType } from "./types.ts";
import { bytesEqual, E, globMatch, INT64_MAX, INT64_MIN, lower, parseInt64 } from "./util.ts";

export const isReply = (x: unknown): x is Reply =>
  typeof x === "object" && x !== null && "t" in x && !(x instanceof Uint8Array);

/**
 * The key's collection size when it holds `type` (0 when absent), or WRONGTYPE. Every
 * collection command starts with this, as Redis's lookupKey + checkType does.
 */
export function sizeOf(ctx: CommandContext, key: Uint8Array, type: KeyType): number | Reply {
  const meta = ctx.db.meta(key, ctx.now);
  if (!meta) return 0;
  if (meta.type !== type) return E.wrongType;
  return ctx.db.collection(key, ctx.now)?.size ?? 0;
}

/** HLEN, LLEN, SCARD, ZCARD: the size of the collection at argv[1] (0 when absent), or WRONGTYPE. */
export function cardinality(type: KeyType): CommandFn {
  return (ctx, argv) => {
    const size = sizeOf(ctx, argv[1]!, type);
    return isReply(size) ? size : int(size);
  };
}

/** Redis 7.0 defaults: hash-max-listpack-*, zset-max-listpack-*, set-max-intset-entries. */
export const DEFAULT_ENCODING: EncodingLimits = {
  hashEntries: 512,
  hashValue: 64,
  setIntsetEntries: 512,
  zsetEntries: 128,
  zsetValue: 64,
  streamNodeEntries: 100,
  streamNodeBytes: 4096,
};

/**
 * After a write that added `added` elements (fields, values, members): converts the key's
 * recorded encoding the way Redis would (one way only: Redis never converts back in place).
 */
export function noteGrowth(
  ctx: CommandContext,
  key: Uint8Array,
  type: "hash" | "set" | "zset",
  added: readonly Uint8Array[],
): void {
  const info = ctx.db.collection(key, ctx.now);
  if (!info?.compact) return;
  const l = ctx.encoding ?? DEFAULT_ENCODING;
  const [entries, value] = type === "hash" ? [l.hashEntries, l.hashValue] : [l.zsetEntries, l.zsetValue];
  const large =
    type === "set"
      ? info.size > l.setIntsetEntries || added.some((m) => parseInt64(m) === undefined)
      : info.size > entries || added.some((m) => m.length > value);
  if (large) ctx.db.markLarge(key);
}

/** OBJECT ENCODING for a collection: Redis 7.0's names. */
export function encodingName(type: Exclude<KeyType, "string">, compact: boolean): string {
  if (type === "list") return "quicklist";
  if (type === "stream") return "stream";
  if (type === "set") return compact ? "intset" : "hashtable";
  if (type === "zset") return compact ? "listpack" : "skiplist";
  return compact ? "listpack" : "hashtable";
}

/** A zset score: RESP3 double; the encoder turns it into a bulk string for RESP2. */
export const score = (n: number): Reply => double(n);

/** WITHSCORES/WITHVALUES pairs: an array of 2-arrays in RESP3, one flat array in RESP2 (as Redis 7.0). */
export function pairs(ctx: CommandContext, items: readonly (readonly [Reply, Reply])[]): Reply {
  return ctx.resp3 ? array(items.map(([a, b]) => array([a, b]))) : array(items.flat());
}

/**
 * Resolves a Redis start/stop index pair (negative counts from the end) against `size`:
 * the inclusive clamped range, or undefined when it selects nothing.
 */
export function clampRange(start: number, stop: number, size: number): { start: number; stop: number } | undefined {
  if (start < 0) start += size;
  if (stop < 0) stop += size;
  if (start < 0) start = 0;
  if (start > stop || start >= size) return undefined;
  if (stop >= size) stop = size - 1;
  return { start, stop };
}

/**
 * Parses a start/stop index pair, then resolves it against the key's size (LRANGE, LTRIM,
 * ZRANGE, ZREMRANGEBYRANK): the size and the clamped range (undefined: it selects nothing), or
 * the error reply (an argument that is not an integer, a key of another type).
 */
export function indexRange(
  a: Uint8Array,
  b: Uint8Array,
  sizeOfKey: () => number | Reply,
): { size: number; range: { start: number; stop: number } | undefined } | Reply {
  const start = intArg(a);
  const stop = intArg(b);
  if (isReply(start)) return start;
  if (isReply(stop)) return stop;
  const size = sizeOfKey();
  if (isReply(size)) return size;
  return { size, range: clampRange(start, stop, size) };
}

/** Parses a count/index argument as a JS number with Redis's integer rules. */
export function intArg(b: Uint8Array): number | Reply {
  const v = parseInt64(b);
  return v === undefined ? E.notInt : Number(v);
}

/**
 * The keys of a command with a key count at argv[countAt] followed by that many keys, plus the
 * fixed keys before the count (ZUNIONSTORE's destination). A count that is not a valid number
 * still yields the first key, so the command reaches a partition and answers Redis's error there.
 */
export function countedKeys(
  countAt: number,
  fixedBefore: readonly number[] = [],
): (argv: readonly Uint8Array[]) => Uint8Array[] {
  return (argv) => {
    const n = parseInt64(argv[countAt] ?? new Uint8Array(0));
    const available = argv.length - countAt - 1;
    const count = n === undefined || n < 1n ? Math.min(1, available) : Math.min(Number(n), available);
    return [...fixedBefore.map((i) => argv[i]!), ...argv.slice(countAt + 1, countAt + 1 + count)];
  };
}

/** The optional COUNT of SPOP and ZPOPMIN/ZPOPMAX (argv[2]): absent, or an integer >= 0. */
export function popCount(argv: readonly Uint8Array[]): { count?: number } | Reply {
  if (argv.length > 3) return E.syntax;
  if (argv.length < 3) return {};
  const c = parseInt64(argv[2]!);
  if (c === undefined || c < 0n) return err("ERR value is out of range, must be positive");
  return { count: Number(c) };
}

/**
 * The count argument of HRANDFIELD/ZRANDMEMBER (with `option`, WITHVALUES/WITHSCORES) and
 * SRANDMEMBER (without), checked in Redis 7.0's order: the count's range first, then the option,
 * then the halved range that option allows.
 */
export function randomCount(
  argv: readonly Uint8Array[],
  option: string | undefined,
): { count?: number; withPairs: boolean } | Reply {
  if (argv.length < 3) return { withPairs: false };
  if (!option && argv.length > 3) return E.syntax;
  const c = parseInt64(argv[2]!);
  if (c === undefined) return E.notInt;
  if (c === INT64_MIN)
    return err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
  if (argv.length > 4 || (argv.length === 4 && lower(argv[3]!) !== option)) return E.syntax;
  const withPairs = argv.length === 4;
  if (withPairs && (c > INT64_MAX / 2n || c < -INT64_MAX / 2n)) return err("ERR value is out of range");
  return { count: Number(c), withPairs };
}

/** Bulk replies for a list of byte strings. */
export const bulks = (xs: readonly Uint8Array[]): Reply[] => xs.map((x) => bulk(x));

/**
 * Redis's "count" semantics for HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: a negative count picks
 * |count| times with repetition; a positive one picks distinct elements (all when count >= size).
 */
export function pickRandom<T>(all: readonly T[], count: number, random: () => number): T[] {
  if (count < 0) {
    const out: T[] = [];
    for (let i = 0; i < -count; i++) out.push(all[Math.floor(random() * all.length)]!);
    return out;
  }
  const copy = all.slice();
  const n = Math.min(count, copy.length);
  // Partial Fisher–Yates: the first n slots end up a uniform random sample in random order.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

/** Bytes of an element that a collection scan's cursor holds (all 64 bits of Redis's cursor). */
const SCAN_GROUP_BYTES = 8;

/**
 * HSCAN/SSCAN/ZSCAN. The cursor is a resume point, not a position, so that elements removed or
 * added during a scan never shift the ones not yet returned (Redis's issue #4906): it holds the
 * first SCAN_GROUP_BYTES bytes (zero padded, big-endian) of the next element in byte order. Elements
 * sharing those bytes form a group that one call never splits, so a call that ends inside a group
 * finishes it (COUNT is a hint, as in Redis). Every element present for the whole scan is returned
 * at least once. A compact collection is returned whole with cursor 0, as Redis does for listpack
 * and intset encodings.
 */
export function scanCollection<T>(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  type: "hash" | "set" | "zset",
  page: (from: Uint8Array, limit: number) => T[],
  name: (item: T) => Uint8Array,
  render: (item: T) => Reply[],
  /** A compact collection in Redis's listpack order, when that is not byte order (sorted sets: by score). */
  whole?: () => T[],
): Reply {
  const cursor = parseCursor64(argv[2]!);
  if (cursor === undefined) return E.invalidCursor;
  const opts = parseScanOptions(argv, 3, false);
  if (isReply(opts)) return opts;
  const info = sizeOf(ctx, argv[1]!, type);
  if (isReply(info)) return info;
  if (info === 0) return array([bulk("0"), EMPTY_ARRAY]);
  const compact = ctx.db.collection(argv[1]!, ctx.now)?.compact ?? true;
  const { items, next } = compact
    ? { items: whole ? whole() : page(new Uint8Array(0), info), next: undefined }
    : scanGroups(page, name, cursorBytes(cursor), Math.max(1, opts.count));
  const kept = opts.match ? items.filter((i) => globMatch(opts.match!, name(i))) : items;
  return array([bulk(next === undefined ? "0" : String(bytesCursor(next))), array(kept.flatMap(render))]);
}

/**
 * At least `count` elements from `from` (fewer at the end), whole groups only, and the padded
 * group prefix where the next call starts (undefined: done). A group prefix after the first
 * element's is never all zeros, so the next cursor is never 0 before the end.
 */
export function scanGroups<T>(
  page: (from: Uint8Array, limit: number) => T[],
  name: (item: T) => Uint8Array,
  from: Uint8Array,
  count: number,
): { items: T[]; next: Uint8Array | undefined } {
  const items = page(from, count + 1);
  let peek = items.length > count ? items.pop() : undefined;
  const last = items[items.length - 1];
  if (last !== undefined) {
    const group = groupOf(name(last));
    const batch = 64;
    while (peek !== undefined && bytesEqual(groupOf(name(peek)), group)) {
      // `more` starts with peek itself.
      const more = page(name(peek), batch + 1);
      peek = more.length > batch ? more.pop() : undefined;
      for (const item of more) {
        if (!bytesEqual(groupOf(name(item)), group)) {
          peek = item;
          break;
        }
        items.push(item);
      }
    }
  }
  return { items, next: peek === undefined ? undefined : groupOf(name(peek)) };
}

function groupOf(element: Uint8Array): Uint8Array {
  const out = new Uint8Array(SCAN_GROUP_BYTES);
  out.set(element.subarray(0, SCAN_GROUP_BYTES));
  return out;
}

/** A cursor's resume point: its bytes without the trailing zeros that pad a short group prefix. */
function cursorBytes(cursor: bigint): Uint8Array {
  const out = new Uint8Array(SCAN_GROUP_BYTES);
  for (let i = SCAN_GROUP_BYTES - 1, v = cursor; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.subarray(0, end);
}

function bytesCursor(group: Uint8Array): bigint {
  let v = 0n;
  for (const b of group) v = (v << 8n) | BigInt(b);
  return v;
}

/** The "del" Redis raises after a command removed a collection's last element. */
export function notifyIfEmptied(ctx: CommandContext, key: Uint8Array, emptied: boolean): void {
  if (emptied) ctx.notify?.("g", "del", key);
}
