// Big sorted sets keep rank chunks (collection-rows.ts). This drives one past the chunk
// threshold with real SQLite and the real command layer, then mixes inserts, score updates and
// deletes (splitting and emptying chunks), checking ZRANK, ZREVRANK and rank ranges against a
// plain sorted model; COPY and RENAME must carry the chunks along.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyOp } from "../../src/commands/apply.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import type { Reply } from "../../src/resp/reply.ts";
import { StateDb } from "../../src/store/state.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-zranks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const enc = new TextEncoder();
let index = 1;
function run(state: StateDb, ...argv: string[]): Reply {
  return state.applyBatch(-1, index++, [{ cmds: [argv.map((a) => enc.encode(a))], now: 1, seed: 1 }], applyOp)[0]!;
}

type Model = Map<string, number>;
function sorted(model: Model): string[] {
  const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return [...model].sort((x, y) => x[1] - y[1] || cmp(x[0], y[0])).map(([m]) => m);
}

const intOf = (r: Reply) =>
  r.t === "int" ? Number(r.v) : r.t === "nullbulk" ? null : `unexpected ${JSON.stringify(r)}`;
const members = (r: Reply) =>
  r.t === "array" ? r.v.map((x) => (x.t === "bulk" ? new TextDecoder().decode(x.v as Uint8Array) : "?")) : r;

test("ranks and rank ranges of a chunked sorted set match a sorted model through inserts, updates and deletes", () => {
  const state = StateDb.open({ path: join(dir, "data.db"), partitionCount: 16 });
  try {
    const random = seededRandom(42);
    const model: Model = new Map();
    // Few distinct scores: many members tie and order by member bytes inside a chunk.
    const scoreOf = () => String(Math.floor(random() * 50) - 10);
    const load: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const m = `m${Math.floor(random() * 20000)}`;
      const s = scoreOf();
      model.set(m, Number(s));
      load.push(s, m);
      if (load.length === 2000) run(state, "ZADD", "z", ...load.splice(0));
    }
    if (load.length) run(state, "ZADD", "z", ...load);
    const check = () => {
      const order = sorted(model);
      expect(intOf(run(state, "ZCARD", "z"))).toBe(order.length);
      const chunks = state.db
        .query("SELECT count(*) AS c, sum(n) AS n FROM zset_chunks WHERE key = ?")
        .get(enc.encode("z")) as { c: number; n: number };
      expect(chunks.n).toBe(order.length);
      expect(chunks.c).toBeGreaterThan(3);
      for (let k = 0; k < 25; k++) {
        const i = Math.floor(random() * order.length);
        expect([order[i], intOf(run(state, "ZRANK", "z", order[i]!))]).toEqual([order[i], i]);
        expect(intOf(run(state, "ZREVRANK", "z", order[i]!))).toBe(order.length - 1 - i);
        expect(members(run(state, "ZRANGE", "z", String(i), String(i + 4)))).toEqual(order.slice(i, i + 5));
        expect(members(run(state, "ZRANGE", "z", String(i), String(i + 4), "REV"))).toEqual(
          order
            .slice()
            .reverse()
            .slice(i, i + 5),
        );
      }
    };
    check();
    for (let round = 0; round < 12; round++) {
      for (let j = 0; j < 100; j++) {
        const r = random();
        const m = `m${Math.floor(random() * 20000)}`;
        if (r < 0.45) {
          const s = scoreOf();
          run(state, "ZADD", "z", s, m);
          model.set(m, Number(s));
        } else if (r < 0.48) {
          // A run of deletes at the low end empties whole chunks.
          const order = sorted(model).slice(0, 30);
          run(state, "ZREM", "z", ...order);
          for (const x of order) model.delete(x);
        } else {
          run(state, "ZREM", "z", m);
          model.delete(m);
        }
      }
      check();
    }
    // The chunks travel with the key.
    expect(run(state, "COPY", "z", "z2")).toEqual({ t: "int", v: 1 });
    expect(run(state, "RENAME", "z2", "z3")).toEqual({ t: "simple", v: "OK" });
    const order = sorted(model);
    const mid = Math.floor(order.length / 2);
    expect(intOf(run(state, "ZRANK", "z3", order[mid]!))).toBe(mid);
    expect(members(run(state, "ZRANGE", "z3", String(mid), String(mid + 2)))).toEqual(order.slice(mid, mid + 3));
    // A STORE fills its destination in one pass (zsetInsertNew), chunked as if by ZADD; then
    // one more member splits or grows a chunk like any insert.
    const extra = Array.from({ length: 300 }, (_, i) => `x${i}`);
    run(state, "SADD", "extra", ...extra);
    const total = order.length + extra.length;
    expect(total).toBeGreaterThan(4096);
    expect(intOf(run(state, "ZUNIONSTORE", "z4", "2", "z", "extra", "WEIGHTS", "1", "1000"))).toBe(total);
    const chunked = state.db.query("SELECT sum(n) AS n FROM zset_chunks WHERE key = ?").get(enc.encode("z4"));
    expect(chunked).toEqual({ n: total });
    expect(intOf(run(state, "ZRANK", "z4", order[mid]!))).toBe(mid);
    run(state, "ZADD", "z4", "-100", "first");
    expect(intOf(run(state, "ZRANK", "z4", order[mid]!))).toBe(mid + 1);
    expect(members(run(state, "ZRANGE", "z4", String(mid + 1), String(mid + 3)))).toEqual(order.slice(mid, mid + 3));
    expect(intOf(run(state, "ZRANK", "z4", "x0"))).toBe(order.length + 1);
    run(state, "DEL", "z", "z3", "z4", "extra");
    expect(state.db.query("SELECT count(*) AS n FROM zset_chunks").get()).toEqual({ n: 0 });
  } finally {
    state.close();
  }
}, 60_000);
