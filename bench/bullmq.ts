// The BullMQ run of issue #16 at full size: 10,000 jobs (delayed ones, ones that fail twice before
// they succeed) added through one member of a 3-node loopback cluster of dist/flydb and processed by
// workers on the other two, with the leader of the queue's partition killed with kill -9 at 40 % of
// the completions and restarted 2 s later. Prints the timings and whether every job completed
// exactly once; exits 1 when not. test/cluster/bullmq.test.ts runs the same with a bounded count.
//   npx bun bench/bullmq.ts [--jobs 10000] [--no-kill]
import { runBullmq } from "../test/helpers/bullmq-run.ts";
import { startLoopbackCluster } from "../test/helpers/loopback-cluster.ts";
import { argValue } from "./lib.ts";

const JOBS = argValue("--jobs", 10_000);
const kill = !process.argv.includes("--no-kill");
const c = await startLoopbackCluster({ size: 3, partitions: 4, prefix: "bmqb" });
let ok = false;
try {
  await c.settled();
  const leader = await c.leaderOf("{bull}:jobs:id");
  const r = await runBullmq(c, {
    jobs: JOBS,
    ...(kill ? { kill: { member: leader, atShare: 0.4, downMs: 2000 } } : {}),
    timeoutMs: 3_600_000,
    log: (line) => console.log(line),
  });
  const notOnce = [...Array(JOBS).keys()].map((i) => `job-${i}`).filter((id) => r.completions.get(id) !== 1);
  const rerun = [...r.successfulRuns.values()].filter((n) => n > 1).length;
  ok = notOnce.length === 0 && r.completedInSet === JOBS && (!kill || r.killedAt !== null);
  console.log(
    [
      `jobs ${JOBS} (${r.planned.delayed} delayed, ${r.planned.failTwice} failing twice), kill -9: ` +
        (r.killedAt ? `at ${r.killedAt.completed} completions${r.killedAt.adding ? ", while adding" : ""}` : "none"),
      `added in ${(r.addMs / 1000).toFixed(1)} s (${Math.round(JOBS / (r.addMs / 1000))} adds/s, ${r.addRetries} retried)`,
      `all completed in ${(r.totalMs / 1000).toFixed(1)} s (${Math.round(JOBS / (r.totalMs / 1000))} jobs/s)`,
      `completed set ${r.completedInSet}; not completed exactly once: ${notOnce.length}; processors run again: ${rerun}`,
      `counts ${JSON.stringify(r.counts)}`,
    ].join("\n"),
  );
} finally {
  await c.stop();
}
process.exit(ok ? 0 : 1);
