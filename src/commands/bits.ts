// Bitmap commands over string values (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD), with
// Redis 7.0's argument order, error texts and edge cases (see src/bitops.c of redis 7.0).
// Bit 0 is the most significant bit of the first byte; reads past the end see zero bits.
import { array, err, int, NULL_BULK, ONE, ZERO, type Reply } from "../resp/reply.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { isReply } from "./collection.ts";
import { define } from "./define.ts";
import { MAX_STRING, readString } from "./strings.ts";
import { WRONG_TYPE, type CommandContext } from "./types.ts";
import { E, lower, parseInt64 } from "./util.ts";

const BAD_OFFSET = err("ERR bit offset is not an integer or out of range");
const BAD_BIT = err("ERR bit is not an integer or out of range");
const BAD_TYPE = err(
  "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/**
 * A bit offset below proto-max-bulk-len bytes. With `widthForHash`, "#n" means the n-th field
 * of that width (BITFIELD's form).
 */
function parseBitOffset(arg: Uint8Array, widthForHash = 0): number | Reply {
  const hash = widthForHash > 0 && arg[0] === 0x23;
  const v = parseInt64(hash ? arg.subarray(1) : arg);
  if (v === undefined) return BAD_OFFSET;
  const off = hash ? v * BigInt(widthForHash) : v;
  return off < 0n || off >> 3n >= BigInt(MAX_STRING) ? BAD_OFFSET : Number(off);
}

const bitAt = (s: Uint8Array, off: number): number => ((s[off >> 3] ?? 0) >> (7 - (off & 7))) & 1;

/** The key's string grown with zero bytes to hold bit `maxBit`, as a private copy; `grown` when it changed length. */
function writableString(
  ctx: CommandContext,
  key: Uint8Array,
  maxBit: number,
): { s: Uint8Array; grown: boolean } | Reply {
  const cur = readString(ctx.db, key, ctx.now);
  if (isReply(cur)) return cur;
  const need = (maxBit >> 3) + 1;
  const s = new Uint8Array(Math.max(cur?.length ?? 0, need));
  if (cur) s.set(cur);
  return { s, grown: cur === undefined || cur.length < need };
}

function setbit(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const off = parseBitOffset(argv[2]!);
  if (isReply(off)) return off;
  const on = parseInt64(argv[3]!);
  if (on !== 0n && on !== 1n) return BAD_BIT;
  const w = writableString(ctx, argv[1]!, off);
  if (isReply(w)) return w;
  const old = bitAt(w.s, off);
  // Redis leaves an unchanged key alone: no write, so WATCH and the op's version are not touched.
  if (w.grown || old !== Number(on)) {
    const mask = 1 << (7 - (off & 7));
    w.s[off >> 3] = on ? w.s[off >> 3]! | mask : w.s[off >> 3]! & ~mask;
    ctx.db.updateString(argv[1]!, w.s, ctx.now, "raw");
    ctx.notify?.("$", "setbit", argv[1]!);
  } else ctx.db.setStringForm(argv[1]!, "raw");
  return old ? ONE : ZERO;
}

/** Bytes from..to (inclusive) of the key's string, read without the rest of it; empty when absent. */
function readBytes(ctx: CommandContext, key: Uint8Array, from: number, to: number): Uint8Array | Reply {
  const slice = ctx.db.getStringRange(key, from, to - from + 1, ctx.now);
  if (slice === WRONG_TYPE) return E.wrongType;
  return slice?.bytes ?? new Uint8Array(0);
}

function getbit(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const off = parseBitOffset(argv[2]!);
  if (isReply(off)) return off;
  const b = readBytes(ctx, argv[1]!, off >> 3, off >> 3);
  if (isReply(b)) return b;
  return bitAt(b, off & 7) ? ONE : ZERO;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
});

/** Set bits in the inclusive bit range [from, to]. */
function countBits(s: Uint8Array, from: number, to: number): number {
  let n = 0;
  let i = from;
  for (; i <= to && (i & 7) !== 0; i++) n += bitAt(s, i);
  for (; i + 7 <= to; i += 8) n += POPCOUNT[s[i >> 3]!]!;
  for (; i <= to; i++) n += bitAt(s, i);
  return n;
}

/** The first bit equal to `bit` in the inclusive bit range [from, to], or -1. */
function findBit(s: Uint8Array, bit: number, from: number, to: number): number {
  const skip = bit ? 0x00 : 0xff;
  let i = from;
  while (i <= to) {
    if ((i & 7) === 0 && i + 7 <= to && s[i >> 3] === skip) i += 8;
    else if (bitAt(s, i) === bit) return i;
    else i++;
  }
  return -1;
}

/** Parses BIT|BYTE the way BITCOUNT and BITPOS do (case-insensitive, else a syntax error). */
function isBitUnit(arg: Uint8Array | undefined): boolean | Reply {
  if (arg === undefined) return false;
  const u = lower(arg);
  return u === "bit" ? true : u === "byte" ? false : E.syntax;
}

/**
 * Redis's start/end rules: negative counts from the end, both clamped into the string, then
 * turned into an inclusive bit range; undefined when it is empty.
 */
function bitRange(start: bigint, end: bigint, len: number, bits: boolean): { from: number; to: number } | undefined {
  const total = BigInt(bits ? len * 8 : len);
  if (start < 0n) start += total;
  if (end < 0n) end += total;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= total) end = total - 1n;
  if (start > end) return undefined;
  return bits ? { from: Number(start), to: Number(end) } : { from: Number(start) * 8, to: Number(end) * 8 + 7 };
}

function bitcount(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const s = readString(ctx.db, argv[1]!, ctx.now);
  if (isReply(s)) return s;
  // Redis answers 0 for a missing key before it looks at the arguments.
  if (s === undefined) return ZERO;
  if (argv.length === 2) return int(countBits(s, 0, s.length * 8 - 1));
  if (argv.length === 3 || argv.length > 5) return E.syntax;
  const start = parseInt64(argv[2]!);
  if (start === undefined) return E.notInt;
  const end = parseInt64(argv[3]!);
  if (end === undefined) return E.notInt;
  if (start < 0n && end < 0n && start > end) return ZERO;
  const bits = isBitUnit(argv[4]);
  if (isReply(bits)) return bits;
  const r = bitRange(start, end, s.length, bits);
  return int(r ? countBits(s, r.from, r.to) : 0);
}

function bitpos(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const b = parseInt64(argv[2]!);
  if (b === undefined) return E.notInt;
  if (b !== 0n && b !== 1n) return err("ERR The bit argument must be 1 or 0.");
  const bit = Number(b);
  const s = readString(ctx.db, argv[1]!, ctx.now);
  if (isReply(s)) return s;
  // A missing key is an endless run of zero bits.
  if (s === undefined) return int(bit ? -1 : 0);
  if (argv.length > 6) return E.syntax;
  let start = 0n;
  let end = -1n;
  let bits = false;
  if (argv.length >= 4) {
    const v = parseInt64(argv[3]!);
    if (v === undefined) return E.notInt;
    start = v;
    const unit = isBitUnit(argv[5]);
    if (isReply(unit)) return unit;
    bits = unit;
    if (argv.length >= 5) {
      const e = parseInt64(argv[4]!);
      if (e === undefined) return E.notInt;
      end = e;
    }
  }
  const endGiven = argv.length >= 5;
  const r = bitRange(start, end, s.length, bits);
  if (!r) return int(-1);
  const pos = findBit(s, bit, r.from, r.to);
  // Without an explicit end the string counts as padded with zeros: the first clear bit is past it.
  if (pos === -1 && bit === 0 && !endGiven) return int(r.to + 1);
  return int(pos);
}

const BITOPS: Record<string, (a: number, b: number) => number> = {
  and: (a, b) => a & b,
  or: (a, b) => a | b,
  xor: (a, b) => a ^ b,
};

function bitop(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const op = lower(argv[1]!);
  if (op !== "not" && !(op in BITOPS)) return E.syntax;
  if (op === "not" && argv.length !== 4) return err("ERR BITOP NOT must be called with a single source key.");
  const srcs: Uint8Array[] = [];
  for (const key of argv.slice(3)) {
    const s = readString(ctx.db, key, ctx.now);
    if (isReply(s)) return s;
    srcs.push(s ?? new Uint8Array(0));
  }
  const len = srcs.reduce((m, s) => Math.max(m, s.length), 0);
  const dest = argv[2]!;
  if (len === 0) {
    if (ctx.db.delete(dest, ctx.now)) ctx.notify?.("g", "del", dest);
    return ZERO;
  }
  // Shorter sources count as padded with zero bytes.
  const out = new Uint8Array(len);
  out.set(srcs[0]!);
  if (op === "not") for (let i = 0; i < len; i++) out[i] = ~out[i]!;
  else {
    const f = BITOPS[op]!;
    for (const s of srcs.slice(1)) for (let i = 0; i < len; i++) out[i] = f(out[i]!, s[i] ?? 0);
  }
  ctx.db.setString(dest, out, null, "raw");
  ctx.notify?.("$", "set", dest);
  return int(len);
}

type Overflow = "wrap" | "sat" | "fail";

interface FieldOp {
  readonly kind: "get" | "set" | "incrby";
  readonly signed: boolean;
  readonly width: number;
  readonly offset: number;
  /** SET's value or INCRBY's increment. */
  readonly arg: bigint;
  readonly overflow: Overflow;
}

/** "i1".."i64" or "u1".."u63": the sign letter is case-sensitive, as in Redis. */
function parseFieldType(arg: Uint8Array): { signed: boolean; width: number } | Reply {
  const signed = arg[0] === 0x69;
  if (!signed && arg[0] !== 0x75) return BAD_TYPE;
  const w = parseInt64(arg.subarray(1));
  if (w === undefined || w < 1n || w > (signed ? 64n : 63n)) return BAD_TYPE;
  return { signed, width: Number(w) };
}

function parseFieldOps(argv: readonly Uint8Array[]): FieldOp[] | Reply {
  const ops: FieldOp[] = [];
  let overflow: Overflow = "wrap";
  for (let j = 2; j < argv.length; j++) {
    const rest = argv.length - j - 1;
    const sub = lower(argv[j]!);
    if (sub === "overflow" && rest >= 1) {
      const o = lower(argv[++j]!);
      if (o !== "wrap" && o !== "sat" && o !== "fail") return err("ERR Invalid OVERFLOW type specified");
      overflow = o;
      continue;
    }
    if (!((sub === "get" && rest >= 2) || ((sub === "set" || sub === "incrby") && rest >= 3))) return E.syntax;
    const type = parseFieldType(argv[j + 1]!);
    if (isReply(type)) return type;
    const offset = parseBitOffset(argv[j + 2]!, type.width);
    if (isReply(offset)) return offset;
    let arg = 0n;
    if (sub !== "get") {
      const v = parseInt64(argv[j + 3]!);
      if (v === undefined) return E.notInt;
      arg = v;
    }
    ops.push({ kind: sub, ...type, offset, arg, overflow });
    j += sub === "get" ? 2 : 3;
  }
  return ops;
}

function readField(s: Uint8Array, offset: number, width: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < width; i++) v = (v << 1n) | BigInt(bitAt(s, offset + i));
  return signed ? BigInt.asIntN(width, v) : v;
}

/** Writes the low `width` bits of v; the string is long enough (see writableString). */
function writeField(s: Uint8Array, offset: number, width: number, v: bigint): void {
  for (let i = 0; i < width; i++) {
    const bit = Number((v >> BigInt(width - 1 - i)) & 1n);
    const at = offset + i;
    const mask = 1 << (7 - (at & 7));
    s[at >> 3] = bit ? s[at >> 3]! | mask : s[at >> 3]! & ~mask;
  }
}

const i64 = (x: bigint) => BigInt.asIntN(64, x);

/**
 * value + incr in a field, or undefined when it fits. Follows checkSignedBitfieldOverflow /
 * checkUnsignedBitfieldOverflow of Redis including their int64 wrap-around, so that a SET of an
 * out-of-range value saturates to the same side as in Redis. Returns the value to store otherwise.
 */
function fieldOverflow(
  value: bigint,
  incr: bigint,
  width: number,
  signed: boolean,
  mode: Overflow,
): bigint | undefined {
  let up: boolean;
  let down: boolean;
  let max: bigint;
  let min: bigint;
  if (signed) {
    max = width === 64 ? 2n ** 63n - 1n : 2n ** BigInt(width - 1) - 1n;
    min = -max - 1n;
    const maxIncr = i64(max - value);
    const minIncr = i64(min - value);
    up = value > max || (width !== 64 && incr > maxIncr) || (value >= 0n && incr > 0n && incr > maxIncr);
    down = !up && (value < min || (width !== 64 && incr < minIncr) || (value < 0n && incr < 0n && incr < minIncr));
  } else {
    // Redis holds the value as uint64: a negative SET value is a huge one.
    value = BigInt.asUintN(64, value);
    max = 2n ** BigInt(width) - 1n;
    min = 0n;
    up = value > max || (incr > 0n && incr > i64(max - value));
    down = !up && incr < 0n && incr < i64(-value);
  }
  if (!up && !down) return undefined;
  if (mode === "sat") return up ? max : min;
  const wrapped = BigInt.asUintN(width, value + incr);
  return signed ? BigInt.asIntN(width, wrapped) : wrapped;
}

const intOf = (v: bigint): Reply => int(v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v);

function bitfield(ctx: CommandContext, argv: readonly Uint8Array[], readOnly: boolean): Reply {
  const ops = parseFieldOps(argv);
  if (isReply(ops)) return ops;
  const key = argv[1]!;
  const writes = ops.filter((o) => o.kind !== "get");
  if (writes.length === 0) {
    // Only the bytes the fields cover are read. Redis checks the type even when there are no fields.
    const from = ops.reduce((m, o) => Math.min(m, o.offset >> 3), ops.length ? Infinity : 0);
    const to = ops.reduce((m, o) => Math.max(m, (o.offset + o.width - 1) >> 3), 0);
    const s = readBytes(ctx, key, from, to);
    if (isReply(s)) return s;
    return array(ops.map((o) => intOf(readField(s, o.offset - from * 8, o.width, o.signed))));
  }
  if (readOnly) return err("ERR BITFIELD_RO only supports the GET subcommand");
  // A reduce, not Math.max(...): a call may carry more operations than a spread may pass.
  const w = writableString(
    ctx,
    key,
    writes.reduce((m, o) => Math.max(m, o.offset + o.width - 1), 0),
  );
  if (isReply(w)) return w;
  let changed = w.grown;
  const replies = ops.map((o): Reply => {
    const old = readField(w.s, o.offset, o.width, o.signed);
    if (o.kind === "get") return intOf(old);
    const [value, incr] = o.kind === "incrby" ? [old, o.arg] : [o.arg, 0n];
    const limit = fieldOverflow(value, incr, o.width, o.signed, o.overflow);
    if (limit !== undefined && o.overflow === "fail") return NULL_BULK;
    const next = limit ?? value + incr;
    writeField(w.s, o.offset, o.width, next);
    changed ||= next !== old;
    return intOf(o.kind === "incrby" ? next : old);
  });
  // The key is created or padded even when every write failed its OVERFLOW FAIL check, as in Redis.
  if (changed) {
    ctx.db.updateString(key, w.s, ctx.now, "raw");
    ctx.notify?.("$", "setbit", key);
  } else ctx.db.setStringForm(key, "raw");
  return array(replies);
}

export const BIT_COMMANDS = define("bitmap", [
  {
    name: "setbit",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    keyFlags: "RW access update",
    summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
    run: setbit,
  },
  {
    name: "getbit",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.2.0",
    summary: "Returns a bit value by offset.",
    run: getbit,
  },
  {
    name: "bitcount",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Counts the number of set bits (population counting) in a string.",
    run: bitcount,
  },
  {
    name: "bitpos",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.7",
    summary: "Finds the first set (1) or clear (0) bit in a string.",
    run: bitpos,
  },
  {
    name: "bitop",
    arity: -4,
    flags: ["write"],
    keys: { first: 2, last: -1, step: 1 },
    since: "2.6.0",
    keyFlags: ["OW update", "RO access"],
    summary: "Performs bitwise operations on multiple strings, and stores the result.",
    run: bitop,
    cluster: ONE_SLOT,
  },
  {
    name: "bitfield",
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "3.2.0",
    keyFlags: {
      spec: "RW access update variable_flags",
      notes: "This command allows both access and modification of the key",
      call: (argv) =>
        argv.slice(2).some((a) => ["set", "incrby"].includes(lower(a))) ? "RW access update" : "RO access",
    },
    summary: "Performs arbitrary bitfield integer operations on strings.",
    run: (ctx, argv) => bitfield(ctx, argv, false),
  },
  {
    name: "bitfield_ro",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.0.0",
    summary: "Performs arbitrary read-only bitfield integer operations on strings.",
    run: (ctx, argv) => bitfield(ctx, argv, true),
  },
]);
