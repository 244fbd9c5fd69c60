// Model check of a standalone node's write path (src/cluster/standalone.ts): random proposals in
// random turn sizes, interleaved with restarts that lose data.db (whole, or back to an older copy)
// and compactions (SAVE). After every step the node must hold exactly what an in-memory model of
// the acknowledged ops holds.
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StandaloneHost } from "../../src/cluster/standalone.ts";
import { type Reply, int, OK } from "../../src/resp/reply.ts";
import { op, str } from "../helpers/ops.ts";
import { openStandalone } from "../helpers/standalone-host.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-model-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;

type Cmd =
  | { kind: "set"; key: string; value: string }
  | { kind: "incr"; key: string }
  | { kind: "del"; key: string }
  | { kind: "word"; key: string };
type Step =
  | { kind: "turn"; cmds: Cmd[] }
  | { kind: "restart" | "lose-data-db" | "restore-old-data-db" | "compact" | "save-data-db" };

const key = fc.constantFrom("a", "b", "c", "d");
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key, value: fc.integer({ min: 0, max: 99 }).map(String) }),
  fc.record({ kind: fc.constant("incr" as const), key }),
  fc.record({ kind: fc.constant("del" as const), key }),
  fc.record({ kind: fc.constant("word" as const), key }),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("turn" as const), cmds: fc.array(cmd, { minLength: 1, maxLength: 12 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom<Step>(
      { kind: "restart" },
      { kind: "lose-data-db" },
      { kind: "restore-old-data-db" },
      { kind: "compact" },
      { kind: "save-data-db" },
    ),
  },
);

/** What the model answers, and how it changes, as Redis would. */
function modelApply(model: Map<string, string>, c: Cmd): Reply {
  switch (c.kind) {
    case "set":
      model.set(c.key, c.value);
      return OK;
    case "incr": {
      if (model.get(c.key) === "word") return { t: "error", v: "ERR value is not an integer or out of range" };
      const next = Number(model.get(c.key) ?? "0") + 1;
      model.set(c.key, String(next));
      return int(next);
    }
    case "del":
      return int(model.delete(c.key) ? 1 : 0);
    case "word":
      // One op of two commands (as EXEC proposes them): the second fails, the first stays.
      model.set(c.key, "word");
      return { t: "array", v: [OK, { t: "error", v: "ERR value is not an integer or out of range" }] };
  }
}

function toOp(c: Cmd) {
  if (c.kind === "set") return op(0, ["set", c.key, c.value]);
  if (c.kind === "word") return { ...op(0, ["set", c.key, "word"], ["incr", c.key]), multi: true };
  return op(0, [c.kind, c.key]);
}

function state(host: StandaloneHost): Map<string, string> {
  const ks = host.replicas.keyspace;
  const out = new Map<string, string>();
  for (const k of ks.scan(0, 100, 0).keys) out.set(str(k)!, str(ks.getString(k, 0))!);
  return out;
}

const DATA_FILES = ["data.db", "data.db-wal", "data.db-shm"];

test("the node always equals the model of its acknowledged ops", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
      const dir = join(root, `run-${runs++}`);
      const saved = `${dir}-saved`;
      const open = () => openStandalone(dir, { fsync: "no" }, []);
      let host = await open();
      let compacted = false;
      let savedSinceCompaction = false;
      const model = new Map<string, string>();
      try {
        for (const s of steps) {
          switch (s.kind) {
            case "turn": {
              const replies = await Promise.all(s.cmds.map((c) => host.propose(toOp(c))));
              expect(replies).toEqual(s.cmds.map((c) => modelApply(model, c)));
              break;
            }
            case "restart":
              await host.stop();
              host = await open();
              break;
            case "lose-data-db":
            case "restore-old-data-db": {
              // Losing applied state is recoverable only while the log still holds it.
              const restorable = s.kind === "lose-data-db" ? !compacted : savedSinceCompaction || !compacted;
              if (!restorable || (s.kind === "restore-old-data-db" && !existsSync(saved))) break;
              await host.stop();
              for (const f of DATA_FILES) rmSync(join(dir, f), { force: true });
              if (s.kind === "restore-old-data-db") copyFileSync(saved, join(dir, "data.db"));
              host = await open();
              break;
            }
            case "compact":
              host.save();
              compacted = true;
              savedSinceCompaction = false;
              break;
            case "save-data-db":
              await host.stop(); // a clean close leaves everything in data.db itself
              copyFileSync(join(dir, "data.db"), saved);
              savedSinceCompaction = true;
              host = await open();
              break;
          }
          expect(state(host)).toEqual(model);
        }
      } finally {
        await host.stop();
      }
    }),
    { numRuns: 15 },
  );
}, 60_000);
