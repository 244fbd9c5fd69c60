import { describe, expect, test } from "bun:test";
import {
  LEADER_READS,
  MAX_LAG,
  type ReadTarget,
  type ReplicaFacts,
  readTargetPolicy,
} from "../../src/cluster/core/read-target.ts";

const facts = (f: {
  zone?: Record<string, string>;
  load?: Record<string, number>;
  rtt?: Record<string, number>;
  lag?: Record<string, number>;
}): ReplicaFacts => ({
  zone: (id) => f.zone?.[id] ?? "",
  load: (id) => f.load?.[id],
  rttMs: (id) => f.rtt?.[id],
  lag: (id) => f.lag?.[id],
});

const target = (over: Partial<ReadTarget>): ReadTarget => ({
  partition: 0,
  replicas: ["a", "b", "c"],
  leader: null,
  hint: undefined,
  tried: new Set(),
  alive: () => true,
  self: "x",
  ...over,
});

/** The targets of `n` reads of one partition in a row. */
const picks = (strategy: Parameters<typeof readTargetPolicy>[0], t: ReadTarget, n = 6) => {
  const p = readTargetPolicy(strategy);
  return Array.from({ length: n }, () => p.choose(t));
};

describe("key-based", () => {
  test("is the leader policy: this node's view of the leader, then the learned one, then map order", () => {
    expect(readTargetPolicy("key-based")).toBe(LEADER_READS);
    expect(LEADER_READS.replicaReads).toBe(false);
    expect(LEADER_READS.choose(target({ leader: "c", hint: "b" }))).toBe("c");
    expect(LEADER_READS.choose(target({ hint: "b" }))).toBe("b");
    expect(LEADER_READS.choose(target({}))).toBe("a");
  });

  test("members already tried or down are skipped; none left is undefined", () => {
    expect(LEADER_READS.choose(target({ leader: "c", tried: new Set(["c"]) }))).toBe("a");
    expect(LEADER_READS.choose(target({ leader: "c", alive: (id) => id === "b" }))).toBe("b");
    expect(LEADER_READS.choose(target({ tried: new Set(["a", "b", "c"]) }))).toBeUndefined();
  });
});

describe("round-robin", () => {
  test("rotates over the live replicas of the partition, whoever leads", () => {
    expect(picks("round-robin", target({ leader: "b" }))).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  test("skips dead and tried replicas", () => {
    expect(picks("round-robin", target({ alive: (id) => id !== "b" }), 4)).toEqual(["a", "c", "a", "c"]);
    expect(picks("round-robin", target({ tried: new Set(["a"]) }), 2)).toEqual(["b", "c"]);
  });

  test("each partition rotates on its own", () => {
    const p = readTargetPolicy("round-robin");
    expect(p.choose(target({ partition: 1 }))).toBe("a");
    expect(p.choose(target({ partition: 2 }))).toBe("a");
    expect(p.choose(target({ partition: 1 }))).toBe("b");
  });

  test("with every replica down or tried it falls back to the leader it knows, else nothing", () => {
    const t = target({ replicas: ["a", "b"], tried: new Set(["a", "b"]), hint: "n" });
    expect(readTargetPolicy("round-robin").choose(t)).toBe("n");
    expect(readTargetPolicy("round-robin").choose(target({ alive: () => false }))).toBeUndefined();
  });
});

describe("least-loaded", () => {
  test("the replica with the lowest load", () => {
    const f = facts({ load: { a: 900, b: 100, c: 500 } });
    expect(picks("least-loaded", target({ facts: f }), 3)).toEqual(["b", "b", "b"]);
  });

  test("near-equal loads tie and take turns", () => {
    const f = facts({ load: { a: 100, b: 105, c: 900 } });
    expect(picks("least-loaded", target({ facts: f }), 4)).toEqual(["a", "b", "a", "b"]);
  });

  test("an unknown load counts as the mean of the known ones", () => {
    // mean of a and c is 500: b (unknown) ties with neither, a wins.
    expect(picks("least-loaded", target({ facts: facts({ load: { a: 100, c: 900 } }) }), 2)).toEqual(["a", "a"]);
    // mean of a alone is a's own load: b and c tie with it.
    expect(picks("least-loaded", target({ facts: facts({ load: { a: 100 } }) }), 3)).toEqual(["a", "b", "c"]);
    // nothing known at all: round-robin.
    expect(picks("least-loaded", target({}), 3)).toEqual(["a", "b", "c"]);
  });

  test("this node among the least loaded serves its own reads (no hop); a busier self yields", () => {
    const even = facts({ load: { a: 100, b: 104, c: 900 } });
    expect(picks("least-loaded", target({ self: "b", facts: even }), 3)).toEqual(["b", "b", "b"]);
    // Sending a read away costs this node about what serving it does: up to twice the lowest load it stays.
    const busier = facts({ load: { a: 100, b: 190, c: 900 } });
    expect(picks("least-loaded", target({ self: "b", facts: busier }), 2)).toEqual(["b", "b"]);
    expect(picks("hybrid", target({ self: "b", facts: busier }), 2)).toEqual(["b", "b"]);
    const busySelf = facts({ load: { a: 100, b: 400, c: 900 } });
    expect(picks("least-loaded", target({ self: "b", facts: busySelf }), 2)).toEqual(["a", "a"]);
  });

  test("a dead least-loaded replica is not chosen", () => {
    const f = facts({ load: { a: 900, b: 100, c: 500 } });
    expect(picks("least-loaded", target({ facts: f, alive: (id) => id !== "b" }), 2)).toEqual(["c", "c"]);
  });
});

describe("locality-aware", () => {
  test("this node first when it holds a replica", () => {
    const t = target({ self: "b", leader: "a", facts: facts({ zone: { a: "z1", b: "z2", c: "z2" } }) });
    expect(picks("locality-aware", t, 3)).toEqual(["b", "b", "b"]);
  });

  test("else a replica in this node's zone", () => {
    const f = facts({ zone: { x: "z2", a: "z1", b: "z2", c: "z3" }, rtt: { a: 0.1, b: 5, c: 0.1 } });
    expect(picks("locality-aware", target({ facts: f }), 2)).toEqual(["b", "b"]);
  });

  test("else (no zone, or none in it) the lowest RTT, the leader among equals", () => {
    const f = facts({ zone: { x: "z9", a: "z1", b: "z2", c: "z3" }, rtt: { a: 9, b: 2, c: 5 } });
    expect(picks("locality-aware", target({ facts: f }), 2)).toEqual(["b", "b"]);
    // b and c within RTT_TIE_MS: equals, so the leader among them, else turns.
    const close = facts({ rtt: { a: 9, b: 2, c: 2.5 } });
    expect(picks("locality-aware", target({ facts: close, leader: "c" }), 2)).toEqual(["c", "c"]);
    expect(picks("locality-aware", target({ facts: close }), 2)).toEqual(["b", "c"]);
    const noZones = facts({ rtt: { a: 1, b: 7, c: 8 } });
    expect(picks("locality-aware", target({ facts: noZones }), 2)).toEqual(["a", "a"]);
  });

  test("missing zones and RTTs: the leader, else turns", () => {
    expect(picks("locality-aware", target({ leader: "c" }), 2)).toEqual(["c", "c"]);
    expect(picks("locality-aware", target({}), 3)).toEqual(["a", "b", "c"]);
  });

  test("an unmeasured RTT loses to a measured one", () => {
    expect(picks("locality-aware", target({ facts: facts({ rtt: { c: 40 } }) }), 2)).toEqual(["c", "c"]);
  });

  test("the in-zone replica down: the nearest other one", () => {
    const f = facts({ zone: { x: "z2", a: "z1", b: "z2", c: "z3" }, rtt: { a: 3, c: 1 } });
    expect(picks("locality-aware", target({ facts: f, alive: (id) => id !== "b" }), 2)).toEqual(["c", "c"]);
  });
});

describe("hybrid", () => {
  test("least-loaded among the replicas in this node's zone, this node included", () => {
    const f = facts({ zone: { b: "z1", a: "z1", c: "z2" }, load: { a: 50, b: 800, c: 0 } });
    expect(picks("hybrid", target({ self: "b", facts: f }), 2)).toEqual(["a", "a"]);
  });

  test("no zones: least-loaded over all replicas", () => {
    const f = facts({ load: { a: 50, b: 800, c: 49 } });
    expect(picks("hybrid", target({ facts: f }), 2)).toEqual(["a", "c"]);
  });

  test("none in the zone: least-loaded among the nearest", () => {
    const f = facts({
      zone: { x: "z9", a: "z1", b: "z2", c: "z3" },
      rtt: { a: 1, b: 1.5, c: 30 },
      load: { a: 400, b: 10 },
    });
    expect(picks("hybrid", target({ facts: f }), 2)).toEqual(["b", "b"]);
  });

  test("skips a replica lagging more than MAX_LAG, unless all do; carries the bound to the server", () => {
    const p = readTargetPolicy("hybrid");
    expect(p.maxLag).toBe(MAX_LAG);
    const f = facts({ load: { a: 0, b: 500, c: 500 }, lag: { a: MAX_LAG + 1 } });
    expect(p.choose(target({ facts: f, replicas: ["a", "b"] }))).toBe("b");
    const allLag = facts({ lag: { a: MAX_LAG + 1, b: MAX_LAG + 5 } });
    expect(readTargetPolicy("hybrid").choose(target({ facts: allLag, replicas: ["a", "b"] }))).toBe("a");
  });
});

test("every strategy but key-based may send reads to followers", () => {
  for (const s of ["round-robin", "least-loaded", "locality-aware", "hybrid"] as const) {
    expect(readTargetPolicy(s).replicaReads).toBe(true);
    expect(readTargetPolicy(s).name).toBe(s);
  }
});
