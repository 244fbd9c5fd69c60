// Blocking pops in a 3-node cluster of real processes: clients blocked through members that do not
// lead the key are woken by pushes made through any member (a push this member proxied wakes them
// at once, one through another member within the periodic retry, see src/node.ts), and every
// pushed element is popped exactly once.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startLoopbackCluster, type LoopbackCluster } from "../helpers/loopback-cluster.ts";

setDefaultTimeout(60_000);
let c: LoopbackCluster;

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: 4, prefix: "bp" });
  await c.settled();
});

afterAll(async () => {
  await c?.stop();
});

describe("blocking pops through a cluster", () => {
  test("workers blocked through non-leaders pop every element pushed through any member exactly once", async () => {
    const key = "{bp}jobs";
    const leader = await c.leaderOf(key);
    const followers = c.members.filter((m) => m !== leader);
    const popped: string[] = [];
    const workers = Array.from({ length: 6 }, async (_, i) => {
      const w = c.connect(followers[i % followers.length]!);
      for (;;) {
        const r = await w.blpop(key, 0);
        if (!r || r[1] === "stop") return;
        popped.push(r[1]);
      }
    });
    const jobs: string[] = [];
    for (let round = 0; round < 10; round++) {
      for (const [j, m] of c.members.entries()) {
        const job = `job-${round}-${j}`;
        jobs.push(job);
        await c.client(m).rpush(key, job);
      }
    }
    await c.client(leader).rpush(key, ...Array.from({ length: 6 }, () => "stop"));
    await Promise.all(workers);
    expect([...popped].sort()).toEqual([...jobs].sort());
    expect(await c.client(leader).llen(key)).toBe(0);
  });
});
