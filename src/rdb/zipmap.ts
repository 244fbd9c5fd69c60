// Zipmap (redis/src/zipmap.c), the hash encoding of Redis before 2.6 (RDB_TYPE_HASH_ZIPMAP), which
// Redis 7 still loads. Layout: a count byte (254+: unknown), then per pair a length, the field, a
// length, a "free" byte, the value and that many unused bytes; 0xFF ends it. A length is one byte
// below 254, or 254 followed by a u32 LE.
import { check } from "./errors.ts";
import type { HashEntry } from "./value.ts";

const END = 0xff;
const BIG_LEN = 254;

export function readZipmap(zm: Uint8Array): HashEntry[] {
  const view = new DataView(zm.buffer, zm.byteOffset, zm.byteLength);
  check(zm.length >= 2, "zipmap shorter than its header");
  const declared = zm[0]!;
  let p = 1;
  const length = (): number => {
    check(p < zm.length, "zipmap entry runs past the end");
    const b = zm[p]!;
    if (b < BIG_LEN) {
      p += 1;
      return b;
    }
    check(b === BIG_LEN && p + 5 <= zm.length, "zipmap length runs past the end");
    p += 5;
    return view.getUint32(p - 4, true);
  };
  const take = (n: number): Uint8Array => {
    check(p + n <= zm.length, "zipmap entry runs past the end");
    p += n;
    return zm.subarray(p - n, p);
  };
  const out: HashEntry[] = [];
  while (true) {
    check(p < zm.length, "zipmap without terminator");
    if (zm[p] === END) break;
    const field = take(length());
    const valueLen = length();
    const free = take(1)[0]!;
    const value = take(valueLen);
    take(free);
    out.push([field, value]);
  }
  check(p === zm.length - 1, "zipmap has bytes after its terminator");
  check(declared >= BIG_LEN || declared === out.length, "zipmap count differs from its entries");
  return out;
}
