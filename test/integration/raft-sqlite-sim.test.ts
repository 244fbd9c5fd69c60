// The simulator with every node's log in a real SQLite file: the core and SqliteRaftStorage agree
// on the write semantics (suffix replacement, compaction, snapshot install) under faults.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSim } from "../sim/raft-sim.ts";
import { SqliteRaftStorage } from "../../src/store/raft-log.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-raftsim-"));
const open: SqliteRaftStorage[] = [];
afterAll(() => {
  for (const s of open) s.close();
  rmSync(dir, { recursive: true, force: true });
});

test("simulated clusters on SQLite logs stay safe and live", () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = runSim({
      seed,
      storage: (id) => {
        const s = new SqliteRaftStorage(join(dir, `s${seed}-${id}.db`), { fsync: "never" });
        open.push(s);
        return s;
      },
    });
    if (!r.ok) console.error(`seed ${seed}: ${r.error}`);
    expect(r.ok).toBe(true);
    expect(r.committed).toBeGreaterThan(10);
  }
});
