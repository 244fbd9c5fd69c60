// The distribution of reads each routing strategy produces, in a seeded simulation
// (test/sim/read-routing-sim.ts). Replay one: READ_SIM_SEED=7 npx bun test test/sim/read-routing.test.ts
import { describe, expect, test } from "bun:test";
import { ROUTING_STRATEGIES } from "../../src/cluster/core/read-target.ts";
import { type RoutingSimOptions, runRoutingSim } from "./read-routing-sim.ts";

const SEED = Number(process.env.READ_SIM_SEED ?? 1);
const base = { seed: SEED, partitions: 16, ticks: 400, gossipEvery: 10 } as const;
const pct = (xs: number[]) => xs.map((x) => `${(x * 100).toFixed(0)}%`).join(" ");

describe("read routing simulation", () => {
  // Three nodes, every node a replica of every partition; the hot partition's leader is n0. The
  // cluster could serve 3 × 100 reads a tick; clients ask for 3 × 60: only the leader of the hot
  // partition saturates (80 % of 180 = 144 > 100) when it serves all of them.
  const hot: RoutingSimOptions = {
    ...base,
    strategy: "key-based",
    nodes: 3,
    replication: 3,
    hotShare: 0.8,
    readsPerNode: 60,
    capacity: 100,
  };

  test("hot partition, 3 nodes: key-based saturates the leader, the others spread the reads", () => {
    const rows = ROUTING_STRATEGIES.map((strategy) => ({ strategy, r: runRoutingSim({ ...hot, strategy }) }));
    for (const { strategy, r } of rows) {
      console.log(
        `${strategy.padEnd(15)} share ${pct(r.share)}  hot partition ${pct(r.hotShare)}  ` +
          `throughput ${r.throughput.toFixed(0)}/tick  backlog ${r.maxBacklogTicks.toFixed(1)} ticks  ` +
          `local ${pct([r.local])}`,
      );
    }
    const by = Object.fromEntries(rows.map(({ strategy, r }) => [strategy, r]));
    expect(by["key-based"]!.hotShare[0]).toBe(1);
    expect(by["key-based"]!.throughput).toBeLessThan(160); // capped by the one leader
    for (const s of ["round-robin", "least-loaded", "locality-aware", "hybrid"]) {
      const r = by[s]!;
      for (const share of r.share) expect(share).toBeGreaterThan(0.25);
      expect(r.throughput).toBeGreaterThan(175);
      expect(r.maxBacklogTicks).toBeLessThan(1);
    }
    // With a replica on every node, locality-aware reads never leave the asking node.
    expect(by["locality-aware"]!.local).toBe(1);
  });

  test("least-loaded and hybrid steer reads away from a node busy with other work", () => {
    const busy = { ...hot, hotShare: 0, background: [70, 0, 0] };
    const rr = runRoutingSim({ ...busy, strategy: "round-robin" });
    const ll = runRoutingSim({ ...busy, strategy: "least-loaded" });
    const hy = runRoutingSim({ ...busy, strategy: "hybrid" });
    const row = (r: typeof rr) => `${pct(r.share)} (backlog ${r.maxBacklogTicks.toFixed(1)} ticks)`;
    console.log(`busy n0: round-robin ${row(rr)}, least-loaded ${row(ll)}, hybrid ${row(hy)}`);
    // n0 has 70 of its 100 a tick taken: round-robin's third of 180 reads overloads it (its
    // backlog grows without bound), least-loaded and hybrid keep it near its capacity (a short
    // backlog builds between two gossiped loads).
    expect(rr.share[0]).toBeGreaterThan(0.3);
    expect(rr.maxBacklogTicks).toBeGreaterThan(10);
    for (const r of [ll, hy]) {
      expect(r.share[0]).toBeLessThan(0.27);
      expect(r.maxBacklogTicks).toBeLessThan(rr.maxBacklogTicks / 5);
    }
  });

  test("5 nodes in 3 zones, replication 3: locality-aware and hybrid serve in the asking node's zone", () => {
    const zoned: RoutingSimOptions = {
      ...base,
      strategy: "locality-aware",
      nodes: 5,
      replication: 3,
      zones: ["a", "b", "c", "a", "b"],
      hotShare: 0,
      readsPerNode: 40,
      capacity: 100,
    };
    const results = Object.fromEntries(
      ROUTING_STRATEGIES.map((strategy) => [strategy, runRoutingSim({ ...zoned, strategy })]),
    );
    for (const [s, r] of Object.entries(results))
      console.log(`${s.padEnd(15)} in zone ${pct([r.inZone])} share ${pct(r.share)}`);
    // Replicas of a partition are 3 consecutive nodes of 5: some partitions have none in the asker's zone.
    const best = results["locality-aware"]!.inZone;
    expect(best).toBeGreaterThan(0.7);
    expect(results.hybrid!.inZone).toBe(best);
    expect(results["round-robin"]!.inZone).toBeLessThan(best - 0.2);
    expect(results["key-based"]!.inZone).toBeLessThan(best - 0.2);
  });
});
