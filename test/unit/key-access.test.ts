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

test("past capacity/2 distinct keys the older generation is forgotten, keys accessed since are kept", () => {
  const a = new KeyAccess(0, 4);
  a.touch(0, [k("a")], 10);
  a.touch(0, [k("b")], 20); // a and b become the old generation
  a.touch(0, [k("a")], 30);
  const idle = () => [..."abcd"].map((c) => a.idleMs(0, k(c), 100));
  expect(idle()).toEqual([70, 80, 100, 100]);
  a.touch(0, [k("c")], 40); // a and c become the old generation; b is forgotten
  expect(idle()).toEqual([70, 100, 60, 100]);
  // A hot key accessed again and again takes one entry: the others stay remembered.
  for (let t = 41; t <= 50; t++) a.touch(0, [k("d")], t);
  expect(idle()).toEqual([70, 100, 60, 50]);
});

test("the same key name in two databases is accessed apart", () => {
  const a = new KeyAccess(0);
  a.touch(1, [k("x")], 30);
  expect(a.idleMs(1, k("x"), 100)).toBe(70);
  expect(a.idleMs(0, k("x"), 100)).toBe(100);
});
