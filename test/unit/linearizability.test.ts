// The checker must accept linearizable histories and, above all, reject the anomalies the
// cluster tests hunt for (stale reads, lost and doubled writes).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  checkLinearizable,
  counterModel,
  listModel,
  registerModel,
  type Operation,
  type RegisterInput,
} from "../helpers/linearizability.ts";

const op = <I, O>(client: number, input: I, output: O | undefined, call: number, ret: number): Operation<I, O> => ({
  client,
  input,
  output,
  call,
  ret,
});

describe("register model", () => {
  test("concurrent write and read may see either value", () => {
    const h = [
      op<RegisterInput, string | null>(1, { op: "set", value: "a" }, "OK", 0, 10),
      op<RegisterInput, string | null>(2, { op: "get" }, "a", 1, 5),
    ];
    expect(checkLinearizable(h, registerModel).ok).toBe(true);
    const h2 = [h[0]!, op<RegisterInput, string | null>(2, { op: "get" }, null, 1, 5)];
    expect(checkLinearizable(h2, registerModel).ok).toBe(true);
  });

  test("a stale read after an acknowledged write is caught", () => {
    const h = [
      op<RegisterInput, string | null>(1, { op: "set", value: "a" }, "OK", 0, 1),
      op<RegisterInput, string | null>(1, { op: "set", value: "b" }, "OK", 2, 3),
      op<RegisterInput, string | null>(2, { op: "get" }, "a", 4, 5),
    ];
    expect(checkLinearizable(h, registerModel).ok).toBe(false);
  });

  test("an unknown write may have happened or not", () => {
    const happened = [
      op<RegisterInput, string | null>(1, { op: "set", value: "x" }, undefined, 0, Infinity),
      op<RegisterInput, string | null>(2, { op: "get" }, "x", 5, 6),
    ];
    const didNot = [happened[0]!, op<RegisterInput, string | null>(2, { op: "get" }, null, 5, 6)];
    expect(checkLinearizable(happened, registerModel).ok).toBe(true);
    expect(checkLinearizable(didNot, registerModel).ok).toBe(true);
  });

  test("reads that go back in time are caught", () => {
    const h = [
      op<RegisterInput, string | null>(1, { op: "set", value: "a" }, "OK", 0, 100),
      op<RegisterInput, string | null>(2, { op: "get" }, "a", 10, 20),
      op<RegisterInput, string | null>(3, { op: "get" }, null, 30, 40),
    ];
    expect(checkLinearizable(h, registerModel).ok).toBe(false);
  });

  test("sequential histories produced by a real register always pass", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(null), fc.constantFrom("a", "b", "c")), { maxLength: 40 }),
        (writes) => {
          let v: string | null = null;
          const h: Operation<RegisterInput, string | null>[] = [];
          writes.forEach((w, i) => {
            if (w === null) h.push(op(i % 3, { op: "get" }, v, i * 2, i * 2 + 1));
            else {
              v = w;
              h.push(op(i % 3, { op: "set", value: w }, "OK", i * 2, i * 2 + 1));
            }
          });
          return checkLinearizable(h, registerModel).ok;
        },
      ),
    );
  });
});

describe("counter model", () => {
  test("an increment applied twice is caught", () => {
    const h = [op(1, { op: "incr" as const }, 1, 0, 1), op(1, { op: "get" as const }, 2, 2, 3)];
    expect(checkLinearizable(h, counterModel).ok).toBe(false);
  });
  test("an increment with unknown outcome may count", () => {
    const h = [op(1, { op: "incr" as const }, undefined, 0, Infinity), op(2, { op: "incr" as const }, 2, 1, 3)];
    expect(checkLinearizable(h, counterModel).ok).toBe(true);
  });
});

describe("list model", () => {
  test("a duplicated RPUSH is caught", () => {
    const h = [op(1, { op: "push" as const, value: "x" }, 1, 0, 1), op(2, { op: "range" as const }, ["x", "x"], 2, 3)];
    expect(checkLinearizable(h, listModel).ok).toBe(false);
  });
  test("concurrent pushes in either order are fine", () => {
    const h = [
      op(1, { op: "push" as const, value: "a" }, 2, 0, 10),
      op(2, { op: "push" as const, value: "b" }, 1, 0, 10),
      op(3, { op: "range" as const }, ["b", "a"], 11, 12),
    ];
    expect(checkLinearizable(h, listModel).ok).toBe(true);
  });
});
