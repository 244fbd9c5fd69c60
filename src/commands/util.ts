// Byte and number helpers with Redis's exact parsing rules, shared by every command file.
import { err, type Reply } from "../resp/reply.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const str = (b: Uint8Array): string => decoder.decode(b);
// windows-1252 as WHATWG defines it maps each of the 256 bytes to a distinct code point.
const byteDecoder = new TextDecoder("windows-1252");
/** A string equal exactly when the byte strings are equal: a Map/Set key for binary members. */
export const byteKey = (b: Uint8Array): string => byteDecoder.decode(b);

/**
 * Latin-1 view of the first 128 bytes, for command and option names and error echoes: never fails on
 * binary input. Every command's name goes through it, so a plain loop: spreading a subarray into
 * `String.fromCharCode` cost ~9× more for a 3-byte name (an iterator per call; issue #20).
 */
export function ascii(b: Uint8Array): string {
  const n = Math.min(b.length, 128);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[i]!);
  return s;
}
export const lower = (b: Uint8Array): string => ascii(b).toLowerCase();

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** memcmp order, a shorter prefix first: how Redis orders members of equal score and SORT's strings. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export const E = {
  syntax: err("ERR syntax error"),
  notInt: err("ERR value is not an integer or out of range"),
  notFloat: err("ERR value is not a valid float"),
  wrongType: err("WRONGTYPE Operation against a key holding the wrong kind of value"),
  noSuchKey: err("ERR no such key"),
  overflow: err("ERR increment or decrement would overflow"),
  dbIndex: err("ERR DB index is out of range"),
  noAuth: err("NOAUTH Authentication required."),
  invalidCursor: err("ERR invalid cursor"),
  arity: (name: string): Reply => err(`ERR wrong number of arguments for '${name}' command`),
  expireTime: (name: string): Reply => err(`ERR invalid expire time in '${name}' command`),
} as const;

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;

/**
 * Redis's string2ll: an optional '-', no '+', no leading zeros, no spaces, fits in int64.
 * Returns a bigint because int64 values exceed JavaScript's safe integers.
 */
export function parseInt64(b: Uint8Array): bigint | undefined {
  const n = b.length;
  if (n === 0 || n > 20) return undefined;
  if (n === 1 && b[0] === 0x30) return 0n;
  let i = 0;
  if (b[0] === 0x2d) {
    i = 1;
    if (n === 1) return undefined;
  }
  if (b[i]! < 0x31 || b[i]! > 0x39) return undefined;
  for (let j = i + 1; j < n; j++) if (b[j]! < 0x30 || b[j]! > 0x39) return undefined;
  const v = BigInt(ascii(b));
  return v > INT64_MAX || v < INT64_MIN ? undefined : v;
}

/** parseInt64 narrowed to a JS number (safe for counts, indexes and millisecond times). */
export function parseIntArg(b: Uint8Array): number | undefined {
  const v = parseInt64(b);
  return v === undefined ? undefined : Number(v);
}

const FLOAT_RE = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)$/i;

/** Redis's string2ld/strtod rules: no surrounding spaces, no NaN; "inf" and "-inf" allowed. */
export function parseFloatArg(b: Uint8Array): number | undefined {
  if (b.length === 0 || b.length > 5000) return undefined;
  // Whole, not ascii(): that view stops at 128 bytes, and DBL_MAX written out has 309 digits.
  const s = str(b);
  if (!FLOAT_RE.test(s)) return undefined;
  const lo = s.toLowerCase();
  if (lo.endsWith("inf") || lo.endsWith("infinity")) return lo.startsWith("-") ? -Infinity : Infinity;
  return Number(s);
}

/**
 * Redis's stringmatchlen glob: * ? [abc] [^a] [a-z] and \ escapes, on bytes.
 * Iterative with backtracking on the last '*', so hostile patterns stay linear-ish.
 */
export function globMatch(pattern: Uint8Array, s: Uint8Array, nocase = false): boolean {
  const fold = (c: number) => (nocase && c >= 0x41 && c <= 0x5a ? c + 32 : c);
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < pattern.length) {
      const pc = pattern[p]!;
      if (pc === 0x2a) {
        while (p + 1 < pattern.length && pattern[p + 1] === 0x2a) p++;
        starP = p++;
        starI = i;
        continue;
      }
      if (pc === 0x3f) {
        p++;
        i++;
        continue;
      }
      if (pc === 0x5b) {
        const r = matchClass(pattern, p, fold(s[i]!), fold);
        if (r.matched) {
          p = r.next;
          i++;
          continue;
        }
      } else {
        let lit = pc;
        let adv = 1;
        if (pc === 0x5c && p + 1 < pattern.length) {
          lit = pattern[p + 1]!;
          adv = 2;
        }
        if (fold(lit) === fold(s[i]!)) {
          p += adv;
          i++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    i = ++starI;
  }
  while (p < pattern.length && pattern[p] === 0x2a) p++;
  return p === pattern.length;
}

function matchClass(
  pattern: Uint8Array,
  start: number,
  c: number,
  fold: (c: number) => number,
): { matched: boolean; next: number } {
  let p = start + 1;
  const not = pattern[p] === 0x5e;
  if (not) p++;
  let match = false;
  while (p < pattern.length && pattern[p] !== 0x5d) {
    if (pattern[p] === 0x5c && p + 1 < pattern.length) {
      p++;
      if (fold(pattern[p]!) === c) match = true;
    } else if (p + 2 < pattern.length && pattern[p + 1] === 0x2d && pattern[p + 2] !== 0x5d) {
      let a = fold(pattern[p]!);
      let b = fold(pattern[p + 2]!);
      if (a > b) [a, b] = [b, a];
      if (c >= a && c <= b) match = true;
      p += 2;
    } else if (fold(pattern[p]!) === c) {
      match = true;
    }
    p++;
  }
  // An unterminated class ends at the pattern's end, as in Redis.
  const next = p < pattern.length ? p + 1 : p;
  return { matched: not ? !match : match, next };
}
