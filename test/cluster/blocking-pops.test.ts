// Blocking pops in a 3-node cluster of real processes: clients blocked through members that do not
// lead the key are woken by pushes made through any member (a push this member proxied wakes them
// at once, one through another member within the periodic retry, see src/node.ts), and every
// pushed element is popped exactly once, also when the key's leader is killed (-9) while 20 clients
// are blocked through the other members and a producer pushes. (A client connected to the killed
// member itself loses the reply of a pop that commits after its node died, as with a Redis failover.)
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { waitUntil } from "../helpers/cluster-harness.ts";
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

  test("kill -9 of the key's leader with 20 clients blocked: every pushed element is popped once or still listed", async () => {
    const key = "{bp}killed";
    const leader = await c.leaderOf(key);
    const followers = c.members.filter((m) => m !== leader);
    const popped: string[] = [];
    const workers = Array.from({ length: 20 }, async (_, i) => {
      const w = c.connect(followers[i % followers.length]!);
      for (;;) {
        // A clear error (the leader went away mid-try) is allowed; the worker blocks again.
        const r = await w.blpop(key, 0).catch(() => Bun.sleep(50).then(() => undefined));
        if (r === undefined) continue;
        if (!r || r[1] === "stop") return;
        popped.push(r[1]);
      }
    });
    const blocked = async () => {
      let n = 0;
      for (const m of followers) n += Number(/blocked_clients:(\d+)/.exec(await c.client(m).info("clients"))![1]);
      return n >= 20;
    };
    await waitUntil(blocked, 10_000, "20 clients blocked through the followers");
    const acked: string[] = [];
    const unsure: string[] = [];
    for (let i = 0; i < 60; i++) {
      if (i === 20) void c.kill9(leader);
      const job = `job-${i}`;
      // Never retried: a push with an unknown outcome may or may not be in the list.
      await c
        .client(followers[i % 2]!)
        .rpush(key, job)
        .then(
          () => acked.push(job),
          () => unsure.push(job),
        );
    }
    await c.settled();
    await waitUntil(
      () =>
        c
          .client(followers[0]!)
          .rpush(key, ...Array.from({ length: 20 }, () => "stop"))
          .then(
            () => true,
            () => false,
          ),
      20_000,
      "the stop elements pushed",
    );
    await Promise.all(workers);
    const left = (await c.client(followers[0]!).lrange(key, 0, -1)).filter((x) => x !== "stop");
    const all = [...popped, ...left];
    expect(new Set(all).size).toBe(all.length);
    for (const job of acked) expect(all).toContain(job);
    for (const job of all) expect([...acked, ...unsure]).toContain(job);
    expect(acked.length).toBeGreaterThan(30);
    await c.restart(leader);
  });
});
