// Listpack (redis/src/listpack.c), the compact encoding of Redis 7 for small hashes and sorted sets and
// for the nodes of a list's quicklist. Layout: total bytes (u32 LE), element count (u16 LE, 65535:
// unknown), the entries, a 0xFF terminator. An entry is an encoding byte (with the value's bits or
// its string length), the data, and a "backlen" (the entry's size, 7 bits per byte) for walking
// backwards. Integers come back as their decimal strings, which is what Redis returns too.
import { check } from "./errors.ts";
import { canonicalInt64, decimal } from "./text.ts";

const HEADER = 6;
const EOF_BYTE = 0xff;
const UNKNOWN_COUNT = 0xffff;

export function readListpack(lp: Uint8Array): Uint8Array[] {
  check(lp.length >= HEADER + 1, `listpack of ${lp.length} bytes is shorter than its header`);
  const view = new DataView(lp.buffer, lp.byteOffset, lp.byteLength);
  check(view.getUint32(0, true) === lp.length, "listpack header size differs from its length");
  const declared = view.getUint16(4, true);
  const out: Uint8Array[] = [];
  let p = HEADER;
  while (true) {
    check(p < lp.length, "listpack without terminator");
    const b = lp[p]!;
    if (b === EOF_BYTE) break;
    const start = p;
    const need = (n: number) => check(p + n <= lp.length - 1, `listpack entry at ${start} runs past the end`);
    let value: Uint8Array;
    if (b < 0x80) {
      value = decimal(b);
      p += 1;
    } else if (b < 0xc0) {
      const n = b & 0x3f;
      need(1 + n);
      value = lp.subarray(p + 1, p + 1 + n);
      p += 1 + n;
    } else if (b < 0xe0) {
      need(2);
      const raw = ((b & 0x1f) << 8) | lp[p + 1]!;
      value = decimal(raw >= 1 << 12 ? raw - (1 << 13) : raw);
      p += 2;
    } else if (b < 0xf0) {
      need(2);
      const n = ((b & 0x0f) << 8) | lp[p + 1]!;
      need(2 + n);
      value = lp.subarray(p + 2, p + 2 + n);
      p += 2 + n;
    } else if (b === 0xf0) {
      need(5);
      const n = view.getUint32(p + 1, true);
      need(5 + n);
      value = lp.subarray(p + 5, p + 5 + n);
      p += 5 + n;
    } else {
      const width = INT_WIDTH[b - 0xf1];
      check(width !== undefined, `listpack entry at ${start} has unknown encoding 0x${b.toString(16)}`);
      need(1 + width);
      value = decimal(readIntLE(view, p + 1, width));
      p += 1 + width;
    }
    const size = p - start;
    const backlen = backlenSize(size);
    need(backlen);
    check(decodeBacklen(lp, p + backlen - 1) === size, `listpack entry at ${start} has a wrong backlen`);
    p += backlen;
    out.push(value);
  }
  check(p === lp.length - 1, "listpack has bytes after its terminator");
  check(declared === UNKNOWN_COUNT || declared === out.length, "listpack element count differs from its header");
  return out;
}

/** Widths of the 16, 24, 32 and 64-bit integer encodings 0xf1..0xf4. */
const INT_WIDTH: readonly number[] = [2, 3, 4, 8];

function readIntLE(view: DataView, at: number, width: number): bigint | number {
  if (width === 2) return view.getInt16(at, true);
  if (width === 4) return view.getInt32(at, true);
  if (width === 8) return view.getBigInt64(at, true);
  const u = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getUint8(at + 2) << 16);
  return u >= 1 << 23 ? u - (1 << 24) : u;
}

function backlenSize(l: number): number {
  if (l <= 127) return 1;
  if (l < 16383) return 2;
  if (l < 2097151) return 3;
  if (l < 268435455) return 4;
  return 5;
}

/** Reads a backlen from its last byte backwards: the first byte read holds the low 7 bits. */
function decodeBacklen(lp: Uint8Array, last: number): number {
  let value = 0;
  let shift = 1;
  for (let p = last; ; p--) {
    const b = lp[p]!;
    value += (b & 127) * shift;
    if (!(b & 128)) return value;
    shift *= 128;
  }
}

function writeBacklen(out: number[], l: number): void {
  const n = backlenSize(l);
  for (let i = n - 1; i >= 0; i--) {
    const bits = Math.floor(l / 128 ** i) & 127;
    out.push(i === n - 1 ? bits : bits | 128);
  }
}

/** Bytes of an empty listpack: its header and terminator. */
export const LISTPACK_EMPTY_BYTES = HEADER + 1;

/** Bytes `item` takes in a listpack (encoding, data and backlen), as writeListpack encodes it. */
export function listpackEntryBytes(item: Uint8Array): number {
  const v = canonicalInt64(item);
  const body = v !== undefined ? intBytes(v) : item.length + (item.length < 64 ? 1 : item.length < 4096 ? 2 : 5);
  return body + backlenSize(body);
}

function intBytes(v: bigint): number {
  if (v >= 0n && v <= 127n) return 1;
  if (v >= -4096n && v <= 4095n) return 2;
  return 1 + intWidth(v);
}

function intWidth(v: bigint): number {
  const fits = (bits: bigint) => v >= -(1n << (bits - 1n)) && v < 1n << (bits - 1n);
  return fits(16n) ? 2 : fits(24n) ? 3 : fits(32n) ? 4 : 8;
}

/** Encodes elements as Redis's lpAppend does: canonical integers in the smallest integer form. */
export function writeListpack(items: readonly Uint8Array[]): Uint8Array {
  const bytes: number[] = [0, 0, 0, 0, 0, 0];
  const push = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) bytes.push(b[i]!);
  };
  for (const item of items) {
    const start = bytes.length;
    const v = canonicalInt64(item);
    if (v !== undefined) writeInt(bytes, v);
    else if (item.length < 64) {
      bytes.push(0x80 | item.length);
      push(item);
    } else if (item.length < 4096) {
      bytes.push(0xe0 | (item.length >> 8), item.length & 0xff);
      push(item);
    } else {
      bytes.push(0xf0, item.length & 0xff, (item.length >> 8) & 0xff, (item.length >> 16) & 0xff, item.length >>> 24);
      push(item);
    }
    writeBacklen(bytes, bytes.length - start);
  }
  bytes.push(EOF_BYTE);
  const out = Uint8Array.from(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, out.length, true);
  view.setUint16(4, Math.min(items.length, UNKNOWN_COUNT), true);
  return out;
}

function writeInt(out: number[], v: bigint): void {
  if (v >= 0n && v <= 127n) {
    out.push(Number(v));
  } else if (v >= -4096n && v <= 4095n) {
    const u = Number(v < 0n ? (1n << 13n) + v : v);
    out.push(0xc0 | (u >> 8), u & 0xff);
  } else {
    const width = intWidth(v);
    out.push(0xf1 + INT_WIDTH.indexOf(width));
    const u = BigInt.asUintN(64, v);
    for (let i = 0; i < width; i++) out.push(Number((u >> BigInt(8 * i)) & 0xffn));
  }
}
