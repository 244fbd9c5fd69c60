// The RDB primitives a value is made of (redis/src/rdb.c): lengths, strings (plain, integer-encoded or
// LZF-compressed) and doubles, read from a byte cursor that refuses to run past its end.
import { check } from "./errors.ts";
import { decimal, parseDouble } from "./text.ts";
import { lzfDecompress } from "./lzf.ts";

/** The two top bits of a length's first byte (redis/src/rdb.h RDB_6BITLEN…RDB_ENCVAL). */
const LEN_6BIT = 0;
const LEN_14BIT = 1;
const LEN_32BIT = 0x80;
const LEN_64BIT = 0x81;
const ENCVAL = 3;
/** Special string encodings, the low 6 bits after ENCVAL. */
export const ENC_INT8 = 0;
export const ENC_INT16 = 1;
export const ENC_INT32 = 2;
export const ENC_LZF = 3;

export class RdbReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.data.length - this.pos;
  }

  byte(): number {
    check(this.pos < this.data.length, `payload ends at byte ${this.pos}`);
    return this.data[this.pos++]!;
  }

  bytes(n: number): Uint8Array {
    check(n >= 0 && this.pos + n <= this.data.length, `payload ends before ${n} bytes at ${this.pos}`);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A length, or a special string encoding (`encoded`) whose kind is the returned number. */
  private lengthOrEncoding(): { value: number; encoded: boolean } {
    const first = this.byte();
    const kind = first >> 6;
    if (kind === ENCVAL) return { value: first & 0x3f, encoded: true };
    if (kind === LEN_6BIT) return { value: first & 0x3f, encoded: false };
    if (kind === LEN_14BIT) return { value: ((first & 0x3f) << 8) | this.byte(), encoded: false };
    if (first === LEN_32BIT) {
      const v = this.view.getUint32(this.bytesAt(4), false);
      return { value: v, encoded: false };
    }
    check(first === LEN_64BIT, `unknown length encoding 0x${first.toString(16)} at ${this.pos - 1}`);
    const v = this.view.getBigUint64(this.bytesAt(8), false);
    check(v <= BigInt(Number.MAX_SAFE_INTEGER), `length ${v} too large`);
    return { value: Number(v), encoded: false };
  }

  /** Advances over n bytes and returns where they start (for DataView reads). */
  private bytesAt(n: number): number {
    const at = this.pos;
    this.bytes(n);
    return at;
  }

  /** A length that may exceed 2^53 (stream IDs and counters). */
  length64(): bigint {
    const first = this.byte();
    if (first === LEN_64BIT) return this.view.getBigUint64(this.bytesAt(8), false);
    this.pos--;
    return BigInt(this.length());
  }

  /** A signed 64-bit little-endian integer (rdbLoadMillisecondTime). */
  int64(): bigint {
    return this.view.getBigInt64(this.bytesAt(8), true);
  }

  length(): number {
    const { value, encoded } = this.lengthOrEncoding();
    check(!encoded, `string encoding where a length was expected at ${this.pos - 1}`);
    return value;
  }

  /** A string in any of its RDB forms, as the bytes it stands for. */
  string(): Uint8Array {
    const { value, encoded } = this.lengthOrEncoding();
    if (!encoded) return this.bytes(value);
    if (value === ENC_INT8) return decimal(this.view.getInt8(this.bytesAt(1)));
    if (value === ENC_INT16) return decimal(this.view.getInt16(this.bytesAt(2), true));
    if (value === ENC_INT32) return decimal(this.view.getInt32(this.bytesAt(4), true));
    check(value === ENC_LZF, `unknown string encoding ${value}`);
    const compressed = this.length();
    const plain = this.length();
    return lzfDecompress(this.bytes(compressed), plain);
  }

  /** A ZSET_2 score: IEEE 754 binary64, little-endian. */
  binaryDouble(): number {
    return this.view.getFloat64(this.bytesAt(8), true);
  }

  /** An old-style (RDB_TYPE_ZSET) score: a length byte, 253/254/255 for nan/+inf/-inf, else text. */
  textDouble(): number {
    const len = this.byte();
    if (len === 253) return NaN;
    if (len === 254) return Infinity;
    if (len === 255) return -Infinity;
    return parseDouble(this.bytes(len));
  }
}
