// The nemesis in npm test: one seeded run of test/helpers/nemesis.ts (kill -9, SIGSTOP, partitions,
// membership changes, skewed clocks, lease reads, TTL keys in network namespaces), bounded to
// about a minute and a half. `npm run soak` runs many seeds.
import { describe, expect, test } from "bun:test";
import { runNemesis } from "../helpers/nemesis.ts";
import { skipNetns } from "../helpers/netns.ts";

const NAME =
  "kill -9, SIGSTOP, partitions, joins, removals and leaves, skewed clocks, lease reads: " +
  "linearizable, no lost write, no TTL back";

describe.skipIf(skipNetns)("nemesis", () => {
  test(NAME, async () => {
    const seed = Number(process.env.FLYDB_NEMESIS_SEED ?? 1);
    const r = await runNemesis({ seed, workloadMs: 30_000, maxSkewMs: 40 });
    const recovery = r.recoveryMs.map((m) => m.toFixed(0)).join(", ");
    console.log(`nemesis seed ${seed}: ${r.ops} ops, ${r.ttlReads} TTL reads; faults: ${r.faults.join(", ")}`);
    console.log(`recovery ms: ${recovery}`);
    for (const n of r.notes) console.log(`note: ${n}`);
    expect(r.faults.length).toBeGreaterThan(0);
    expect(r.violations).toEqual([]);
    expect(r.lostWrites).toEqual([]);
    expect(r.recoveryMs.every((ms) => ms < 15_000)).toBe(true);
  }, 180_000);
});
