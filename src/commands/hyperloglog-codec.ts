// Redis's HyperLogLog value, byte for byte (the format of redis/src/hyperloglog.c in 7.0): a 16-byte
// header ("HYLL", encoding, 3 reserved bytes, cached cardinality little endian with bit 63 = stale)
// followed by 16384 registers, sparse (run-length opcodes) or dense (6 bits each, LSB first).
// Being exact is what lets a value travel with GET/SET or DUMP/RESTORE between FlyDB and Redis and
// count the same on both sides, so every choice below (hash, seed, opcode splits and merges, when
// to promote, the estimator's arithmetic) follows Redis's, not just the algorithm.

export const HLL_REGISTERS = 16384;
const P = 14;
/** Hash bits left for the run of zeroes: a register holds at most Q + 1 = 51. */
const Q = 64 - P;
const REGISTER_MAX = 63;
const HEADER_SIZE = 16;
export const DENSE_SIZE = HEADER_SIZE + (HLL_REGISTERS * 6) / 8;
export const DENSE = 0;
export const SPARSE = 1;
/** Redis's hll-sparse-max-bytes default: a sparse value that would grow beyond it turns dense. */
export const SPARSE_MAX_BYTES = 3000;

const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const SPARSE_XZERO_MAX_LEN = 16384;
const MAGIC = [0x48, 0x59, 0x4c, 0x4c]; // "HYLL"

// Sparse opcodes: 00xxxxxx ZERO (run of 1..64 zero registers), 01xxxxxx xxxxxxxx XZERO (1..16384),
// 1vvvvvxx VAL (run of 1..4 registers holding 1..32).
const isZero = (b: number) => (b & 0xc0) === 0;
const isXZero = (b: number) => (b & 0xc0) === 0x40;
const isVal = (b: number) => (b & 0x80) !== 0;
const zeroLen = (b: number) => (b & 0x3f) + 1;
const xzeroLen = (b0: number, b1: number) => (((b0 & 0x3f) << 8) | b1) + 1;
const valValue = (b: number) => ((b >> 2) & 0x1f) + 1;
const valLen = (b: number) => (b & 0x3) + 1;
const valOp = (value: number, len: number) => 0x80 | ((value - 1) << 2) | (len - 1);
const zeroOps = (len: number): number[] =>
  len > SPARSE_ZERO_MAX_LEN ? [0x40 | ((len - 1) >> 8), (len - 1) & 0xff] : [len - 1];

/** The checks Redis makes before touching a string as an HLL; false means WRONGTYPE. */
export function isHll(v: Uint8Array): boolean {
  if (v.length < HEADER_SIZE || MAGIC.some((c, i) => v[i] !== c)) return false;
  const encoding = v[4]!;
  return encoding === SPARSE || (encoding === DENSE && v.length === DENSE_SIZE);
}

// ---------------------------------------------------------------------------------------------
// MurmurHash64A on (hi, lo) 32-bit halves, multiplying by 16-bit limbs: every intermediate stays
// an exact small integer, with no BigInt allocation per step.

/** Redis's seed for element hashes. */
const SEED = 0xadc83b19;
// The multiplier 0xc6a4a7935bd1e995 in 16-bit limbs.
const M48 = 0xc6a4,
  M32 = 0xa793,
  M16 = 0x5bd1,
  M00 = 0xe995;
/** The product's halves: mulM's result, read right after the call. */
const product = new Uint32Array(2);

/** (hi, lo) * M mod 2^64 into product = [hi, lo]. */
function mulM(hi: number, lo: number): void {
  const a48 = hi >>> 16,
    a32 = hi & 0xffff,
    a16 = lo >>> 16,
    a00 = lo & 0xffff;
  let c00 = a00 * M00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * M00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * M16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * M00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * M16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * M32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += a48 * M00 + a32 * M16 + a16 * M32 + a00 * M48;
  product[0] = ((c48 & 0xffff) << 16) | c32;
  product[1] = (c16 << 16) | c00;
}

/** MurmurHash64A into product = [hi, lo]. */
function murmur(data: Uint8Array, seed: number): void {
  const len = data.length;
  mulM(0, len);
  let hHi = product[0]!;
  let hLo = (product[1]! ^ seed) >>> 0;
  const blocks = len - (len & 7);
  for (let i = 0; i < blocks; i += 8) {
    const kLo = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    const kHi = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    mulM(kHi >>> 0, kLo >>> 0);
    mulM(product[0]!, (product[1]! ^ (product[0]! >>> 15)) >>> 0);
    mulM((hHi ^ product[0]!) >>> 0, (hLo ^ product[1]!) >>> 0);
    hHi = product[0]!;
    hLo = product[1]!;
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) {
      const b = data[blocks + j]!;
      if (j >= 4) hHi = (hHi ^ (b << (8 * (j - 4)))) >>> 0;
      else hLo = (hLo ^ (b << (8 * j))) >>> 0;
    }
    mulM(hHi, hLo);
    hHi = product[0]!;
    hLo = product[1]!;
  }
  mulM(hHi, (hLo ^ (hHi >>> 15)) >>> 0);
  product[1] = product[1]! ^ (product[0]! >>> 15);
}

/** MurmurHash64A as the (hi, lo) halves of the 64-bit hash. */
export function murmurHash64A(data: Uint8Array, seed: number): [number, number] {
  murmur(data, seed);
  return [product[0]!, product[1]!];
}

const ctz32 = (x: number) => 31 - Math.clz32(x & -x);

/** The register an element lands in and the length of its "000…1" run (1..51), as index * 64 + run. */
function patLen(element: Uint8Array): number {
  murmur(element, SEED);
  const hi = product[0]!,
    lo = product[1]!;
  const bits14to45 = ((lo >>> P) | (hi << (32 - P))) >>> 0;
  // Bit Q of the shifted hash is forced to 1 so the run ends by Q + 1.
  const bits46up = ((hi >>> P) | (1 << (Q - 32))) >>> 0;
  const count = bits14to45 !== 0 ? ctz32(bits14to45) + 1 : 32 + ctz32(bits46up) + 1;
  return (lo & (HLL_REGISTERS - 1)) * 64 + count;
}

// ---------------------------------------------------------------------------------------------
// Dense registers.

function denseGet(v: Uint8Array, reg: number): number {
  const byte = HEADER_SIZE + ((reg * 6) >> 3);
  const fb = (reg * 6) & 7;
  return ((v[byte]! >> fb) | ((v[byte + 1] ?? 0) << (8 - fb))) & REGISTER_MAX;
}

function denseSetRaw(v: Uint8Array, reg: number, value: number): void {
  const byte = HEADER_SIZE + ((reg * 6) >> 3);
  const fb = (reg * 6) & 7;
  v[byte] = (v[byte]! & ~(REGISTER_MAX << fb)) | (value << fb);
  if (fb > 2) v[byte + 1] = (v[byte + 1]! & ~(REGISTER_MAX >> (8 - fb))) | (value >> (8 - fb));
}

/** Raises a register; 1 when it changed. */
function denseSet(v: Uint8Array, reg: number, count: number): 0 | 1 {
  if (count <= denseGet(v, reg)) return 0;
  denseSetRaw(v, reg, count);
  return 1;
}

// ---------------------------------------------------------------------------------------------
// The value being edited: sparse edits insert and remove bytes in the middle, so it keeps spare room.

/** One HLL value under edit: construct from stored bytes (copied), read back `bytes`. */
export class Hll {
  private buf: Uint8Array;
  private len: number;

  constructor(value?: Uint8Array) {
    if (value) {
      this.buf = new Uint8Array(value.length + 64);
      this.buf.set(value);
      this.len = value.length;
    } else {
      // An empty HLL: sparse, every register in one XZERO run.
      this.buf = new Uint8Array(64);
      this.buf.set(MAGIC);
      this.buf[4] = SPARSE;
      this.buf.set(zeroOps(SPARSE_XZERO_MAX_LEN), HEADER_SIZE);
      this.len = HEADER_SIZE + 2;
    }
  }

  get bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  get encoding(): typeof DENSE | typeof SPARSE {
    return this.buf[4] === DENSE ? DENSE : SPARSE;
  }

  /** Adds an element; 1 when a register changed, -1 for a corrupt sparse value. */
  add(element: Uint8Array, sparseMaxBytes = SPARSE_MAX_BYTES): 0 | 1 | -1 {
    const pat = patLen(element);
    return this.set(pat >> 6, pat & 63, sparseMaxBytes);
  }

  /** Raises register `index` to `count`; 1 when it changed, -1 for a corrupt sparse value. */
  set(index: number, count: number, sparseMaxBytes = SPARSE_MAX_BYTES): 0 | 1 | -1 {
    if (this.encoding === DENSE) return denseSet(this.buf, index, count);
    const r = this.sparseSet(index, count, sparseMaxBytes);
    if (r !== "promote") return r;
    if (!this.toDense()) return -1;
    return denseSet(this.buf, index, count);
  }

  /** Marks the cached cardinality stale, as every change does. */
  invalidateCache(): void {
    this.buf[15]! |= 0x80;
  }

  /** The cached cardinality, or undefined when stale. */
  cachedCount(): bigint | undefined {
    if (this.buf[15]! & 0x80) return undefined;
    let card = 0n;
    for (let i = 15; i >= 8; i--) card = (card << 8n) | BigInt(this.buf[i]!);
    return card;
  }

  setCachedCount(card: number): void {
    let c = BigInt(card);
    for (let i = 8; i < 16; i++, c >>= 8n) this.buf[i] = Number(c & 0xffn);
  }

  /** Converts to dense (a no-op when dense); false when the sparse value is corrupt. */
  toDense(): boolean {
    if (this.encoding === DENSE) return true;
    const dense = new Uint8Array(DENSE_SIZE);
    dense.set(this.buf.subarray(0, HEADER_SIZE));
    dense[4] = DENSE;
    if (!this.forEachSparseRegister((reg, value) => denseSetRaw(dense, reg, value))) return false;
    this.buf = dense;
    this.len = DENSE_SIZE;
    return true;
  }

  /** The estimated cardinality, or undefined when the sparse runs do not cover the registers exactly. */
  count(): number | undefined {
    const histogram = new Array<number>(64).fill(0);
    if (this.encoding === DENSE) {
      for (let i = 0; i < HLL_REGISTERS; i++) histogram[denseGet(this.buf, i)]!++;
      return estimate(histogram);
    }
    let reg = 0;
    for (let p = HEADER_SIZE; p < this.len; ) {
      const b = this.buf[p]!;
      if (isZero(b) || isXZero(b)) {
        const n = isZero(b) ? zeroLen(b) : xzeroLen(b, this.buf[p + 1] ?? 0);
        histogram[0]! += n;
        reg += n;
        p += isZero(b) ? 1 : 2;
      } else {
        histogram[valValue(b)]! += valLen(b);
        reg += valLen(b);
        p++;
      }
    }
    return reg === HLL_REGISTERS ? estimate(histogram) : undefined;
  }

  /** max[i] = max(max[i], register i); false when the sparse value is corrupt. */
  mergeInto(max: Uint8Array): boolean {
    if (this.encoding === DENSE) {
      for (let i = 0; i < HLL_REGISTERS; i++) max[i] = Math.max(max[i]!, denseGet(this.buf, i));
      return true;
    }
    return this.forEachSparseRegister((reg, value) => {
      max[reg] = Math.max(max[reg]!, value);
    });
  }

  /**
   * Calls `visit` for each register a sparse VAL run sets (ZERO and XZERO runs are skipped), as
   * Redis's hllSparseToDense walks them: a VAL run past the last register ends the walk. False
   * when the runs do not cover the registers exactly (a corrupt value).
   */
  private forEachSparseRegister(visit: (reg: number, value: number) => void): boolean {
    let reg = 0;
    for (let p = HEADER_SIZE; p < this.len; ) {
      const b = this.buf[p]!;
      if (isZero(b)) {
        reg += zeroLen(b);
        p++;
      } else if (isXZero(b)) {
        reg += xzeroLen(b, this.buf[p + 1] ?? 0);
        p += 2;
      } else {
        const n = valLen(b);
        if (reg + n > HLL_REGISTERS) break;
        for (let i = 0; i < n; i++) visit(reg++, valValue(b));
        p++;
      }
    }
    return reg === HLL_REGISTERS;
  }

  /** Every register of a dense value. */
  registers(): number[] {
    return Array.from({ length: HLL_REGISTERS }, (_, i) => denseGet(this.buf, i));
  }

  /** PFDEBUG DECODE's listing of the sparse opcodes: "z:len", "Z:len", "v:value,len". */
  decode(): string {
    const out: string[] = [];
    for (let p = HEADER_SIZE; p < this.len; ) {
      const b = this.buf[p]!;
      if (isZero(b)) {
        out.push(`z:${zeroLen(b)}`);
        p++;
      } else if (isXZero(b)) {
        out.push(`Z:${xzeroLen(b, this.buf[p + 1] ?? 0)}`);
        p += 2;
      } else {
        out.push(`v:${valValue(b)},${valLen(b)}`);
        p++;
      }
    }
    return out.join(" ");
  }

  private splice(at: number, remove: number, insert: readonly number[]): void {
    const grown = this.len - remove + insert.length;
    if (grown > this.buf.length) {
      const bigger = new Uint8Array(grown * 2);
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.copyWithin(at + insert.length, at + remove, this.len);
    this.buf.set(insert, at);
    // Bytes past the end read as zero, like the terminator after Redis's sds string.
    if (grown < this.len) this.buf.fill(0, grown, this.len);
    this.len = grown;
  }

  /**
   * Redis's in-place sparse update: the opcode covering the register is split into at most
   * three, then adjacent equal VAL runs near it are merged. "promote" when the value must turn
   * dense (count beyond a VAL's range, or the value would outgrow sparseMaxBytes).
   */
  private sparseSet(index: number, count: number, sparseMaxBytes: number): 0 | 1 | -1 | "promote" {
    if (count > SPARSE_VAL_MAX_VALUE) return "promote";
    const b = this.buf;
    let p = HEADER_SIZE;
    let prev = -1;
    let first = 0;
    let span = 0;
    while (p < this.len) {
      const op = b[p]!;
      const oplen = isXZero(op) ? 2 : 1;
      span = isZero(op) ? zeroLen(op) : isVal(op) ? valLen(op) : xzeroLen(op, b[p + 1] ?? 0);
      if (index <= first + span - 1) break;
      prev = p;
      p += oplen;
      first += span;
    }
    if (span === 0 || p >= this.len) return -1;
    const op = b[p]!;
    const last = first + span - 1;
    let replacement: number[];
    if (isVal(op)) {
      const current = valValue(op);
      if (current >= count) return 0;
      if (valLen(op) === 1) {
        b[p] = valOp(count, 1);
        this.mergeValRuns(prev);
        return 1;
      }
      replacement = [
        ...(index !== first ? [valOp(current, index - first)] : []),
        valOp(count, 1),
        ...(index !== last ? [valOp(current, last - index)] : []),
      ];
    } else if (isZero(op) && zeroLen(op) === 1) {
      b[p] = valOp(count, 1);
      this.mergeValRuns(prev);
      return 1;
    } else {
      replacement = [
        ...(index !== first ? zeroOps(index - first) : []),
        valOp(count, 1),
        ...(index !== last ? zeroOps(last - index) : []),
      ];
    }
    const oldLen = isXZero(op) ? 2 : 1;
    const delta = replacement.length - oldLen;
    if (delta > 0 && this.len + delta > sparseMaxBytes) return "promote";
    this.splice(p, oldLen, replacement);
    this.mergeValRuns(prev);
    return 1;
  }

  /** Merges equal adjacent VAL opcodes within the five opcodes from `prev` (or the first). */
  private mergeValRuns(prev: number): void {
    let p = prev >= 0 ? prev : HEADER_SIZE;
    let budget = 5;
    while (p < this.len && budget-- > 0) {
      const op = this.buf[p]!;
      if (isXZero(op)) {
        p += 2;
        continue;
      }
      if (isZero(op)) {
        p++;
        continue;
      }
      const next = this.buf[p + 1]!;
      if (p + 1 < this.len && isVal(next) && valValue(op) === valValue(next)) {
        const len = valLen(op) + valLen(next);
        if (len <= SPARSE_VAL_MAX_LEN) {
          this.buf[p + 1] = valOp(valValue(op), len);
          this.splice(p, 1, []);
          continue;
        }
      }
      p++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The estimator of Redis 7: Otmar Ertl, "New cardinality estimation algorithms for HyperLogLog
// sketches" (arXiv:1702.01284), over the histogram of register values.

// 0.5 / ln 2: Redis's HLL_ALPHA_INF (0.721347520444481703680) written as the double it rounds to.
const ALPHA_INF = 0.7213475204444817;

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let prev: number;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (prev !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let prev: number;
  do {
    x = Math.sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (prev !== z);
  return z / 3;
}

/** Cardinality from histogram[v] = how many registers hold v (64 entries). */
export function estimate(histogram: readonly number[]): number {
  const m = HLL_REGISTERS;
  let z = m * tau((m - histogram[Q + 1]!) / m);
  for (let j = Q; j >= 1; j--) {
    z += histogram[j]!;
    z *= 0.5;
  }
  z += m * sigma(histogram[0]! / m);
  return Math.round((ALPHA_INF * m * m) / z);
}

/** The cardinality of plain byte registers (the union PFCOUNT of several keys builds). */
export function countRegisters(max: Uint8Array): number {
  const histogram = new Array<number>(64).fill(0);
  for (const v of max) histogram[v]!++;
  return estimate(histogram);
}

// ---------------------------------------------------------------------------------------------

/**
 * PFSELFTEST: register packing round-trips random values, and dense and sparse HLLs fed the same
 * 10 million 8-byte elements agree and stay within six standard errors at every power of ten.
 * Undefined on success, else the error text Redis gives.
 */
export function selfTest(random: () => number, sparseMaxBytes = SPARSE_MAX_BYTES): string | undefined {
  const dense = new Uint8Array(DENSE_SIZE);
  const expected = new Uint8Array(HLL_REGISTERS);
  for (let cycle = 0; cycle < 1000; cycle++) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      expected[i] = Math.floor(random() * 64);
      denseSetRaw(dense, i, expected[i]!);
    }
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const v = denseGet(dense, i);
      if (v !== expected[i]) return `TESTFAILED Register ${i} should be ${expected[i]} but is ${v}`;
    }
  }
  const a = new Hll();
  a.toDense();
  const b = new Hll();
  const relerr = 1.04 / Math.sqrt(HLL_REGISTERS);
  const seedLo = Math.floor(random() * 2 ** 32);
  const seedHi = Math.floor(random() * 2 ** 32);
  const element = new Uint8Array(8);
  const view = new DataView(element.buffer);
  let checkpoint = 1;
  for (let j = 1; j <= 10_000_000; j++) {
    view.setUint32(0, (j ^ seedLo) >>> 0, true);
    view.setUint32(4, seedHi, true);
    const pat = patLen(element);
    a.set(pat >> 6, pat & 63, sparseMaxBytes);
    b.set(pat >> 6, pat & 63, sparseMaxBytes);
    if (j !== checkpoint) continue;
    if (j < sparseMaxBytes / 2 && b.encoding !== SPARSE) return "TESTFAILED sparse encoding not used";
    const card = a.count()!;
    if (card !== b.count()) return "TESTFAILED dense/sparse disagree";
    const abserr = Math.abs(checkpoint - card);
    const maxerr = j === 10 ? 1 : Math.ceil(relerr * 6 * checkpoint);
    if (abserr > maxerr) return `TESTFAILED Too big error. card:${checkpoint} abserr:${abserr}`;
    checkpoint *= 10;
  }
  return undefined;
}
