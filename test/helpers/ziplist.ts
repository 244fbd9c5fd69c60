// Builds ziplists (redis/src/ziplist.c), the compact encoding of Redis before 7.0: redis-server 7.0 only
// reads them, so the tests make their own payloads of the old RDB types.
import { crc64 } from "../../src/rdb/crc64.ts";

const u32be = (n: number) => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

function encodeEntry(item: Uint8Array): number[] {
  const s = Buffer.from(item).toString("latin1");
  if (/^(0|-?[1-9]\d{0,18})$/.test(s) && BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 63n) {
    const v = BigInt(s);
    if (v >= 0n && v <= 12n) return [0xf1 + Number(v)];
    const u = BigInt.asUintN(64, v);
    const le = (width: number) => Array.from({ length: width }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
    if (v >= -128n && v <= 127n) return [0xfe, ...le(1)];
    if (v >= -32768n && v <= 32767n) return [0xc0, ...le(2)];
    if (v >= -(2n ** 23n) && v < 2n ** 23n) return [0xf0, ...le(3)];
    if (v >= -(2n ** 31n) && v < 2n ** 31n) return [0xd0, ...le(4)];
    return [0xe0, ...le(8)];
  }
  const n = item.length;
  const head = n < 64 ? [n] : n < 16384 ? [0x40 | (n >> 8), n & 0xff] : [0x80, ...u32be(n)];
  return [...head, ...item];
}

export function ziplist(items: readonly Uint8Array[]): Uint8Array {
  const body: number[] = [];
  let prev = 0;
  let tail = 10;
  for (const item of items) {
    tail = 10 + body.length;
    const prevlen = prev < 254 ? [prev] : [0xfe, prev & 0xff, (prev >> 8) & 0xff, (prev >> 16) & 0xff, prev >>> 24];
    const entry = [...prevlen, ...encodeEntry(item)];
    body.push(...entry);
    prev = entry.length;
  }
  const out = new Uint8Array(10 + body.length + 1);
  const view = new DataView(out.buffer);
  view.setUint32(0, out.length, true);
  view.setUint32(4, tail, true);
  view.setUint16(8, Math.min(items.length, 0xffff), true);
  out.set(body, 10);
  out[out.length - 1] = 0xff;
  return out;
}

/** A DUMP payload around raw object bytes (type byte first), with RDB version 9 and its CRC-64. */
export function payload(object: readonly number[] | Uint8Array): Uint8Array {
  const body = Uint8Array.from([...object, 9, 0]);
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  new DataView(out.buffer).setBigUint64(body.length, crc64(0n, body), true);
  return out;
}

/** An RDB string holding `bytes` uncompressed (a 32-bit length when it needs one). */
export function rdbString(bytes: Uint8Array): number[] {
  const n = bytes.length;
  const head = n < 64 ? [n] : n < 16384 ? [0x40 | (n >> 8), n & 0xff] : [0x80, ...u32be(n)];
  return [...head, ...bytes];
}
