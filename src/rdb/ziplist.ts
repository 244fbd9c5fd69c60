// Ziplist (redis/src/ziplist.c), the compact encoding before Redis 7 (RDB types LIST_ZIPLIST,
// ZSET_ZIPLIST, HASH_ZIPLIST and quicklist nodes). Redis 7 only reads it, and so does FlyDB.
// Layout: total bytes (u32 LE), offset of the last entry (u32 LE), count (u16 LE, 65535:
// unknown), entries, 0xFF. An entry: the previous entry's size (1 byte, or 0xFE and a u32 LE),
// an encoding byte (string length or integer kind), the data.
import { check } from "./errors.ts";
import { decimal } from "./text.ts";

const HEADER = 10;
const END = 0xff;
const BIG_PREVLEN = 0xfe;

export function readZiplist(zl: Uint8Array): Uint8Array[] {
  check(zl.length >= HEADER + 1, `ziplist of ${zl.length} bytes is shorter than its header`);
  const view = new DataView(zl.buffer, zl.byteOffset, zl.byteLength);
  check(view.getUint32(0, true) === zl.length, "ziplist header size differs from its length");
  const tail = view.getUint32(4, true);
  const declared = view.getUint16(8, true);
  const out: Uint8Array[] = [];
  let p = HEADER;
  let prevSize = 0;
  let last = HEADER;
  while (true) {
    check(p < zl.length, "ziplist without terminator");
    if (zl[p] === END) break;
    const start = p;
    const need = (n: number) => check(p + n <= zl.length - 1, `ziplist entry at ${start} runs past the end`);
    need(1);
    let prevlen = zl[p]!;
    if (prevlen === BIG_PREVLEN) {
      need(5);
      prevlen = view.getUint32(p + 1, true);
      p += 5;
    } else p += 1;
    check(prevlen === prevSize, `ziplist entry at ${start} has a wrong previous length`);
    need(1);
    const enc = zl[p]!;
    let value: Uint8Array;
    if (enc >> 6 === 0) {
      const n = enc & 0x3f;
      need(1 + n);
      value = zl.subarray(p + 1, p + 1 + n);
      p += 1 + n;
    } else if (enc >> 6 === 1) {
      need(2);
      const n = ((enc & 0x3f) << 8) | zl[p + 1]!;
      need(2 + n);
      value = zl.subarray(p + 2, p + 2 + n);
      p += 2 + n;
    } else if (enc === 0x80) {
      need(5);
      const n = view.getUint32(p + 1, false);
      need(5 + n);
      value = zl.subarray(p + 5, p + 5 + n);
      p += 5 + n;
    } else if (enc >= 0xf1 && enc <= 0xfd) {
      value = decimal((enc & 0x0f) - 1);
      p += 1;
    } else {
      const width = INT_WIDTHS.get(enc);
      check(width !== undefined, `ziplist entry at ${start} has unknown encoding 0x${enc.toString(16)}`);
      need(1 + width);
      value = decimal(readInt(view, p + 1, width));
      p += 1 + width;
    }
    prevSize = p - start;
    last = start;
    out.push(value);
  }
  check(p === zl.length - 1, "ziplist has bytes after its terminator");
  check(out.length === 0 || tail === last, "ziplist tail offset is wrong");
  check(declared === 0xffff || declared === out.length, "ziplist element count differs from its header");
  return out;
}

/** Integer encodings: int8 0xfe, int16 0xc0, int32 0xd0, int64 0xe0, int24 0xf0. */
const INT_WIDTHS: ReadonlyMap<number, number> = new Map([
  [0xfe, 1],
  [0xc0, 2],
  [0xd0, 4],
  [0xe0, 8],
  [0xf0, 3],
]);

function readInt(view: DataView, at: number, width: number): number | bigint {
  if (width === 1) return view.getInt8(at);
  if (width === 2) return view.getInt16(at, true);
  if (width === 4) return view.getInt32(at, true);
  if (width === 8) return view.getBigInt64(at, true);
  const u = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getUint8(at + 2) << 16);
  return u >= 1 << 23 ? u - (1 << 24) : u;
}
