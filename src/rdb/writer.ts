// The RDB primitives (redis/src/rdb.c) as Redis 7.0 writes them: the shortest length form, strings as
// 8/16/32-bit integers when they round-trip, LZF-compressed above 20 bytes when that saves space.
import { canonicalInt64 } from "./text.ts";
import { lzfCompress } from "./lzf.ts";
import { ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF } from "./reader.ts";

/** Redis compresses only strings longer than this (rdbSaveRawString). */
const COMPRESS_ABOVE = 20;
/** Redis tries the integer forms only for strings this short (rdbSaveRawString). */
const INT_FORM_MAX_LEN = 11;

export class RdbWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  private fixed(n: number, write: (v: DataView) => void): void {
    this.reserve(n);
    write(new DataView(this.buf.buffer, this.len, n));
    this.len += n;
  }

  length(n: number): void {
    if (n < 1 << 6) this.byte(n);
    else if (n < 1 << 14) {
      this.byte(0x40 | (n >> 8));
      this.byte(n & 0xff);
    } else if (n <= 0xffffffff) {
      this.byte(0x80);
      this.fixed(4, (v) => v.setUint32(0, n, false));
    } else {
      this.byte(0x81);
      this.fixed(8, (v) => v.setBigUint64(0, BigInt(n), false));
    }
  }

  /** A length that may exceed 2^53 (stream IDs and counters). */
  length64(n: bigint): void {
    if (n <= 0xffffffffn) this.length(Number(n));
    else {
      this.byte(0x81);
      this.fixed(8, (v) => v.setBigUint64(0, n, false));
    }
  }

  /** A signed 64-bit little-endian integer (rdbSaveMillisecondTime). */
  int64(n: bigint): void {
    this.fixed(8, (v) => v.setBigInt64(0, BigInt.asIntN(64, n), true));
  }

  string(s: Uint8Array): void {
    if (s.length <= INT_FORM_MAX_LEN && this.intString(s)) return;
    if (s.length > COMPRESS_ABOVE) {
      const packed = lzfCompress(s);
      if (packed) {
        this.byte(0xc0 | ENC_LZF);
        this.length(packed.length);
        this.length(s.length);
        this.bytes(packed);
        return;
      }
    }
    this.length(s.length);
    this.bytes(s);
  }

  private intString(s: Uint8Array): boolean {
    const v = canonicalInt64(s);
    if (v === undefined || v < -(1n << 31n) || v >= 1n << 31n) return false;
    const n = Number(v);
    if (n >= -128 && n <= 127) {
      this.byte(0xc0 | ENC_INT8);
      this.fixed(1, (d) => d.setInt8(0, n));
    } else if (n >= -32768 && n <= 32767) {
      this.byte(0xc0 | ENC_INT16);
      this.fixed(2, (d) => d.setInt16(0, n, true));
    } else {
      this.byte(0xc0 | ENC_INT32);
      this.fixed(4, (d) => d.setInt32(0, n, true));
    }
    return true;
  }

  binaryDouble(x: number): void {
    this.fixed(8, (v) => v.setFloat64(0, x, true));
  }

  /** A view of the bytes written so far, valid until the next write. */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
