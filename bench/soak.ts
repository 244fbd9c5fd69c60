// `npm run soak [-- N [first-seed [workload-seconds]]]`: N (default 100) nemesis runs
// (test/helpers/nemesis.ts; network namespaces, so as root), one seed each, each with a workload of
// workload-seconds (default 30) under faults, printing per run and in total the
// linearizability/TTL violations, lost acknowledged writes and recovery times. The harness's own
// deadlines are tripled (patience 3): soaks run for hours on shared machines. Exits 1 when any
// run found a violation or a lost write, or could not run.
import { runNemesis, type NemesisResult } from "../test/helpers/nemesis.ts";

const runs = Number(process.argv[2] ?? 100);
const firstSeed = Number(process.argv[3] ?? 1);
const workloadMs = Number(process.argv[4] ?? 30) * 1000;
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(firstSeed) || !(workloadMs >= 10_000)) {
  const got = process.argv.slice(2).join(" ");
  throw new Error(`usage: npm run soak -- [runs ≥ 1] [first seed] [workload seconds ≥ 10] (got ${got})`);
}
const results: NemesisResult[] = [];
let errors = 0;
for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
  try {
    const r = await runNemesis({ seed, workloadMs, maxSkewMs: 40, patience: 3 });
    results.push(r);
    const worst = Math.max(...r.recoveryMs);
    console.log(
      `seed ${seed}: ${r.ops} ops, ${r.ttlReads} TTL reads, ${r.faults.length} faults (${r.faults.join(", ")}), ` +
        `${r.violations.length} violations, ${r.lostWrites.length} lost writes, worst recovery ${worst.toFixed(0)} ms`,
    );
    for (const v of r.violations) console.log(`  violation: ${v}`);
    for (const l of r.lostWrites) console.log(`  lost: ${l}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
  } catch (e) {
    errors++;
    console.log(`seed ${seed}: the run itself failed: ${(e as Error).message}`);
  }
}
const recoveries = results.flatMap((r) => r.recoveryMs).sort((a, b) => a - b);
const pct = (p: number) =>
  recoveries.length ? recoveries[Math.min(recoveries.length - 1, Math.floor(p * recoveries.length))]! : NaN;
const violations = results.reduce((n, r) => n + r.violations.length, 0);
const lost = results.reduce((n, r) => n + r.lostWrites.length, 0);
console.log(
  `soak: ${results.length}/${runs} runs completed (${errors} could not run), ${violations} violations, ${lost} lost ` +
    `acknowledged writes; recovery after ${recoveries.length} faults: median ${pct(0.5).toFixed(0)} ms, ` +
    `p99 ${pct(0.99).toFixed(0)} ms, max ${pct(1).toFixed(0)} ms`,
);
process.exit(violations > 0 || lost > 0 || errors > 0 ? 1 : 0);
