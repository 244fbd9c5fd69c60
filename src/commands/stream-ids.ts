// Stream entry IDs (<ms>-<seq>, two unsigned 64-bit numbers) with Redis 7.0's parsing rules
// (t_stream.c streamGenericParseIDOrReply, util.c string2ull), and the 16-byte big-endian form
// the store keeps them in: byte order is ID order, so SQLite's BLOB comparison ranges over IDs.
import { err, type Reply } from "../resp/reply.ts";

export interface StreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const MIN_ID: StreamId = { ms: 0n, seq: 0n };
export const MAX_ID: StreamId = { ms: U64_MAX, seq: U64_MAX };

export const INVALID_ID = err("ERR Invalid stream ID specified as stream command argument");

export const formatId = (id: StreamId): string => `${id.ms}-${id.seq}`;

export function compareIds(a: StreamId, b: StreamId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  return a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1;
}

/** The next ID, or undefined past the last possible one. */
export function incrId(id: StreamId): StreamId | undefined {
  if (id.seq < U64_MAX) return { ms: id.ms, seq: id.seq + 1n };
  return id.ms < U64_MAX ? { ms: id.ms + 1n, seq: 0n } : undefined;
}

/** The previous ID, or undefined before 0-0. */
export function decrId(id: StreamId): StreamId | undefined {
  if (id.seq > 0n) return { ms: id.ms, seq: id.seq - 1n };
  return id.ms > 0n ? { ms: id.ms - 1n, seq: U64_MAX } : undefined;
}

export function encodeId(id: StreamId): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, id.ms);
  view.setBigUint64(8, id.seq);
  return out;
}

/** Four big-endian bytes at `at` as an unsigned number (without a DataView: IDs are decoded per entry read). */
export const u32 = (b: Uint8Array, at: number) =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u64 = (b: Uint8Array, at: number) => (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));

export function decodeId(b: Uint8Array): StreamId {
  return { ms: u64(b, 0), seq: u64(b, 8) };
}

/**
 * util.c string2ull: string2ll's strict form (no '+', spaces or leading zeros) when it fits,
 * otherwise strtoull's lenient one (leading spaces, a sign, where '-' wraps around), whole string.
 */
function parseU64(s: string): bigint | undefined {
  if (/^(?:0|-?[1-9][0-9]*)$/.test(s) && s.length <= 20) {
    const v = BigInt(s);
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return v < 0n ? undefined : v;
  }
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(s);
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  if (v > U64_MAX) return undefined;
  return m[1] === "-" ? (U64_MAX + 1n - v) & U64_MAX : v;
}

export interface ParsedId extends StreamId {
  /** False for XADD's <ms>-* form. */
  readonly seqGiven: boolean;
}

/**
 * An ID argument: "-" and "+" (unless strict), "<ms>" (seq = missingSeq) or "<ms>-<seq>"; with
 * `allowAutoSeq`, "<ms>-*" too. undefined: Redis's "Invalid stream ID".
 */
export function parseId(b: Uint8Array, missingSeq: bigint, strict = false, allowAutoSeq = false): ParsedId | undefined {
  if (b.length > 127) return undefined;
  const s = String.fromCharCode(...b);
  if (s === "-" || s === "+") {
    if (strict) return undefined;
    return s === "-" ? { ...MIN_ID, seqGiven: true } : { ...MAX_ID, seqGiven: true };
  }
  // C strings end at a NUL byte.
  const text = s.includes("\0") ? s.slice(0, s.indexOf("\0")) : s;
  const dash = text.indexOf("-");
  const ms = parseU64(dash < 0 ? text : text.slice(0, dash));
  if (ms === undefined) return undefined;
  if (dash < 0) return { ms, seq: missingSeq, seqGiven: true };
  const rest = text.slice(dash + 1);
  if (allowAutoSeq && rest === "*") return { ms, seq: 0n, seqGiven: false };
  const seq = parseU64(rest);
  return seq === undefined ? undefined : { ms, seq, seqGiven: true };
}

/** A range bound of XRANGE/XREVRANGE/XPENDING: a leading "(" makes it exclusive. */
export function parseRangeBound(b: Uint8Array, missingSeq: bigint, start: boolean): StreamId | Reply {
  if (b[0] === 0x28 && b.length > 1) {
    const id = parseId(b.subarray(1), missingSeq, true);
    if (!id) return INVALID_ID;
    const moved = start ? incrId(id) : decrId(id);
    return moved ?? err(`ERR invalid ${start ? "start" : "end"} ID for the interval`);
  }
  const id = parseId(b, missingSeq);
  return id ? { ms: id.ms, seq: id.seq } : INVALID_ID;
}
