// BullMQ, unmodified from npm, on a 3-node cluster of real dist/flydb processes (issue #16): the
// producer and the workers are on different members (Redis Cluster clients and a plain connection
// the member proxies), jobs are delayed or fail twice before they succeed, and the member leading the
// queue's partition is killed with kill -9 midway and restarted. Every job completes exactly once.
// The count is kept small for npm test; bench/bullmq.ts runs the 10,000 jobs of the issue.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { runBullmq } from "../helpers/bullmq-run.ts";
import { startLoopbackCluster, type LoopbackCluster } from "../helpers/loopback-cluster.ts";

const JOBS = 150;
let c: LoopbackCluster;

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: 4, prefix: "bmq" });
  await c.settled();
}, 90_000);

afterAll(async () => {
  await c?.stop();
});

describe("BullMQ on a FlyDB cluster", () => {
  test(`${JOBS} jobs (delayed ones, ones failing twice) complete exactly once across a kill -9 of the queue's leader`, async () => {
    const leader = await c.leaderOf("{bull}:jobs:id");
    const r = await runBullmq(c, {
      jobs: JOBS,
      kill: { member: leader, atShare: 0.4, downMs: 2000 },
      timeoutMs: 150_000,
      log: (line) => console.log(`[bullmq] ${line}`),
    });
    console.log(
      `[bullmq] ${JOBS} jobs: added in ${Math.round(r.addMs)} ms, all done in ${Math.round(r.totalMs)} ms; ` +
        `add retries ${r.addRetries}; worker completed events ${[...r.workerEvents.values()].reduce((a, b) => a + b, 0)}; ` +
        `counts ${JSON.stringify(r.counts)}`,
    );
    const ids = Array.from({ length: JOBS }, (_, i) => `job-${i}`);
    expect(ids.filter((id) => r.completions.get(id) !== 1)).toEqual([]);
    expect(r.completions.size).toBe(JOBS);
    expect(r.completedInSet).toBe(JOBS);
    expect(r.counts).toMatchObject({ active: 0, waiting: 0, delayed: 0, failed: 0, completed: JOBS });
    expect(r.killedAt).not.toBeNull();
    expect(r.killedAt!.completed).toBeLessThan(JOBS);
    expect(r.planned.delayed).toBeGreaterThan(0);
    expect(r.planned.failTwice).toBeGreaterThan(0);
  }, 240_000);
});
