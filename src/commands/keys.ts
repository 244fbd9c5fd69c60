// Generic keyspace commands (Redis's "generic" group): they work on keys of every type.
import { array, bulk, bulkArray, bulkOrNull, err, int, OK, ONE, ZERO, simple, type Reply } from "../resp/reply.ts";
import { ONE_SLOT, type ClusterTips } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext, KeyType } from "./types.ts";
import { bytesEqual, E, globMatch, INT64_MAX, INT64_MIN, lower, parseInt64, parseIntArg, str, utf8 } from "./util.ts";
import { databaseArg } from "./databases.ts";

/** The internal op that deletes expired keys; apply's reply counts them (INFO expired_keys). */
export const EXPIRE_COMMAND = "__expire";

export const KEY_TYPES: readonly KeyType[] = ["string", "hash", "list", "set", "zset", "stream"];

function del(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (!ctx.db.delete(argv[i]!, ctx.now)) continue;
    n++;
    ctx.notify?.("g", "del", argv[i]!);
  }
  return int(n);
}

const EXPIRE_FLAGS = ["nx", "xx", "gt", "lt"] as const;

function expire(unit: "s" | "ms", absolute: boolean, name: string) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const flags = new Set<string>();
    for (const a of argv.slice(3)) {
      const f = lower(a);
      if (!(EXPIRE_FLAGS as readonly string[]).includes(f)) return err(`ERR Unsupported option ${str(a)}`);
      flags.add(f);
    }
    if (flags.has("nx") && (flags.has("xx") || flags.has("gt") || flags.has("lt"))) {
      return err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (flags.has("gt") && flags.has("lt")) return err("ERR GT and LT options at the same time are not compatible");
    const v = parseInt64(argv[2]!);
    if (v === undefined) return E.notInt;
    let when = v;
    if (unit === "s") {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return E.expireTime(name);
      when *= 1000n;
    }
    const base = absolute ? 0n : BigInt(ctx.now);
    if (when > INT64_MAX - base) return E.expireTime(name);
    when += base;
    const key = argv[1]!;
    const meta = ctx.db.meta(key, ctx.now);
    if (!meta) return ZERO;
    const cur = meta.expireAt;
    if (flags.has("nx") && cur !== null) return ZERO;
    if (flags.has("xx") && cur === null) return ZERO;
    if (flags.has("gt") && (cur === null || when <= BigInt(cur))) return ZERO;
    if (flags.has("lt") && cur !== null && when >= BigInt(cur)) return ZERO;
    const gone = when <= BigInt(ctx.now);
    if (gone) ctx.db.delete(key, ctx.now);
    else ctx.db.setExpireAt(key, Number(when));
    ctx.notify?.("g", gone ? "del" : "expire", key);
    return ONE;
  };
}

function ttl(ms: boolean, absolute: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const meta = ctx.db.meta(argv[1]!, ctx.now);
    if (!meta) return int(-2);
    if (meta.expireAt === null) return int(-1);
    const t = Math.max(0, absolute ? meta.expireAt : meta.expireAt - ctx.now);
    return int(ms ? t : Math.floor((t + 500) / 1000));
  };
}

function rename(nx: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const [, src, dst] = argv as [Uint8Array, Uint8Array, Uint8Array];
    if (!ctx.db.meta(src, ctx.now)) return E.noSuchKey;
    if (bytesEqual(src, dst)) return nx ? ZERO : OK;
    if (nx && ctx.db.meta(dst, ctx.now)) return ZERO;
    ctx.db.rename(src, dst, ctx.now);
    ctx.notify?.("n", "new", dst);
    ctx.notify?.("g", "rename_from", src);
    ctx.notify?.("g", "rename_to", dst);
    return nx ? ONE : OK;
  };
}

function copy(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, src, dst] = argv as [Uint8Array, Uint8Array, Uint8Array];
  let replace = false;
  let to = ctx.db;
  for (let i = 3; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "replace") replace = true;
    else if (opt === "db" && i + 1 < argv.length) {
      const db = databaseArg(ctx.db, argv[++i]!);
      if ("t" in db) return db;
      to = db;
    } else return E.syntax;
  }
  if (to.index === ctx.db.index && bytesEqual(src, dst)) return err("ERR source and destination objects are the same");
  if (!ctx.db.meta(src, ctx.now)) return ZERO;
  if (to.meta(dst, ctx.now)) {
    if (!replace) return ZERO;
  }
  ctx.db.copy(src, dst, ctx.now, to.index);
  ctx.notify?.("n", "new", dst, to.index);
  ctx.notify?.("g", "copy_to", dst, to.index);
  return ONE;
}

/** Parses SCAN-style options shared by SCAN, HSCAN, SSCAN and ZSCAN. */
export function parseScanOptions(
  argv: readonly Uint8Array[],
  from: number,
  allowType: boolean,
): { match?: Uint8Array; count: number; type?: string } | Reply {
  let match: Uint8Array | undefined;
  let count = 10;
  let type: string | undefined;
  for (let i = from; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (i + 1 >= argv.length) return E.syntax;
    const v = argv[++i]!;
    if (opt === "match") match = v;
    else if (opt === "count") {
      const n = parseIntArg(v);
      if (n === undefined) return E.notInt;
      if (n < 1) return E.syntax;
      count = n;
    } else if (opt === "type" && allowType) type = lower(v);
    else return E.syntax;
  }
  return { match, count, type };
}

const CURSOR_SPACE = 2n ** 64n;

/**
 * Redis's SCAN cursor, read with strtoul as Redis does: an optional sign (a negative cursor wraps
 * around), leading zeros allowed, "" is 0; a leading space, trailing bytes or overflow is invalid.
 */
export function parseCursor(b: Uint8Array): number | undefined {
  const v = parseCursor64(b);
  return v === undefined ? undefined : Number(v);
}

/** parseCursor without the loss of precision above 2^53 (HSCAN/SSCAN/ZSCAN cursors use all 64 bits). */
export function parseCursor64(b: Uint8Array): bigint | undefined {
  if (b.length === 0) return 0n;
  const m = /^([+-]?)(\d+)$/.exec(String.fromCharCode(...b.subarray(0, 4096)));
  if (!m || b.length > 4096) return undefined;
  const v = BigInt(m[2]!);
  if (v >= CURSOR_SPACE) return undefined;
  return m[1] === "-" ? (CURSOR_SPACE - v) % CURSOR_SPACE : v;
}

function scan(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const cursor = parseCursor(argv[1]!);
  if (cursor === undefined) return E.invalidCursor;
  const opts = parseScanOptions(argv, 2, true);
  if ("t" in opts) return opts;
  // Unknown TYPE names match nothing, as in Redis 7.0.
  const type =
    opts.type === undefined
      ? undefined
      : (KEY_TYPES as readonly string[]).includes(opts.type)
        ? (opts.type as KeyType)
        : null;
  if (type === null) {
    const r = ctx.db.scan(cursor, opts.count, ctx.now);
    return array([bulk(String(r.cursor)), array([])]);
  }
  const r = ctx.db.scan(cursor, opts.count, ctx.now, type);
  const keys = opts.match ? r.keys.filter((k) => globMatch(opts.match!, k)) : r.keys;
  return array([bulk(String(r.cursor)), bulkArray(keys)]);
}

function keys(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const pattern = argv[1]!;
  const all = pattern.length === 1 && pattern[0] === 0x2a;
  const out: Uint8Array[] = [];
  let cursor = 0;
  do {
    const r = ctx.db.scan(cursor, 1000, ctx.now);
    for (const k of r.keys) if (all || globMatch(pattern, k)) out.push(k);
    cursor = r.cursor;
  } while (cursor !== 0);
  return bulkArray(out);
}

/** FLUSHDB/FLUSHALL take an optional SYNC or ASYNC; a cluster checks this before fanning out. */
export function flushArgsError(argv: readonly Uint8Array[]): Reply | undefined {
  if (argv.length > 2) return E.syntax;
  if (argv.length === 2 && !["sync", "async"].includes(lower(argv[1]!))) return E.syntax;
  return undefined;
}

function flush(all: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const bad = flushArgsError(argv);
    if (bad) return bad;
    if (all) ctx.db.flushAll();
    else ctx.db.flush();
    return OK;
  };
}

/**
 * The mode argument is checked once; each partition's __flushpart gets its number (and ALL for
 * FLUSHALL; FLUSHDB flushes the op's database).
 */
function flushEveryPartition(all: boolean): ClusterTips {
  return {
    request: "all_shards",
    via: "__flushpart",
    response: "all_succeeded",
    partArgs: (argv) => flushArgsError(argv) ?? (all ? [utf8("all")] : []),
  };
}

export const KEY_COMMANDS = define("generic", [
  {
    name: "del",
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    keyFlags: "RM delete",
    summary: "Deletes one or more keys.",
    run: del,
    cluster: { request: "multi_shard", response: "agg_sum" },
  },
  {
    name: "unlink",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: -1, step: 1 },
    since: "4.0.0",
    keyFlags: "RM delete",
    summary: "Asynchronously deletes one or more keys.",
    run: del,
    cluster: { request: "multi_shard", response: "agg_sum" },
  },
  {
    name: "exists",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    keyFlags: "RO",
    summary: "Determines whether one or more keys exist.",
    run: (ctx, argv) => {
      let n = 0;
      for (let i = 1; i < argv.length; i++) if (ctx.db.meta(argv[i]!, ctx.now)) n++;
      return int(n);
    },
    cluster: { request: "multi_shard", response: "agg_sum" },
  },
  {
    name: "type",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RO",
    summary: "Determines the type of value stored at a key.",
    run: (ctx, argv) => simple(ctx.db.meta(argv[1]!, ctx.now)?.type ?? "none"),
  },
  {
    name: "rename",
    arity: 3,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "1.0.0",
    keyFlags: ["RW access delete", "OW update"],
    summary: "Renames a key and overwrites the destination.",
    run: rename(false),
    cluster: ONE_SLOT,
  },
  {
    name: "renamenx",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 2, step: 1 },
    since: "1.0.0",
    keyFlags: ["RW access delete", "OW insert"],
    summary: "Renames a key only when the target key name doesn't exist.",
    run: rename(true),
    cluster: ONE_SLOT,
  },
  {
    name: "copy",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: 2, step: 1 },
    since: "6.2.0",
    keyFlags: ["RO access", "OW update"],
    summary: "Copies the value of a key to a new key.",
    run: copy,
    cluster: ONE_SLOT,
  },
  {
    name: "expire",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Sets the expiration time of a key in seconds.",
    run: expire("s", false, "expire"),
  },
  {
    name: "pexpire",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Sets the expiration time of a key in milliseconds.",
    run: expire("ms", false, "pexpire"),
  },
  {
    name: "expireat",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.2.0",
    summary: "Sets the expiration time of a key to a Unix timestamp.",
    run: expire("s", true, "expireat"),
  },
  {
    name: "pexpireat",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    run: expire("ms", true, "pexpireat"),
  },
  {
    name: "ttl",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns the expiration time in seconds of a key.",
    run: ttl(false, false),
  },
  {
    name: "pttl",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Returns the expiration time in milliseconds of a key.",
    run: ttl(true, false),
  },
  {
    name: "expiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "7.0.0",
    summary: "Returns the expiration time of a key as a Unix timestamp.",
    run: ttl(false, true),
  },
  {
    name: "pexpiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "7.0.0",
    summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    run: ttl(true, true),
  },
  {
    name: "persist",
    arity: 2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    summary: "Removes the expiration time of a key.",
    run: (ctx, argv) => {
      const meta = ctx.db.meta(argv[1]!, ctx.now);
      if (!meta || meta.expireAt === null) return ZERO;
      ctx.db.setExpireAt(argv[1]!, null);
      ctx.notify?.("g", "persist", argv[1]!);
      return ONE;
    },
  },
  {
    name: "keys",
    arity: 2,
    flags: ["readonly"],
    since: "1.0.0",
    summary: "Returns all key names that match a pattern.",
    run: keys,
    cluster: { request: "all_shards", via: "__keyspart", response: "concat" },
  },
  {
    name: "scan",
    arity: -2,
    flags: ["readonly"],
    since: "2.8.0",
    summary: "Iterates over the key names in the database.",
    run: scan,
    cluster: { request: "special", via: "__scanpart", handler: "scan_cursor" },
  },
  {
    name: "randomkey",
    arity: 1,
    flags: ["readonly", "random"],
    since: "1.0.0",
    summary: "Returns a random key name from the database.",
    run: (ctx) => bulkOrNull(ctx.db.randomKey(ctx.now, ctx.random())),
    cluster: { request: "all_shards", via: "__randomkeypart", response: { special: "random_key" } },
  },
  {
    name: "dbsize",
    arity: 1,
    flags: ["readonly", "fast"],
    since: "1.0.0",
    summary: "Returns the number of keys in the database.",
    run: (ctx) => int(ctx.db.count(ctx.now)),
    cluster: { request: "all_shards", via: "__dbsizepart", response: { special: "key_count" } },
  },
  {
    name: "flushdb",
    arity: -1,
    flags: ["write"],
    since: "1.0.0",
    summary: "Removes all keys from the current database.",
    run: flush(false),
    cluster: flushEveryPartition(false),
  },
  {
    name: "flushall",
    arity: -1,
    flags: ["write"],
    since: "1.0.0",
    summary: "Removes all keys from all databases.",
    run: flush(true),
    cluster: flushEveryPartition(true),
  },
  // Internal: the active-expiry sweep (and a read that met an expired key) proposes this so deletions travel through the log and every
  // replica removes the same keys (a key whose TTL was extended meanwhile survives).
  {
    name: EXPIRE_COMMAND,
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "0.1.0",
    summary: "Internal: removes the given keys if they are expired at the op's time.",
    run: (ctx, argv) => {
      let n = 0;
      for (let i = 1; i < argv.length; i++) {
        if (!ctx.db.deleteIfExpired(argv[i]!, ctx.now)) continue;
        n++;
        ctx.notify?.("x", "expired", argv[i]!);
      }
      return int(n);
    },
    cluster: ONE_SLOT,
  },
]);
