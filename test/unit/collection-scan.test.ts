// HSCAN/SSCAN/ZSCAN's guarantee under writes between calls (Redis's issue #4906 test in
// tests/unit/scan.tcl): every element present for the whole scan is returned at least once, and the
// scan ends. Through the real command layer and SQLite.
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Reply } from "../../src/resp/reply.ts";
import { useCommandStore } from "../helpers/command-store.ts";

const store = useCommandStore("flydb-collection-scan-");
const dec = new TextDecoder();
const run = (...argv: (string | Uint8Array)[]): Reply => store.at(1, ...argv);

/** One scan call: the next cursor and the element names (fields, members) it returned. */
type Kind = "hscan" | "sscan" | "zscan";
function scanStep(kind: Kind, cursor: string, count: number): { cursor: string; names: string[] } {
  const r = run(kind, "k", cursor, "COUNT", String(count));
  if (r.t !== "array") throw new Error(`${kind} answered ${JSON.stringify(r)}`);
  const [next, items] = r.v as [Reply, Reply];
  if (next.t !== "bulk" || items.t !== "array") throw new Error(`${kind} answered ${JSON.stringify(r)}`);
  const text = (x: Reply) => {
    const v = (x as { v: Uint8Array | string }).v;
    return typeof v === "string" ? v : dec.decode(v);
  };
  const all = items.v.map(text);
  const names = kind === "sscan" ? all : all.filter((_, i) => i % 2 === 0);
  return { cursor: text(next), names };
}

const ADD: Record<Kind, (m: string[]) => string[]> = {
  hscan: (m) => ["HSET", "k", ...m.flatMap((x) => [x, "v"])],
  sscan: (m) => ["SADD", "k", ...m],
  zscan: (m) => ["ZADD", "k", ...m.flatMap((x, i) => [String(i % 7), x])],
};
const REMOVE = { hscan: "HDEL", sscan: "SREM", zscan: "ZREM" } as const;

test("SSCAN finds every element that stays while most others are removed mid-scan (Redis issue #4906)", () => {
  for (let round = 0; round < 20; round++) {
    run("DEL", "k");
    run("SADD", "k", "x"); // not an intset
    const numele = 101 + ((round * 97) % 1000);
    const all = Array.from({ length: numele }, (_, j) => String(j));
    run("SADD", "k", ...all);
    const toRemove = all.slice(100);
    const found = new Set<string>();
    let cursor = "0";
    for (let iteration = 1; ; iteration++) {
      const step = scanStep("sscan", cursor, 10);
      for (const n of step.names) found.add(n);
      if (iteration === 1 + (round % 10)) run("SREM", "k", ...toRemove);
      cursor = step.cursor;
      if (cursor === "0") break;
    }
    for (let j = 0; j < 100; j++) expect(found.has(String(j))).toBe(true);
  }
});

// Members with long shared prefixes, zero bytes and lengths around the cursor's 8 bytes, so groups
// of one element and large groups both occur.
const member = fc.oneof(
  fc.integer({ min: 0, max: 3000 }).map((n) => `m:${n}`),
  fc.integer({ min: 0, max: 300 }).map((n) => `long-common-prefix:${n}`),
  fc.string({ minLength: 0, maxLength: 10, unit: fc.constantFrom("a", "b", "\u0000", "z") }),
);

test("HSCAN, SSCAN and ZSCAN return every element present for the whole scan, whatever changes between calls", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("hscan" as const, "sscan" as const, "zscan" as const),
      fc.uniqueArray(member, { minLength: 1, maxLength: 700 }),
      fc.array(fc.tuple(fc.boolean(), fc.array(member, { minLength: 1, maxLength: 40 })), { maxLength: 30 }),
      fc.integer({ min: 1, max: 30 }),
      (kind, initial, changes, count) => {
        run("DEL", "k");
        run(...ADD[kind](initial));
        const stayed = new Set(initial);
        const found = new Set<string>();
        let cursor = "0";
        let calls = 0;
        for (;;) {
          const step = scanStep(kind, cursor, count);
          for (const n of step.names) found.add(n);
          cursor = step.cursor;
          if (cursor === "0") break;
          expect(++calls).toBeLessThan(10_000);
          const change = changes[calls - 1];
          if (!change) continue;
          const [add, members] = change;
          if (add) run(...ADD[kind](members));
          else {
            run(REMOVE[kind], "k", ...members);
            for (const m of members) stayed.delete(m);
          }
          if ((run("EXISTS", "k") as { v: number }).v === 0) run(...ADD[kind](["keeps-the-key"]));
        }
        for (const m of stayed) expect(found.has(m)).toBe(true);
      },
    ),
    { numRuns: 60 },
  );
});
