import { expect, test } from "bun:test";
import { KeyAccess } from "../../src/commands/key-access.ts";

const k = (s: string) => new TextEncoder().encode(s);

test("idle time counts from the last access, or from the start for a key never seen", () => {
  const a = new KeyAccess(1_000);
  expect(a.idleMs(0, k("never"), 5_000)).toBe(4_000);
  a.touch(0, [k("x")], 3_000);
  expect(a.idleMs(0, k("x"), 5_000)).toBe(2_000);
  const long = new Uint8Array(1000).fill(7);
  const other = long.slice();
  other[999] = 8;
  a.touch(0, [long], 4_000);
  expect(a.idleMs(0, long, 5_000)).toBe(1_000);
  expect(a.idleMs(0, other, 5_000)).toBe(4_000);
});

test("past its capacity the least recently accessed keys are forgotten", () => {
  const a = new KeyAccess(0, 2);
  a.touch(0, [k("a")], 10);
  a.touch(0, [k("b")], 20);
  a.touch(0, [k("a")], 30);
  a.touch(0, [k("c")], 40);
  expect(a.idleMs(0, k("b"), 100)).toBe(100);
  expect(a.idleMs(0, k("a"), 100)).toBe(70);
  expect(a.idleMs(0, k("c"), 100)).toBe(60);
});

test("the same key name in two databases is accessed apart", () => {
  const a = new KeyAccess(0);
  a.touch(1, [k("x")], 30);
  expect(a.idleMs(1, k("x"), 100)).toBe(70);
  expect(a.idleMs(0, k("x"), 100)).toBe(100);
});

test("a key accessed again after older ones were forgotten is kept; the oldest goes", () => {
  const a = new KeyAccess(0, 2);
  a.touch(0, [k("a")], 10);
  a.touch(0, [k("b")], 20);
  a.touch(0, [k("c")], 30); // forgets a
  a.touch(0, [k("b")], 40); // b is now the most recent
  a.touch(0, [k("d")], 50); // forgets c, not b
  const idle = () => [..."abcdef"].map((c) => a.idleMs(0, k(c), 100));
  expect(idle()).toEqual([100, 60, 100, 50, 100, 100]);
  a.touch(0, [k("e"), k("f")], 60); // forgets b and d
  a.touch(0, [k("b")], 70); // forgets e
  expect(idle()).toEqual([100, 30, 100, 100, 100, 40]);
});
