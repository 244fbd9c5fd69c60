// Numbers as the text Redis keeps them in, and bytes as comparable text.

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * The rules Redis's encoders use to decide that a string may be stored as an integer (redis/src/util.c
 * string2ll, redis/src/listpack.c lpStringToInt64): an optional '-', no '+', no leading zeros, no spaces,
 * within int64. Only such strings round-trip unchanged through an integer encoding.
 */
export function canonicalInt64(b: Uint8Array): bigint | undefined {
  const n = b.length;
  if (n === 0 || n > 20) return undefined;
  if (n === 1 && b[0] === 0x30) return 0n;
  const start = b[0] === 0x2d ? 1 : 0;
  if (start === n || b[start]! < 0x31 || b[start]! > 0x39) return undefined;
  let digits = "";
  for (let i = start; i < n; i++) {
    if (b[i]! < 0x30 || b[i]! > 0x39) return undefined;
    digits += String.fromCharCode(b[i]!);
  }
  const v = start ? -BigInt(digits) : BigInt(digits);
  return v > INT64_MAX || v < INT64_MIN ? undefined : v;
}

const encoder = new TextEncoder();

export const decimal = (v: bigint | number): Uint8Array => encoder.encode(String(v));

// windows-1252 as WHATWG defines it maps each of the 256 bytes to a distinct code point.
const latin1 = new TextDecoder("windows-1252");

/** A string equal exactly when the byte strings are equal. */
export const byteText = (b: Uint8Array): string => latin1.decode(b);

/** strtod's reading of a score as Redis writes it (%.17g, "inf", "-inf"); NaN when it is not a number. */
export function parseDouble(b: Uint8Array): number {
  const s = byteText(b).trim().toLowerCase();
  if (s === "inf" || s === "+inf" || s === "infinity" || s === "+infinity") return Infinity;
  if (s === "-inf" || s === "-infinity") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(s)) return NaN;
  return Number(s);
}
