// LZF (liblzf, which Redis bundles as src/lzf_*.c), the compression of RDB strings. A stream is a
// sequence of chunks: a control byte below 32 starts a literal run of ctrl+1 bytes; otherwise its
// top 3 bits are a back-reference length - 2 (7: one more length byte follows) and its low 5 bits
// with the next byte the distance - 1 to copy from (at most 8192 back).
import { check } from "./errors.ts";

const MAX_LITERAL = 32;
const MAX_OFFSET = 1 << 13;
const MAX_MATCH = 7 + 255 + 2;
const HASH_BITS = 14;

/**
 * Decompresses `input`, which must expand to exactly `outLen` bytes (Redis stores the length
 * next to the compressed data and refuses a mismatch).
 */
export function lzfDecompress(input: Uint8Array, outLen: number): Uint8Array {
  // Checked before allocating, so a forged length cannot ask for gigabytes: the densest chunk is
  // a 3-byte reference that yields MAX_MATCH bytes.
  const most = Math.ceil(input.length / 3) * MAX_MATCH;
  check(outLen <= most, `LZF data of ${input.length} bytes cannot expand to ${outLen}`);
  const out = new Uint8Array(outLen);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const n = ctrl + 1;
      check(op + n <= outLen && ip + n <= input.length, "LZF literal run past the end");
      out.set(input.subarray(ip, ip + n), op);
      ip += n;
      op += n;
      continue;
    }
    let len = ctrl >> 5;
    if (len === 7) {
      check(ip < input.length, "LZF back-reference truncated");
      len += input[ip++]!;
    }
    check(ip < input.length, "LZF back-reference truncated");
    const ref = op - ((ctrl & 0x1f) << 8) - input[ip++]! - 1;
    len += 2;
    check(ref >= 0 && op + len <= outLen, "LZF back-reference out of range");
    // Byte by byte: a reference may overlap the bytes it produces (a run).
    for (let i = 0; i < len; i++) out[op + i] = out[ref + i]!;
    op += len;
  }
  check(op === outLen, `LZF data expands to ${op} bytes, expected ${outLen}`);
  return out;
}

/**
 * Compresses `input`, or returns undefined when the result would not be shorter than
 * `input.length - 4` bytes: Redis's rule for storing a string compressed (redis/src/rdb.c).
 */
export function lzfCompress(input: Uint8Array): Uint8Array | undefined {
  const limit = input.length - 4;
  if (limit <= 0) return undefined;
  // Worst case: every byte a literal, one control byte per run.
  const out = new Uint8Array(input.length + Math.ceil(input.length / MAX_LITERAL) + 8);
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  let op = 0;
  let litStart = 0;
  const flushLiterals = (end: number) => {
    for (let s = litStart; s < end; s += MAX_LITERAL) {
      const n = Math.min(MAX_LITERAL, end - s);
      out[op++] = n - 1;
      out.set(input.subarray(s, s + n), op);
      op += n;
    }
  };
  let ip = 0;
  while (ip + 2 < input.length && op < limit) {
    const v = (input[ip]! << 16) | (input[ip + 1]! << 8) | input[ip + 2]!;
    const h = (Math.imul(v, 0x9e3779b1) >>> (32 - HASH_BITS)) & ((1 << HASH_BITS) - 1);
    const ref = table[h]!;
    table[h] = ip;
    const off = ip - ref - 1;
    const same =
      ref >= 0 && input[ref] === input[ip] && input[ref + 1] === input[ip + 1] && input[ref + 2] === input[ip + 2];
    if (!same || off >= MAX_OFFSET) {
      ip++;
      continue;
    }
    let len = 3;
    const maxLen = Math.min(MAX_MATCH, input.length - ip);
    while (len < maxLen && input[ref + len] === input[ip + len]) len++;
    flushLiterals(ip);
    const code = len - 2;
    if (code < 7) {
      out[op++] = (off >> 8) | (code << 5);
    } else {
      out[op++] = (off >> 8) | (7 << 5);
      out[op++] = code - 7;
    }
    out[op++] = off & 0xff;
    ip += len;
    litStart = ip;
  }
  if (op >= limit) return undefined;
  flushLiterals(input.length);
  return op < limit ? out.slice(0, op) : undefined;
}
