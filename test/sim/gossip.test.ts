import { describe, expect, test } from "bun:test";
import { LAN_DEFAULTS, suspicionMinMs, type SwimConfig } from "../../src/gossip/core/config.ts";
import { GossipSim, metaFor, type SimNode } from "./gossip-sim.ts";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

function cluster(n: number, seed: number, loss = 0, config: Partial<SwimConfig> = {}): GossipSim {
  const sim = new GossipSim({ seed, loss, config });
  for (const id of ids(n)) sim.addNode(id, ["n0"]);
  const converged = () =>
    sim.live().every((node) => node.core.members().filter((m) => m.state === "alive").length === n);
  // Gossip spreads joins to most members at once; the periodic push-pull (30 s) catches stragglers.
  sim.runUntil(converged, 40_000);
  expect(converged()).toBe(true);
  return sim;
}

const stateOf = (node: SimNode, id: string) => node.core.member(id)?.state;

describe("SWIM simulator (LAN defaults, virtual time)", () => {
  test("a crashed member is declared dead by every live member within the predicted bound", () => {
    const n = 7;
    // Worst case: a full shuffled round-robin pass before anyone probes it, one probe interval to
    // fail, the unconfirmed (maximum) Lifeguard suspicion, then a few gossip rounds to spread.
    const minMs = suspicionMinMs(LAN_DEFAULTS.suspicionMult, n, LAN_DEFAULTS.probeIntervalMs);
    const bound =
      (n - 1) * LAN_DEFAULTS.probeIntervalMs +
      LAN_DEFAULTS.probeIntervalMs +
      LAN_DEFAULTS.suspicionMaxTimeoutMult * minMs +
      2_000;
    for (const seed of [1, 2, 3]) {
      const sim = cluster(n, seed);
      const crashedAt = sim.now;
      sim.crash("n3");
      const allDead = () => sim.live().every((node) => stateOf(node, "n3") === "dead");
      sim.runUntil(allDead, bound + 5_000);
      for (const node of sim.live()) {
        const dead = node.events.find((e) => e.type === "dead" && e.member.id === "n3");
        expect(dead).toBeDefined();
        expect((dead?.at ?? Infinity) - crashedAt).toBeLessThanOrEqual(bound);
        // Everyone probes it, so confirmations bring the timeout far below the maximum.
        expect((dead?.at ?? Infinity) - crashedAt).toBeLessThan(LAN_DEFAULTS.suspicionMaxTimeoutMult * minMs);
      }
      for (const node of sim.live()) for (const other of sim.live()) expect(stateOf(node, other.id)).toBe("alive");
    }
  });

  test("no live member is declared dead at 10% packet loss", () => {
    for (const seed of [11, 12, 13]) {
      // Without the TCP fallback ping: the simulator's TCP is lossless, which would hide UDP loss.
      const sim = cluster(8, seed, 0.1, { tcpFallbackPing: false });
      sim.run(180_000);
      expect(sim.live().some((node) => node.events.some((e) => e.type === "suspect"))).toBe(true);
      for (const node of sim.live()) {
        expect(node.events.filter((e) => e.type === "dead" || e.type === "left")).toEqual([]);
        expect(node.core.members().every((m) => m.state === "alive" || m.state === "suspect")).toBe(true);
      }
    }
  });

  test("a partition heals into one view", () => {
    const sim = cluster(6, 21);
    sim.partition([
      ["n0", "n1", "n2"],
      ["n3", "n4", "n5"],
    ]);
    sim.run(60_000);
    // Each side has declared the other dead.
    expect(stateOf(sim.node("n0"), "n4")).toBe("dead");
    expect(stateOf(sim.node("n5"), "n1")).toBe("dead");
    sim.heal();
    const oneView = () =>
      sim
        .live()
        .every((node) => node.core.members().every((m) => m.state === "alive") && node.core.members().length === 6);
    sim.runUntil(oneView, 60_000);
    expect(oneView()).toBe(true);
    expect(sim.node("n0").events.some((e) => e.type === "joined" && e.member.id === "n4" && e.at > 60_000)).toBe(true);
  });

  test("metadata changes reach every member", () => {
    const sim = cluster(8, 31);
    const meta = metaFor("n5", "sim", { load: 42, zone: "z9" });
    sim.node("n5").core.updateMeta(meta, sim.now);
    const everywhere = () => sim.live().every((node) => node.core.member("n5")?.meta.load === 42);
    const took = sim.runUntil(everywhere, 10_000);
    expect(everywhere()).toBe(true);
    expect(took).toBeLessThan(5_000);
    for (const node of sim.live()) {
      if (node.id === "n5") continue;
      expect(node.core.member("n5")?.meta.zone).toBe("z9");
      expect(node.events.some((e) => e.type === "updated" && e.member.id === "n5" && e.member.meta.load === 42)).toBe(
        true,
      );
    }
  });

  test("graceful leave is seen as left (not dead) everywhere", () => {
    const sim = cluster(5, 41);
    sim.node("n2").core.leave(sim.now);
    sim.run(2_000);
    sim.crash("n2");
    sim.run(30_000);
    for (const node of sim.live()) {
      expect(node.events.some((e) => e.type === "left" && e.member.id === "n2")).toBe(true);
      expect(node.events.some((e) => e.type === "dead" && e.member.id === "n2")).toBe(false);
    }
  });

  test("a restarted member rejoins with a higher incarnation, even when it restarts from 0", () => {
    const sim = cluster(5, 51);
    const oldInc = sim.node("n0").core.member("n4")?.incarnation ?? -1;
    sim.crash("n4");
    sim.runUntil(() => sim.live().every((node) => stateOf(node, "n4") === "dead"), 60_000);
    const restartedAt = sim.now;
    sim.addNode("n4", ["n0"], { incarnation: 0 });
    sim.runUntil(() => sim.live().every((node) => stateOf(node, "n4") === "alive"), 20_000);
    for (const node of sim.live()) {
      expect(stateOf(node, "n4")).toBe("alive");
      expect(node.core.member("n4")?.incarnation ?? -1).toBeGreaterThan(oldInc);
      if (node.id !== "n4")
        expect(node.events.some((e) => e.type === "joined" && e.member.id === "n4" && e.at >= restartedAt)).toBe(true);
    }
  });

  test("a member of another cluster_id is never admitted", () => {
    const sim = cluster(4, 61);
    sim.addNode("intruder", ["n0", "n1"], { clusterId: "other" });
    sim.run(20_000);
    for (const node of sim.live()) {
      if (node.id === "intruder") continue;
      expect(node.core.member("intruder")).toBeUndefined();
      expect(node.core.stats.rejectedCluster).toBeGreaterThanOrEqual(0);
    }
    expect(sim.node("n0").core.stats.rejectedCluster + sim.node("n1").core.stats.rejectedCluster).toBeGreaterThan(0);
    expect(
      sim
        .node("intruder")
        .core.members()
        .map((m) => m.id),
    ).toEqual(["intruder"]);
  });

  test("a slow member does not get healthy members suspected or declared dead (Lifeguard local health)", () => {
    for (const seed of [81, 82]) {
      const sim = cluster(6, seed);
      const slowFrom = sim.now;
      // Every packet to or from n2 takes 600 ms more: it misses its own probe timeouts. Without
      // local health (awarenessMaxMultiplier: 1) it accuses healthy members ~500 times in this run.
      sim.slow.set("n2", 600);
      sim.run(120_000);
      const aboutHealthy = sim
        .live()
        .flatMap((node) => node.events)
        .filter((e) => e.member.id !== "n2" && e.at > slowFrom);
      expect(aboutHealthy.filter((e) => e.type === "dead")).toEqual([]);
      expect(aboutHealthy.filter((e) => e.type === "suspect").length).toBeLessThan(25);
    }
  });

  test("probe round-trip times are recorded per member", () => {
    const sim = new GossipSim({ seed: 71, minDelayMs: 10, maxDelayMs: 20 });
    for (const id of ids(4)) sim.addNode(id, ["n0"]);
    sim.run(15_000);
    for (const node of sim.live()) {
      for (const m of node.core.members()) {
        if (m.id === node.id) continue;
        expect(m.rttMs).not.toBeNull();
        expect(m.rttMs ?? 0).toBeGreaterThanOrEqual(20);
        expect(m.rttMs ?? 0).toBeLessThanOrEqual(45);
      }
    }
  });
});
