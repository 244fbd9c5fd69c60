// LCS's dynamic programme against a brute-force search on short strings: the text is a common
// subsequence of the longest possible length, and the reported runs spell it out, from the end
// of the strings towards the start, each run equal in both strings.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { lcs } from "../../src/commands/lcs.ts";

const isSubsequence = (sub: Uint8Array, s: Uint8Array) => {
  let i = 0;
  for (const c of s) if (i < sub.length && sub[i] === c) i++;
  return i === sub.length;
};

/** The longest common subsequence length by trying every subsequence of a (a is short). */
function bruteLength(a: Uint8Array, b: Uint8Array): number {
  let best = 0;
  for (let mask = 0; mask < 1 << a.length; mask++) {
    const sub = Uint8Array.from([...a].filter((_, i) => mask & (1 << i)));
    if (sub.length > best && isSubsequence(sub, b)) best = sub.length;
  }
  return best;
}

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max, min: 97, max: 100 });

describe("lcs", () => {
  test("finds a longest common subsequence", () => {
    fc.assert(
      fc.property(bytes(10), bytes(14), (a, b) => {
        const { text } = lcs(a, b);
        expect(isSubsequence(text, a) && isSubsequence(text, b)).toBe(true);
        expect(text.length).toBe(bruteLength(a, b));
      }),
      { numRuns: 300 },
    );
  });

  test("its runs are equal in both strings and spell the text backwards", () => {
    fc.assert(
      fc.property(bytes(30), bytes(30), (a, b) => {
        const { text, matches } = lcs(a, b);
        const parts = matches.map((m) => {
          const inA = a.subarray(m.a[0], m.a[1] + 1);
          expect([...inA]).toEqual([...b.subarray(m.b[0], m.b[1] + 1)]);
          return [...inA];
        });
        expect(parts.reverse().flat()).toEqual([...text]);
      }),
      { numRuns: 300 },
    );
  });

  test("Redis's documented example", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const r = lcs(enc("ohmytext"), enc("mynewtext"));
    expect(new TextDecoder().decode(r.text)).toBe("mytext");
    expect(r.matches).toEqual([
      { a: [4, 7], b: [5, 8] },
      { a: [2, 3], b: [0, 1] },
    ]);
  });
});
