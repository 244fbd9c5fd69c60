// The HLL codec on its own: the split-word MurmurHash64A against a BigInt rendering of the same
// algorithm, the empty value's exact bytes, promotion to dense, corruption detection, the estimator.
import { describe, expect, test } from "bun:test";
import {
  countRegisters,
  DENSE,
  DENSE_SIZE,
  Hll,
  HLL_REGISTERS,
  isHll,
  murmurHash64A,
  selfTest,
  SPARSE,
} from "../../src/commands/hyperloglog-codec.ts";
import { seededRandom } from "../../src/lib/prng.ts";

const M = 0xc6a4a7935bd1e995n;
const U64 = (x: bigint) => BigInt.asUintN(64, x);

/** MurmurHash64A written the obvious way, to check the fast one. */
function reference(data: Uint8Array, seed: number): bigint {
  let h = U64(BigInt(seed) ^ U64(BigInt(data.length) * M));
  const blocks = data.length - (data.length & 7);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(data[i + j]!);
    k = U64(k * M);
    k ^= k >> 47n;
    k = U64(k * M);
    h = U64((h ^ k) * M);
  }
  if (data.length & 7) {
    for (let j = (data.length & 7) - 1; j >= 0; j--) h ^= BigInt(data[blocks + j]!) << BigInt(8 * j);
    h = U64(h * M);
  }
  h ^= h >> 47n;
  h = U64(h * M);
  return h ^ (h >> 47n);
}

const text = (s: string) => new TextEncoder().encode(s);

describe("hyperloglog codec", () => {
  test("MurmurHash64A matches the 64-bit reference for every tail length and byte value", () => {
    const random = seededRandom(3);
    for (let n = 0; n < 2000; n++) {
      const data = new Uint8Array(n % 70).map(() => Math.floor(random() * 256));
      const seed = n % 2 ? 0xadc83b19 : Math.floor(random() * 2 ** 32);
      const [hi, lo] = murmurHash64A(data, seed);
      expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(reference(data, seed));
    }
  });

  test("an empty HLL is Redis's 18 bytes: header, stale-free zero cache, one XZERO of 16384", () => {
    const empty = new Hll().bytes;
    expect([...empty]).toEqual([...text("HYLL"), SPARSE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff]);
    expect(isHll(empty)).toBe(true);
    expect(new Hll(empty).count()).toBe(0);
  });

  test("sparse until the value would pass sparseMaxBytes, then dense with the same registers", () => {
    const hll = new Hll();
    const registers = new Uint8Array(HLL_REGISTERS);
    let n = 0;
    while (hll.encoding === SPARSE) {
      expect(hll.bytes.length).toBeLessThanOrEqual(300);
      hll.add(text(`e${n++}`), 300);
    }
    expect(hll.bytes.length).toBe(DENSE_SIZE);
    expect(hll.encoding).toBe(DENSE);
    const sparse = new Hll();
    for (let i = 0; i < n; i++) sparse.add(text(`e${i}`));
    expect(sparse.encoding).toBe(SPARSE);
    expect(sparse.mergeInto(registers)).toBe(true);
    expect(hll.registers()).toEqual([...registers]);
    expect(sparse.count()).toBe(hll.count()!);
    expect(countRegisters(registers)).toBe(hll.count()!);
  });

  test("the cached cardinality lives in bytes 8..15 with bit 63 marking it stale", () => {
    const hll = new Hll();
    hll.add(text("a"));
    hll.invalidateCache();
    expect(hll.cachedCount()).toBeUndefined();
    hll.setCachedCount(0x1234);
    expect([...hll.bytes.subarray(8, 16)]).toEqual([0x34, 0x12, 0, 0, 0, 0, 0, 0]);
    expect(hll.cachedCount()).toBe(0x1234n);
  });

  test("corrupt values: short sparse runs are detected, other strings are not HLLs", () => {
    const hll = new Hll();
    hll.add(text("a"));
    const truncated = hll.bytes.subarray(0, hll.bytes.length - 1);
    expect(new Hll(truncated).count()).toBeUndefined();
    expect(new Hll(truncated).toDense()).toBe(false);
    expect(new Hll(truncated).mergeInto(new Uint8Array(HLL_REGISTERS))).toBe(false);
    expect(isHll(text("HYLL"))).toBe(false);
    expect(isHll(new Uint8Array([...text("HYLX"), 1, ...new Array<number>(13).fill(0)]))).toBe(false);
    expect(isHll(new Uint8Array([...text("HYLL"), 2, ...new Array<number>(13).fill(0)]))).toBe(false);
    expect(isHll(new Uint8Array([...text("HYLL"), DENSE, ...new Array<number>(13).fill(0)]))).toBe(false);
  });

  test("PFSELFTEST's checks pass", () => {
    expect(selfTest(seededRandom(1))).toBeUndefined();
  });
});
