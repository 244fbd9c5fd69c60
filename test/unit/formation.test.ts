import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { candidates, decideFormation, type FormationReport } from "../../src/cluster/core/formation.ts";

const node = (nodeId: string, over: Partial<FormationReport> = {}): FormationReport => ({
  nodeId,
  formed: false,
  clusterId: "c1",
  partitionCount: 16,
  bootstrapExpect: 3,
  gossip: [`${nodeId}:7946`],
  sees: [nodeId],
  ...over,
});

describe("decideFormation", () => {
  test("a node holding cluster state is a member and never bootstraps", () => {
    expect(decideFormation(node("a", { formed: true }), [])).toEqual({ kind: "member" });
  });

  test("waits until bootstrap_expect nodes see each other", () => {
    expect(decideFormation(node("a"), [node("b", { sees: ["a", "b"] })])).toEqual({ kind: "wait", reason: "2 of 3 expected nodes see each other" });
  });

  test("the lowest node id bootstraps once every candidate sees it as lowest; the others wait for it", () => {
    const all = ["a", "b", "c"];
    const [a, b, c] = all.map((id) => node(id, { sees: all }));
    expect(decideFormation(a!, [b!, c!])).toEqual({ kind: "bootstrap" });
    expect(decideFormation(b!, [a!, c!])).toEqual({ kind: "wait", reason: "node a has the lowest node id and bootstraps the cluster" });
    expect(decideFormation(node("a"), [node("b", { sees: ["b", "c"] }), c!])).toEqual({ kind: "wait", reason: "node b does not yet see this node as the lowest" });
  });

  test("a formed cluster found is joined instead of forming one, through the lowest formed node", () => {
    const formedB = node("b", { formed: true, gossip: ["b:7946", "x:7946"], sees: [] });
    const formedC = node("c", { formed: true, gossip: ["c:7946"], sees: [] });
    expect(decideFormation(node("a"), [formedC, formedB, node("d")])).toEqual({ kind: "join", via: "b", gossip: ["b:7946", "x:7946"] });
    expect(decideFormation(node("a", { bootstrapExpect: 0 }), [formedC])).toEqual({ kind: "join", via: "c", gossip: ["c:7946"] });
  });

  test("without bootstrap_expect a node only joins", () => {
    const all = ["a", "b", "c"];
    expect(decideFormation(node("a", { bootstrapExpect: 0, sees: all }), [node("b", { sees: all }), node("c", { sees: all })]).kind).toBe("wait");
  });

  test("another partition_count or cluster_id is refused with both settings named", () => {
    const step = decideFormation(node("a"), [node("b", { formed: true, partitionCount: 32 })]);
    expect(step.kind).toBe("refuse");
    expect(step.kind === "refuse" && step.reason).toContain("partition_count = 32");
    expect(step.kind === "refuse" && step.reason).toContain("partition_count = 16");
    expect(decideFormation(node("a"), [node("b", { formed: true, clusterId: "other" })]).kind).toBe("refuse");
    expect(decideFormation(node("a"), [node("b", { partitionCount: 64 })]).kind).toBe("refuse");
  });

  test("nodes expecting another bootstrap_expect are not counted", () => {
    expect(candidates(node("a"), [node("b", { bootstrapExpect: 5 }), node("c")])).toEqual(["a", "c"]);
  });
});

/**
 * A model of the formation loop: nodes start at arbitrary times; discovery shows each node the
 * nodes started so far (views agree up to arrival); a round probes everyone live and decides.
 */
function simulate(ids: readonly string[], expectN: number, schedule: readonly number[]): { bootstrapped: string[]; formed: Set<string> } {
  const started: string[] = [];
  const formed = new Set<string>();
  const sees = new Map<string, string[]>();
  const bootstrapped: string[] = [];
  const clusterOf = new Map<string, string>();
  const report = (id: string): FormationReport => node(id, { formed: formed.has(id), bootstrapExpect: expectN, sees: sees.get(id) ?? [id], gossip: [clusterOf.get(id) ?? id] });
  for (const pick of schedule) {
    // Either the next node starts, or a started node runs a round.
    if (started.length < ids.length && pick % 3 === 0) {
      started.push(ids[started.length]!);
      continue;
    }
    if (started.length === 0) continue;
    const id = started[pick % started.length]!;
    const peers = started.filter((p) => p !== id).map(report);
    sees.set(id, candidates(report(id), peers));
    const step = decideFormation(report(id), peers);
    if (step.kind === "bootstrap") {
      bootstrapped.push(id);
      formed.add(id);
      clusterOf.set(id, id);
    } else if (step.kind === "join") {
      // Admission by the controller, modelled as immediate.
      formed.add(id);
      clusterOf.set(id, step.gossip[0]!);
    }
  }
  return { bootstrapped, formed };
}

describe("formation properties", () => {
  const idSet = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 7 });

  test("with agreeing views, any interleaving never yields two bootstrappers, and all join one cluster", () => {
    fc.assert(
      fc.property(idSet, fc.integer({ min: 1, max: 7 }), fc.array(fc.nat(), { minLength: 0, maxLength: 400 }), (ids, expectN, schedule) => {
        const { bootstrapped } = simulate(ids, expectN, schedule);
        expect(bootstrapped.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  test("once everyone started and ran enough rounds, exactly one cluster holds every node", () => {
    fc.assert(
      fc.property(idSet, fc.integer({ min: 1, max: 7 }), fc.array(fc.nat(), { maxLength: 200 }), (ids, expectN, prefix) => {
        fc.pre(ids.length >= expectN);
        // Start everyone (a pick divisible by 3 starts the next node), then let every node run four rounds in turn.
        const tail = [...ids.map(() => 0), ...Array.from({ length: ids.length * 4 }, (_, i) => i)];
        const { bootstrapped, formed } = simulate(ids, expectN, [...prefix, ...tail]);
        expect(bootstrapped.length).toBe(1);
        expect(formed.size).toBe(ids.length);
      }),
      { numRuns: 1000 },
    );
  });

  test("with arbitrary (disagreeing) views, two nodes that bootstrap in the same round never saw each other", () => {
    const views = fc.uniqueArray(fc.constantFrom<string>("a", "b", "c", "d", "e", "f"), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.dictionary(fc.constantFrom("a", "b", "c", "d", "e", "f"), fc.tuple(views, views)), (expectN, raw) => {
        // view[id] = who id found; sees = what it reported last round (may be stale or wrong).
        const ids = Object.keys(raw);
        const boot = ids.filter((id) => {
          const [found, sees] = raw[id]!;
          const peers = found.filter((p) => p !== id && p in raw).map((p) => node(p, { bootstrapExpect: expectN, sees: raw[p]![1] }));
          return decideFormation(node(id, { bootstrapExpect: expectN, sees }), peers).kind === "bootstrap";
        });
        for (const x of boot) for (const y of boot) if (x !== y) expect(raw[x]![0].includes(y) && raw[y]![0].includes(x)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});
