// Integers written as decimal strings, with the rules Redis's encoders use to decide that a
// string may be stored as an integer (src/util.c string2ll, src/listpack.c lpStringToInt64): an
// optional '-', no '+', no leading zeros, no spaces, within int64. Only such strings round-trip
// unchanged through an integer encoding.

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

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
