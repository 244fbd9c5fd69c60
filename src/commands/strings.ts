// String commands with Redis 7's replies and error texts.
import { bulk, bulkOrNull, int, NULL_BULK, OK, ONE, ZERO, array, type Reply } from "../resp/reply.ts";
import { addLongDouble, formatLongDouble, INFINITY_RE, parseLongDouble } from "./longdouble.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import { WRONG_TYPE, type CommandContext, type Keyspace } from "./types.ts";
import { concatBytes, E, INT64_MAX, INT64_MIN, lower, parseInt64, utf8 } from "./util.ts";
import { err } from "../resp/reply.ts";

/** Redis's proto-max-bulk-len default: no string may grow beyond it. */
export const MAX_STRING = 512 * 1024 * 1024;
const TOO_BIG = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

/**
 * Resolves EX/PX/EXAT/PXAT to an absolute ms time against `now` (carried in the op, so every
 * replica computes the same instant), with Redis's overflow and "<= 0" checks.
 */
export function expiryFrom(unit: string, arg: Uint8Array, now: number, cmd: string): { at: number } | Reply {
  const v = parseInt64(arg);
  if (v === undefined) return E.notInt;
  const seconds = unit === "ex" || unit === "exat";
  if (v <= 0n || (seconds && v > INT64_MAX / 1000n)) return E.expireTime(cmd);
  let ms = seconds ? v * 1000n : v;
  if (unit === "ex" || unit === "px") {
    if (ms > INT64_MAX - BigInt(now)) return E.expireTime(cmd);
    ms += BigInt(now);
  }
  return { at: Number(ms) };
}

const isReply = (x: unknown): x is Reply => typeof x === "object" && x !== null && "t" in x;

/** The key's string value, undefined when absent, or WRONGTYPE. */
export function readString(db: Keyspace, key: Uint8Array, now: number): Uint8Array | undefined | Reply {
  const v = db.getString(key, now);
  return v === WRONG_TYPE ? E.wrongType : v;
}

interface StringOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  persist: boolean;
  /** EX/PX/EXAT/PXAT and its unvalidated argument: Redis reports syntax errors before bad times. */
  expire?: { unit: "ex" | "px" | "exat" | "pxat"; arg: Uint8Array };
}

/**
 * SET and GETEX options exactly as Redis's parseExtendedStringArgumentsOrReply accepts them:
 * repeats of the same option are allowed (the last EX wins), only conflicting ones are a syntax error.
 */
function parseStringOptions(argv: readonly Uint8Array[], command: "set" | "getex"): StringOptions | Reply {
  const o: StringOptions = { nx: false, xx: false, get: false, keepTtl: false, persist: false };
  const isSet = command === "set";
  for (let i = isSet ? 3 : 2; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    const hasNext = i + 1 < argv.length;
    const unit = o.expire?.unit;
    if (opt === "nx" && isSet && !o.xx) o.nx = true;
    else if (opt === "xx" && isSet && !o.nx) o.xx = true;
    else if (opt === "get" && isSet) o.get = true;
    else if (opt === "keepttl" && isSet && !o.persist && unit === undefined) o.keepTtl = true;
    else if (opt === "persist" && !isSet && unit === undefined && !o.keepTtl) o.persist = true;
    else if (
      (opt === "ex" || opt === "px" || opt === "exat" || opt === "pxat") &&
      hasNext &&
      !o.keepTtl &&
      !o.persist &&
      (unit === undefined || unit === opt)
    ) {
      o.expire = { unit: opt, arg: argv[++i]! };
    } else return E.syntax;
  }
  return o;
}

function set(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const o = parseStringOptions(argv, "set");
  if (isReply(o)) return o;
  let expireAt: number | null = null;
  if (o.expire) {
    const r = expiryFrom(o.expire.unit, o.expire.arg, ctx.now, "set");
    if (isReply(r)) return r;
    expireAt = r.at;
  }
  const [, key, value] = argv as [Uint8Array, Uint8Array, Uint8Array];
  let old: Reply | undefined;
  if (o.get) {
    const prev = readString(ctx.db, key, ctx.now);
    if (isReply(prev)) return prev;
    old = bulkOrNull(prev);
  }
  // A plain SET needs nothing of the old key: skipping the lookup saves a query per SET.
  const meta = o.nx || o.xx || o.keepTtl ? ctx.db.meta(key, ctx.now) : undefined;
  if ((o.nx && meta) || (o.xx && !meta)) return old ?? NULL_BULK;
  ctx.db.setString(key, value, o.keepTtl ? (meta?.expireAt ?? null) : expireAt);
  ctx.notify?.("$", "set", key);
  if (expireAt !== null) ctx.notify?.("g", "expire", key);
  return old ?? OK;
}

function getex(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const o = parseStringOptions(argv, "getex");
  if (isReply(o)) return o;
  const key = argv[1]!;
  // Redis looks the key up (nil, WRONGTYPE) before it validates the expire time.
  const v = readString(ctx.db, key, ctx.now);
  if (v === undefined || isReply(v)) return v ?? NULL_BULK;
  if (o.expire) {
    const r = expiryFrom(o.expire.unit, o.expire.arg, ctx.now, "getex");
    if (isReply(r)) return r;
    const gone = r.at <= ctx.now;
    if (gone) ctx.db.delete(key, ctx.now);
    else ctx.db.setExpireAt(key, r.at);
    ctx.notify?.("g", gone ? "del" : "expire", key);
  } else if (o.persist && ctx.db.meta(key, ctx.now)?.expireAt != null) {
    ctx.db.setExpireAt(key, null);
    ctx.notify?.("g", "persist", key);
  }
  return bulk(v);
}

function setWithTtl(unit: "ex" | "px", name: string) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const r = expiryFrom(unit, argv[2]!, ctx.now, name);
    if (isReply(r)) return r;
    ctx.db.setString(argv[1]!, argv[3]!, r.at);
    ctx.notify?.("$", "set", argv[1]!);
    ctx.notify?.("g", "expire", argv[1]!);
    return OK;
  };
}

function incrBy(ctx: CommandContext, key: Uint8Array, delta: bigint): Reply {
  const cur = readString(ctx.db, key, ctx.now);
  if (isReply(cur)) return cur;
  let n = 0n;
  if (cur !== undefined) {
    const parsed = parseInt64(cur);
    if (parsed === undefined) return E.notInt;
    n = parsed;
  }
  const next = n + delta;
  if (next > INT64_MAX || next < INT64_MIN) return E.overflow;
  ctx.db.updateString(key, utf8(next.toString()), ctx.now);
  ctx.notify?.("$", "incrby", key);
  return int(next >= BigInt(Number.MIN_SAFE_INTEGER) && next <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(next) : next);
}

function incrArg(argv: readonly Uint8Array[], negate: boolean): bigint | Reply {
  const d = parseInt64(argv[2]!);
  if (d === undefined) return E.notInt;
  if (negate && d === INT64_MIN) return err("ERR decrement would overflow");
  return negate ? -d : d;
}

/** string2ld's buffer: longer text is never a valid float. */
const MAX_LONG_DOUBLE_CHARS = 5 * 1024;

/** Shared by INCRBYFLOAT and HINCRBYFLOAT: Redis's long double arithmetic and formatting. */
export function addFloatText(current: Uint8Array | undefined, incr: Uint8Array): string | Reply {
  // Redis parses the stored value first, then the increment, and only then looks at the sum.
  const texts = [current === undefined ? "0" : floatText(current), floatText(incr)];
  const parsed = texts.map((t) => (t === undefined ? undefined : parseLongDouble(t)));
  for (let i = 0; i < 2; i++) if (!parsed[i] && !INFINITY_RE.test(texts[i] ?? "")) return E.notFloat;
  const sum = parsed[0] && parsed[1] ? addLongDouble(parsed[0], parsed[1]) : undefined;
  return sum ? formatLongDouble(sum) : err("ERR increment would produce NaN or Infinity");
}

function floatText(b: Uint8Array): string | undefined {
  return b.length === 0 || b.length >= MAX_LONG_DOUBLE_CHARS ? undefined : String.fromCharCode(...b);
}

function incrByFloat(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const cur = readString(ctx.db, key, ctx.now);
  if (isReply(cur)) return cur;
  const text = addFloatText(cur, argv[2]!);
  if (typeof text !== "string") return text;
  // Redis makes a new string object of the formatted sum, never an integer one.
  ctx.db.updateString(key, utf8(text), ctx.now, "plain");
  ctx.notify?.("$", "incrbyfloat", key);
  return bulk(text);
}

function getrange(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const s0 = parseInt64(argv[2]!);
  const e0 = parseInt64(argv[3]!);
  if (s0 === undefined || e0 === undefined) return E.notInt;
  const v = readString(ctx.db, argv[1]!, ctx.now);
  if (isReply(v)) return v;
  const s = v ?? new Uint8Array(0);
  const len = BigInt(s.length);
  let start = s0;
  let end = e0;
  if (start < 0n && end < 0n && start > end) return bulk("");
  if (start < 0n) start += len;
  if (end < 0n) end += len;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= len) end = len - 1n;
  if (start > end || len === 0n) return bulk("");
  return bulk(s.subarray(Number(start), Number(end) + 1));
}

function setrange(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, key, offArg, value] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const off = parseInt64(offArg);
  if (off === undefined) return E.notInt;
  if (off < 0n) return err("ERR offset is out of range");
  const cur = readString(ctx.db, key, ctx.now);
  if (isReply(cur)) return cur;
  if (value.length === 0) return int(cur?.length ?? 0);
  if (off + BigInt(value.length) > BigInt(MAX_STRING)) return TOO_BIG;
  const o = Number(off);
  const base = cur ?? new Uint8Array(0);
  const out = new Uint8Array(Math.max(base.length, o + value.length));
  out.set(base, 0);
  out.set(value, o);
  ctx.db.updateString(key, out, ctx.now, "raw");
  ctx.notify?.("$", "setrange", key);
  return int(out.length);
}

function append(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const cur = readString(ctx.db, key, ctx.now);
  if (isReply(cur)) return cur;
  if (cur && cur.length + argv[2]!.length > MAX_STRING) return TOO_BIG;
  const next = cur ? concatBytes(cur, argv[2]!) : argv[2]!;
  // Redis stores a new key's value as SET does and edits an existing one in place (raw).
  ctx.db.updateString(key, next, ctx.now, cur ? "raw" : "encoded");
  ctx.notify?.("$", "append", key);
  return int(next.length);
}

function mset(ctx: CommandContext, argv: readonly Uint8Array[], onlyIfNone: boolean, name: string): Reply {
  if (argv.length % 2 === 0) return E.arity(name);
  if (onlyIfNone) for (let i = 1; i < argv.length; i += 2) if (ctx.db.meta(argv[i]!, ctx.now)) return ZERO;
  for (let i = 1; i < argv.length; i += 2) {
    ctx.db.setString(argv[i]!, argv[i + 1]!, null);
    ctx.notify?.("$", "set", argv[i]!);
  }
  return onlyIfNone ? ONE : OK;
}

export const STRING_COMMANDS = define("string", [
  {
    name: "get",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns the string value of a key.",
    run: (ctx, argv) => {
      const v = readString(ctx.db, argv[1]!, ctx.now);
      return isReply(v) ? v : bulkOrNull(v);
    },
  },
  {
    name: "set",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: {
      spec: "RW access update variable_flags",
      notes: "RW and ACCESS due to the optional `GET` argument",
      call: (argv) => (argv.slice(3).some((a) => lower(a) === "get") ? "RW access update" : "OW update"),
    },
    summary: "Sets the string value of a key, ignoring its type, with optional expiry and conditions.",
    run: set,
  },
  {
    name: "setnx",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "OW insert",
    summary: "Sets the string value of a key only when the key doesn't exist.",
    run: (ctx, argv) => {
      if (ctx.db.meta(argv[1]!, ctx.now)) return ZERO;
      ctx.db.setString(argv[1]!, argv[2]!, null);
      ctx.notify?.("$", "set", argv[1]!);
      return ONE;
    },
  },
  {
    name: "setex",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "OW update",
    summary: "Sets the string value and expiration time (seconds) of a key.",
    run: setWithTtl("ex", "setex"),
  },
  {
    name: "psetex",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    keyFlags: "OW update",
    summary: "Sets the string value and expiration time (milliseconds) of a key.",
    run: setWithTtl("px", "psetex"),
  },
  {
    name: "getex",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    keyFlags: "RW access update",
    summary: "Returns the string value of a key after setting its expiration time.",
    run: getex,
  },
  {
    name: "getdel",
    arity: 2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    keyFlags: "RW access delete",
    summary: "Returns the string value of a key after deleting the key.",
    run: (ctx, argv) => {
      const v = readString(ctx.db, argv[1]!, ctx.now);
      if (v === undefined || isReply(v)) return v ?? NULL_BULK;
      ctx.db.delete(argv[1]!, ctx.now);
      ctx.notify?.("g", "del", argv[1]!);
      return bulk(v);
    },
  },
  {
    name: "getset",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Returns the previous string value of a key after setting it to a new value.",
    run: (ctx, argv) => {
      const v = readString(ctx.db, argv[1]!, ctx.now);
      if (isReply(v)) return v;
      ctx.db.setString(argv[1]!, argv[2]!, null);
      ctx.notify?.("$", "set", argv[1]!);
      return bulkOrNull(v);
    },
  },
  {
    name: "mget",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: -1, step: 1 },
    since: "1.0.0",
    summary: "Returns the string values of one or more keys; atomically when they share a partition.",
    run: (ctx, argv) =>
      array(
        argv.slice(1).map((k) => {
          const v = ctx.db.getString(k, ctx.now);
          return v === WRONG_TYPE ? NULL_BULK : bulkOrNull(v);
        }),
      ),
    cluster: { request: "multi_shard", response: "concat" },
  },
  {
    name: "mset",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 2 },
    since: "1.0.1",
    keyFlags: "OW update",
    summary: "Creates or modifies the string values of one or more keys; atomically when they share a partition.",
    run: (ctx, argv) => mset(ctx, argv, false, "mset"),
    cluster: { request: "multi_shard", response: "all_succeeded" },
  },
  {
    name: "msetnx",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 2 },
    since: "1.0.1",
    keyFlags: "OW insert",
    summary: "Atomically sets the values of keys only when none of the keys exist.",
    run: (ctx, argv) => mset(ctx, argv, true, "msetnx"),
    cluster: ONE_SLOT,
  },
  {
    name: "append",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.0.0",
    keyFlags: "RW insert",
    summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
    run: append,
  },
  {
    name: "strlen",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    keyFlags: "RO",
    summary: "Returns the length of a string value.",
    run: (ctx, argv) => {
      const v = readString(ctx.db, argv[1]!, ctx.now);
      return isReply(v) ? v : int(v?.length ?? 0);
    },
  },
  {
    name: "getrange",
    arity: 4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.4.0",
    summary: "Returns a substring of the string stored at a key.",
    run: getrange,
  },
  {
    name: "substr",
    arity: 4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    summary: "Returns a substring from a string value (GETRANGE's old name).",
    run: getrange,
  },
  {
    name: "setrange",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
    run: setrange,
  },
  {
    name: "incr",
    arity: 2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Increments the integer value of a key by one.",
    run: (ctx, argv) => incrBy(ctx, argv[1]!, 1n),
  },
  {
    name: "decr",
    arity: 2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Decrements the integer value of a key by one.",
    run: (ctx, argv) => incrBy(ctx, argv[1]!, -1n),
  },
  {
    name: "incrby",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Increments the integer value of a key by a number.",
    run: (ctx, argv) => {
      const d = incrArg(argv, false);
      return isReply(d) ? d : incrBy(ctx, argv[1]!, d);
    },
  },
  {
    name: "decrby",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Decrements a number from the integer value of a key.",
    run: (ctx, argv) => {
      const d = incrArg(argv, true);
      return isReply(d) ? d : incrBy(ctx, argv[1]!, d);
    },
  },
  {
    name: "incrbyfloat",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    keyFlags: "RW access update",
    summary: "Increment the floating point value of a key by a number.",
    run: incrByFloat,
  },
]);
