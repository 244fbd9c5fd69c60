// INCRBYFLOAT and HINCRBYFLOAT in Redis compute in x87 80-bit long double and print with
// "%.17Lf" before trimming zeros. Plain JS doubles print 0.1+0.2 as 0.30000000000000004 where
// Redis prints 0.3, so we emulate the 64-bit-mantissa arithmetic exactly with BigInt.

const MANT_BITS = 64;
const MANT_MIN = 1n << BigInt(MANT_BITS - 1);
const MANT_LIMIT = 1n << BigInt(MANT_BITS);
const MAX_EXP = 16384; // beyond it a long double overflows to infinity
const DEC_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
// strtold also reads C99 hex floats: 0x10 is 16, 0x1.8p1 is 3.
const HEX_RE = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
/** What strtold reads as an infinity; Redis accepts it as a value, then refuses to store the result. */
export const INFINITY_RE = /^[+-]?inf(inity)?$/i;

/** sign · m · 2^e with MANT_MIN <= m < MANT_LIMIT, or zero (m = 0). */
interface LongDouble {
  readonly neg: boolean;
  readonly m: bigint;
  readonly e: number;
}

const bitLength = (n: bigint) => n.toString(2).length;

/** Rounds num/den · 2^e0 (num >= 0, den > 0) to the nearest long double, ties to even. */
function round(neg: boolean, num: bigint, den: bigint, e0: number): LongDouble | undefined {
  if (num === 0n) return { neg, m: 0n, e: 0 };
  let e = bitLength(num) - bitLength(den) - MANT_BITS;
  for (;;) {
    const n2 = e >= 0 ? num : num << BigInt(-e);
    const d2 = e >= 0 ? den << BigInt(e) : den;
    let q = n2 / d2;
    if (q >= MANT_LIMIT) {
      e++;
      continue;
    }
    if (q < MANT_MIN) {
      e--;
      continue;
    }
    const twice = 2n * (n2 % d2);
    if (twice > d2 || (twice === d2 && (q & 1n) === 1n)) q++;
    if (q === MANT_LIMIT) {
      q >>= 1n;
      e++;
    }
    const exp = e + e0;
    if (exp + MANT_BITS > MAX_EXP) return undefined;
    return { neg, m: q, e: exp };
  }
}

/** strtold for decimal and hex text; undefined for what Redis rejects, overflow and underflow. */
export function parseLongDouble(s: string): LongDouble | undefined {
  const h = HEX_RE.exec(s);
  if (h) {
    const digits = (h[2] ?? "") + (h[3] ?? "");
    if (digits === "") return undefined;
    const mant = BigInt(`0x${digits}`);
    const exp2 = Number(h[4] ?? "0") - 4 * (h[3] ?? "").length;
    if (mant === 0n) return { neg: h[1] === "-", m: 0n, e: 0 };
    if (Math.abs(exp2) > 20_000) return undefined;
    return round(h[1] === "-", mant, 1n, exp2);
  }
  const d = DEC_RE.exec(s);
  if (!d || (d[2] === "" && (d[3] ?? "") === "")) return undefined;
  const digits = (d[2] ?? "") + (d[3] ?? "");
  const exp10 = Number(d[4] ?? "0") - (d[3] ?? "").length;
  const neg = d[1] === "-";
  const mant = BigInt(digits === "" ? "0" : digits);
  if (mant === 0n) return { neg, m: 0n, e: 0 };
  const magnitude = digits.replace(/^0+/, "").length + exp10;
  if (magnitude > 4940) return undefined;
  // strtold underflows to zero with ERANGE, which Redis's string2ld rejects.
  if (magnitude < -4960) return undefined;
  return exp10 >= 0 ? round(neg, mant * 10n ** BigInt(exp10), 1n, 0) : round(neg, mant, 10n ** BigInt(-exp10), 0);
}

export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | undefined {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const sa = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const sb = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const sum = sa + sb;
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** The long double a finite double widens to (exactly, as C's implicit conversion does). */
export function longDoubleOf(x: number): LongDouble {
  if (x === 0) return { neg: Object.is(x, -0), m: 0n, e: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  // Subnormals have no implicit leading bit and the smallest exponent.
  return biased === 0 ? round(x < 0, fraction, 1n, -1074)! : round(x < 0, fraction | (1n << 52n), 1n, biased - 1075)!;
}

/** "%.17Lf" with trailing zeros (and a trailing dot) removed, as Redis's ld2string(LD_STR_HUMAN). */
export function formatLongDouble(v: LongDouble): string {
  const SCALE = 10n ** 17n;
  let scaled: bigint;
  if (v.e >= 0) {
    scaled = (v.m << BigInt(v.e)) * SCALE;
  } else {
    const den = 1n << BigInt(-v.e);
    const n = v.m * SCALE;
    scaled = n / den;
    const twice = 2n * (n % den);
    if (twice > den || (twice === den && (scaled & 1n) === 1n)) scaled++;
  }
  const intPart = (scaled / SCALE).toString();
  const frac = (scaled % SCALE).toString().padStart(17, "0").replace(/0+$/, "");
  const text = frac === "" ? intPart : `${intPart}.${frac}`;
  return v.neg && text !== "0" ? `-${text}` : text;
}
