// A Redis value in its RDB object encoding (redis/src/rdb.c rdbSaveObject / rdbLoadObject): every form
// redis-server 7.0 writes or still reads for strings, lists, sets, sorted sets, hashes and streams.
import { check, RdbFormatError } from "./errors.ts";
import { writeIntset, readIntset } from "./intset.ts";
import { LISTPACK_EMPTY_BYTES, listpackEntryBytes, readListpack, writeListpack } from "./listpack.ts";
import { formatDouble } from "../resp/encoder.ts";
import type { RdbReader } from "./reader.ts";
import { byteText, decimal, parseDouble } from "./text.ts";
import { type RdbStream, readStream, writeStream } from "./stream.ts";
import type { RdbWriter } from "./writer.ts";
import { readZiplist } from "./ziplist.ts";
import { readZipmap } from "./zipmap.ts";

/** Object type bytes (redis/src/rdb.h RDB_TYPE_*). */
export const RDB_TYPE = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
} as const;

export interface ScoredMember {
  readonly member: Uint8Array;
  readonly score: number;
}

/**
 * A decoded value. `compact`: the collection is in Redis's compact encoding (intset for sets,
 * listpack for sorted sets and hashes). On load it is true for the compact forms whose elements
 * Redis takes as they are, re-checking only their number (redis/src/rdb.c rdbLoadObject); false for the
 * plain forms and the zipmap, whose every element it measures against the listpack limits.
 */
export type RdbValue =
  | { readonly type: "string"; readonly value: Uint8Array }
  | { readonly type: "list"; readonly items: readonly Uint8Array[] }
  | { readonly type: "set"; readonly members: readonly Uint8Array[]; readonly compact: boolean }
  | { readonly type: "zset"; readonly entries: readonly ScoredMember[]; readonly compact: boolean }
  | { readonly type: "hash"; readonly entries: readonly HashEntry[]; readonly compact: boolean }
  | RdbStream;

export type HashEntry = readonly [field: Uint8Array, value: Uint8Array];

/** Redis 7.0's stream-node-max-entries / -bytes: how a loaded stream is cut into nodes again. */
const STREAM_NODE_ENTRIES = 100;
const STREAM_NODE_BYTES = 4096;

/** Quicklist node containers (redis/src/quicklist.h). */
const NODE_PLAIN = 1;
const NODE_PACKED = 2;
/** Redis 7.0's default list-max-listpack-size -2: quicklist nodes up to 8 KB. */
const LIST_NODE_BYTES = 8192;
/** What Redis adds to an element's length when it estimates a node's growth (redis/src/quicklist.c). */
const NODE_ENTRY_OVERHEAD = 8;

export function readValue(type: number, r: RdbReader): RdbValue {
  switch (type) {
    case RDB_TYPE.STRING:
      return { type: "string", value: r.string() };
    case RDB_TYPE.LIST:
      return list(repeat(nonEmpty(r.length()), () => r.string()));
    case RDB_TYPE.LIST_ZIPLIST:
      return list(readZiplist(r.string()));
    case RDB_TYPE.LIST_QUICKLIST:
    case RDB_TYPE.LIST_QUICKLIST_2:
      return list(quicklist(r, type === RDB_TYPE.LIST_QUICKLIST_2));
    case RDB_TYPE.SET:
      return set(
        repeat(nonEmpty(r.length()), () => r.string()),
        false,
      );
    case RDB_TYPE.SET_INTSET:
      return set(readIntset(r.string()), true);
    case RDB_TYPE.ZSET:
    case RDB_TYPE.ZSET_2: {
      const n = nonEmpty(r.length());
      const text = type === RDB_TYPE.ZSET;
      return zset(
        repeat(n, () => ({ member: r.string(), score: text ? r.textDouble() : r.binaryDouble() })),
        false,
      );
    }
    case RDB_TYPE.ZSET_ZIPLIST:
      return zset(scored(readZiplist(r.string())), true);
    case RDB_TYPE.ZSET_LISTPACK:
      return zset(scored(readListpack(r.string())), true);
    case RDB_TYPE.HASH:
      return hash(
        repeat(nonEmpty(r.length()), () => [r.string(), r.string()] as const),
        false,
      );
    case RDB_TYPE.HASH_ZIPMAP:
      return hash(readZipmap(r.string()), false);
    case RDB_TYPE.HASH_ZIPLIST:
      return hash(pairs(readZiplist(r.string())), true);
    case RDB_TYPE.HASH_LISTPACK:
      return hash(pairs(readListpack(r.string())), true);
    case RDB_TYPE.STREAM_LISTPACKS:
    case RDB_TYPE.STREAM_LISTPACKS_2:
      return readStream(r, type === RDB_TYPE.STREAM_LISTPACKS_2, STREAM_NODE_ENTRIES, STREAM_NODE_BYTES);
    default:
      throw new RdbFormatError(`unknown or unsupported object type ${type}`);
  }
}

function repeat<T>(n: number, read: () => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(read());
  return out;
}

/** Redis refuses empty collections (rdbLoadObject's "emptykey"). */
function nonEmpty(n: number): number {
  check(n > 0, "empty collection");
  return n;
}

function quicklist(r: RdbReader, v2: boolean): Uint8Array[] {
  const items: Uint8Array[] = [];
  for (let nodes = nonEmpty(r.length()); nodes > 0; nodes--) {
    const container = v2 ? r.length() : NODE_PACKED;
    check(container === NODE_PLAIN || container === NODE_PACKED, `quicklist node container ${container}`);
    const data = r.string();
    check(data.length > 0, "empty quicklist node");
    if (container === NODE_PLAIN) items.push(data);
    else items.push(...(v2 ? readListpack(data) : readZiplist(data)));
  }
  return items;
}

function distinct(keys: readonly Uint8Array[], what: string): void {
  const seen = new Set<string>();
  for (const k of keys) {
    const s = byteText(k);
    check(!seen.has(s), `duplicate ${what}`);
    seen.add(s);
  }
}

function list(items: Uint8Array[]): RdbValue {
  check(items.length > 0, "empty list");
  return { type: "list", items };
}

function set(members: Uint8Array[], compact: boolean): RdbValue {
  check(members.length > 0, "empty set");
  distinct(members, "set members");
  return { type: "set", members, compact };
}

function zset(entries: ScoredMember[], compact: boolean): RdbValue {
  check(entries.length > 0, "empty sorted set");
  check(
    entries.every((e) => !Number.isNaN(e.score)),
    "sorted set with a NaN score",
  );
  distinct(
    entries.map((e) => e.member),
    "sorted set members",
  );
  return { type: "zset", entries, compact };
}

function hash(entries: HashEntry[], compact: boolean): RdbValue {
  check(entries.length > 0, "empty hash");
  distinct(
    entries.map((e) => e[0]),
    "hash fields",
  );
  return { type: "hash", entries, compact };
}

function pairs(flat: Uint8Array[]): HashEntry[] {
  check(flat.length % 2 === 0, "odd number of elements in a pair encoding");
  const out: HashEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function scored(flat: Uint8Array[]): ScoredMember[] {
  return pairs(flat).map(([member, score]) => ({ member, score: parseDouble(score) }));
}

/** Writes the type byte and the value in the encoding Redis 7.0 would choose for it. */
export function writeValue(v: RdbValue, w: RdbWriter): void {
  switch (v.type) {
    case "string":
      w.byte(RDB_TYPE.STRING);
      w.string(v.value);
      return;
    case "list":
      w.byte(RDB_TYPE.LIST_QUICKLIST_2);
      writeQuicklist(v.items, w);
      return;
    case "set": {
      const is = v.compact ? writeIntset(v.members) : undefined;
      if (is) {
        w.byte(RDB_TYPE.SET_INTSET);
        w.string(is);
        return;
      }
      w.byte(RDB_TYPE.SET);
      w.length(v.members.length);
      for (const m of v.members) w.string(m);
      return;
    }
    case "zset":
      if (v.compact) {
        w.byte(RDB_TYPE.ZSET_LISTPACK);
        w.string(writeListpack(v.entries.flatMap((e) => [e.member, scoreText(e.score)])));
        return;
      }
      w.byte(RDB_TYPE.ZSET_2);
      w.length(v.entries.length);
      // Highest score first, as Redis writes a skiplist: each insert on load lands at the head.
      for (let i = v.entries.length - 1; i >= 0; i--) {
        w.string(v.entries[i]!.member);
        w.binaryDouble(v.entries[i]!.score);
      }
      return;
    case "hash":
      if (v.compact) {
        w.byte(RDB_TYPE.HASH_LISTPACK);
        w.string(writeListpack(v.entries.flat()));
        return;
      }
      w.byte(RDB_TYPE.HASH);
      w.length(v.entries.length);
      for (const [f, val] of v.entries) {
        w.string(f);
        w.string(val);
      }
      return;
    case "stream":
      w.byte(RDB_TYPE.STREAM_LISTPACKS_2);
      writeStream(v, w);
  }
}

function writeQuicklist(items: readonly Uint8Array[], w: RdbWriter): void {
  const nodes: Uint8Array[][] = [];
  let node: Uint8Array[] = [];
  let bytes = LISTPACK_EMPTY_BYTES;
  for (const item of items) {
    // Redis's rule for appending to the tail node, so the nodes come out as Redis would make them.
    if (node.length > 0 && bytes + item.length + NODE_ENTRY_OVERHEAD > LIST_NODE_BYTES) {
      nodes.push(node);
      node = [];
      bytes = LISTPACK_EMPTY_BYTES;
    }
    node.push(item);
    bytes += listpackEntryBytes(item);
  }
  if (node.length > 0) nodes.push(node);
  w.length(nodes.length);
  for (const n of nodes) {
    w.length(NODE_PACKED);
    w.string(writeListpack(n));
  }
}

const encoder = new TextEncoder();
/** Integral doubles up to this magnitude are printed as integers (redis/src/util.c double2ll). */
const INTEGRAL_LIMIT = 2 ** 62;

/** A score as Redis 7.0 puts it in a listpack (redis/src/util.c d2string): an integer, or %.17g. */
function scoreText(x: number): Uint8Array {
  if (x !== 0 && Number.isInteger(x) && Math.abs(x) <= INTEGRAL_LIMIT) return decimal(BigInt(x));
  return encoder.encode(formatDouble(x));
}
