// Pure helpers of the collection commands: Redis 7.0's score printing, Redis's index clamping,
// and the count rules of random picks.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { clampRange, pickRandom } from "../../src/commands/collection.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { formatDouble } from "../../src/resp/encoder.ts";

test("scores print like Redis 7.0's %.17g (values seen from redis-server 7.0.15)", () => {
  const seen: [number, string][] = [
    [0.1, "0.10000000000000001"],
    [1e300, "1.0000000000000001e+300"],
    [1.5e-7, "1.4999999999999999e-07"],
    [3, "3"],
    [1.5, "1.5"],
    [-2.5, "-2.5"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [0, "0"],
    [1e17, "1e+17"],
    [123456789012345680, "1.2345678901234568e+17"],
    [0.0001, "0.0001"],
    [0.00001, "1.0000000000000001e-05"],
  ];
  for (const [d, text] of seen) expect([d, formatDouble(d)]).toEqual([d, text]);
});

test("formatDouble round-trips every finite double", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
      expect(Number(formatDouble(d))).toBe(d);
    }),
  );
});

test("clampRange follows LRANGE/ZRANGE index rules", () => {
  expect(clampRange(0, -1, 5)).toEqual({ start: 0, stop: 4 });
  expect(clampRange(-100, 100, 5)).toEqual({ start: 0, stop: 4 });
  expect(clampRange(3, 1, 5)).toBeUndefined();
  expect(clampRange(5, 10, 5)).toBeUndefined();
  expect(clampRange(-2, -1, 5)).toEqual({ start: 3, stop: 4 });
  expect(clampRange(0, 0, 0)).toBeUndefined();
});

test("random picks: positive counts are distinct and capped, negative ones repeat and are exact", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(1000), { maxLength: 30 }),
      fc.integer({ min: -50, max: 50 }),
      fc.nat(),
      (all, count, seed) => {
        fc.pre(all.length > 0);
        const picked = pickRandom(all, count, seededRandom(seed));
        for (const x of picked) expect(all).toContain(x);
        if (count >= 0) {
          expect(picked.length).toBe(Math.min(count, all.length));
          expect(new Set(picked).size).toBe(picked.length);
        } else expect(picked.length).toBe(-count);
        // Same seed, same picks: what makes SPOP agree on every replica.
        expect(pickRandom(all, count, seededRandom(seed))).toEqual(picked);
      },
    ),
  );
});
