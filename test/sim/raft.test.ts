// Runs the Raft simulator over many seeds. Replay one: RAFT_SEED=1234 npx bun test test/sim/raft.test.ts
// Soak: RAFT_SOAK_SEEDS=100000 [RAFT_SEED_BASE=1000000] [RAFT_FAULT_TICKS=1500] npx bun test test/sim/raft.test.ts
import { describe, expect, test } from "bun:test";
import { runSim } from "./raft-sim.ts";
import type { SimOptions, SimResult } from "./raft-sim.ts";

const SEEDS = Number(process.env.RAFT_SEEDS ?? 4000);
const CHUNK = 500;
const FAULT_TICKS = process.env.RAFT_FAULT_TICKS ? Number(process.env.RAFT_FAULT_TICKS) : undefined;
const faultOpt = FAULT_TICKS ? { faultTicks: FAULT_TICKS } : {};
const replay = (seed: number) =>
  `${FAULT_TICKS ? `RAFT_FAULT_TICKS=${FAULT_TICKS} ` : ""}RAFT_SEED=${seed} npx bun test test/sim/raft.test.ts`;

function runSeeds(
  from: number,
  count: number,
  extra: Partial<SimOptions> = {},
  progress?: (done: number, steps: number) => void,
) {
  const failures: string[] = [];
  let steps = 0;
  let committed = 0;
  let reads = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r: SimResult = runSim({ seed, ...faultOpt, ...extra });
    steps += r.steps;
    committed += r.committed;
    reads += r.reads;
    if (!r.ok) {
      failures.push(`seed ${seed} FAILED — replay: ${replay(seed)}\n${r.error}`);
      if (progress) console.error(failures[failures.length - 1]);
    }
    if (progress && (seed - from + 1) % 10000 === 0) progress(seed - from + 1, steps);
  }
  return { failures, steps, committed, reads };
}

const single = process.env.RAFT_SEED;
const soak = process.env.RAFT_SOAK_SEEDS;

if (single !== undefined) {
  test(`replay seed ${single}`, () => {
    const r = runSim({ seed: Number(single), ...faultOpt, trace: (l) => console.log(l) });
    if (!r.ok) console.error(r.error);
    expect(r.ok).toBe(true);
  });
} else if (soak !== undefined) {
  test(
    "soak",
    () => {
      const base = Number(process.env.RAFT_SEED_BASE ?? 1_000_000);
      const t0 = performance.now();
      const { failures, steps, committed, reads } = runSeeds(base, Number(soak), {}, (done, steps) =>
        console.log(
          `raft soak progress: ${done} seeds, ${steps} steps, ${((performance.now() - t0) / 60000).toFixed(1)} min`,
        ),
      );
      const minutes = (performance.now() - t0) / 60000;
      console.log(
        `raft soak: seeds ${base}..${base + Number(soak) - 1}, ${steps} steps, ${committed} committed entries, ${reads} reads checked, ${minutes.toFixed(1)} min, ${failures.length} failures`,
      );
      for (const f of failures.slice(0, 5)) console.error(f);
      expect(failures).toEqual([]);
    },
    24 * 3600 * 1000,
  );
} else {
  describe("raft simulator: safety on every step, liveness after healing", () => {
    for (let from = 1; from <= SEEDS; from += CHUNK) {
      const count = Math.min(CHUNK, SEEDS - from + 1);
      test(`seeds ${from}..${from + count - 1}`, () => {
        const { failures, steps, committed } = runSeeds(from, count);
        for (const f of failures.slice(0, 3)) console.error(f);
        expect(failures).toEqual([]);
        expect(committed).toBeGreaterThan(count * 10); // the runs do real work
        expect(steps).toBeGreaterThan(count * 500);
      });
    }
  });

  describe("the simulator catches deliberately broken cores", () => {
    test("votes granted without the log up-to-date check", () => {
      const { failures } = runSeeds(1, 200, { unsafeTestingKnobs: { voteWithoutLogCheck: true } });
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.join("\n")).toMatch(
        /leader completeness|committed entry lost|state machine safety|log matching|threw/,
      );
    });

    test("ReadIndex answered before the leader committed an entry of its term", () => {
      const { failures } = runSeeds(1, 400, { unsafeTestingKnobs: { readBeforeTermCommit: true } });
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.join("\n")).toMatch(/stale read/);
    });
  });
}
