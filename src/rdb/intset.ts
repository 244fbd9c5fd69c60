// Intset (redis/src/intset.c), Redis's encoding of small all-integer sets: the width of every element
// (u32 LE: 2, 4 or 8 bytes), the count (u32 LE), then the sorted, distinct integers (LE).
import { check } from "./errors.ts";
import { canonicalInt64, decimal } from "./text.ts";

const HEADER = 8;

export function readIntset(is: Uint8Array): Uint8Array[] {
  check(is.length >= HEADER, `intset of ${is.length} bytes is shorter than its header`);
  const view = new DataView(is.buffer, is.byteOffset, is.byteLength);
  const width = view.getUint32(0, true);
  check(width === 2 || width === 4 || width === 8, `intset with element width ${width}`);
  const count = view.getUint32(4, true);
  check(HEADER + count * width === is.length, "intset length differs from its element count");
  const out: Uint8Array[] = [];
  let prev: bigint | undefined;
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * width;
    const small = () => (width === 2 ? view.getInt16(at, true) : view.getInt32(at, true));
    const v = width === 8 ? view.getBigInt64(at, true) : BigInt(small());
    check(prev === undefined || v > prev, "intset elements are not sorted and distinct");
    prev = v;
    out.push(decimal(v));
  }
  return out;
}

/** The intset of members that are all canonical integers, or undefined when one is not. */
export function writeIntset(members: readonly Uint8Array[]): Uint8Array | undefined {
  const values: bigint[] = [];
  for (const m of members) {
    const v = canonicalInt64(m);
    if (v === undefined) return undefined;
    values.push(v);
  }
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const fits = (lo: bigint, hi: bigint) => values.every((v) => v >= lo && v <= hi);
  const width = fits(-32768n, 32767n) ? 2 : fits(-(1n << 31n), (1n << 31n) - 1n) ? 4 : 8;
  const out = new Uint8Array(HEADER + values.length * width);
  const view = new DataView(out.buffer);
  view.setUint32(0, width, true);
  view.setUint32(4, values.length, true);
  values.forEach((v, i) => {
    const at = HEADER + i * width;
    if (width === 2) view.setInt16(at, Number(v), true);
    else if (width === 4) view.setInt32(at, Number(v), true);
    else view.setBigInt64(at, v, true);
  });
  return out;
}
