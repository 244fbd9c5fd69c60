import { expect, test } from "bun:test";
import { KeyAccess } from "../../src/commands/key-access.ts";

const k = (s: string) => new TextEncoder().encode(s);

test("idle time counts from the last access, or from the start for a key never seen", () => {
  const a = new KeyAccess(1_000);
  expect(a.idleMs(k("never"), 5_000)).toBe(4_000);
  a.touch([k("x")], 3_000);
  expect(a.idleMs(k("x"), 5_000)).toBe(2_000);
  const long = new Uint8Array(1000).fill(7);
  const other = long.slice();
  other[999] = 8;
  a.touch([long], 4_000);
  expect(a.idleMs(long, 5_000)).toBe(1_000);
  expect(a.idleMs(other, 5_000)).toBe(4_000);
});

test("past its capacity the least recently accessed keys are forgotten", () => {
  const a = new KeyAccess(0, 2);
  a.touch([k("a")], 10);
  a.touch([k("b")], 20);
  a.touch([k("a")], 30);
  a.touch([k("c")], 40);
  expect(a.idleMs(k("b"), 100)).toBe(100);
  expect(a.idleMs(k("a"), 100)).toBe(70);
  expect(a.idleMs(k("c"), 100)).toBe(60);
});
