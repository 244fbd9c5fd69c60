import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  candidates,
  decideFormation,
  foreignClusterNodes,
  mayPromise,
  type FormationReport,
} from "../../src/cluster/core/formation.ts";

const node = (nodeId: string, over: Partial<FormationReport> = {}): FormationReport => ({
  nodeId,
  formed: false,
  clusterId: "c1",
  partitionCount: 16,
  bootstrapExpect: 3,
  identities: [],
  gossip: [`${nodeId}:7946`],
  sees: [nodeId],
  member: {
    id: nodeId,
    zone: "",
    addrs: { resp: `${nodeId}:6380`, http: `${nodeId}:8080`, raft: `${nodeId}:7947`, gossip: `${nodeId}:7946` },
    version: "test",
  },
  promisedTo: null,
  ...over,
});

describe("decideFormation", () => {
  test("a node holding cluster state is a member and never bootstraps", () => {
    expect(decideFormation(node("a", { formed: true }), [])).toEqual({ kind: "member" });
  });

  test("waits until bootstrap_expect nodes see each other", () => {
    expect(decideFormation(node("a"), [node("b", { sees: ["a", "b"] })])).toEqual({
      kind: "wait",
      reason:
        "2 of 3 expected nodes see each other (a, b); the cluster forms once 1 more with the same cluster id and " +
        "bootstrap_expect answer",
    });
  });

  test("the lowest node id bootstraps once every candidate sees it as lowest; the others wait for it", () => {
    const all = ["a", "b", "c"];
    const [a, b, c] = all.map((id) => node(id, { sees: all }));
    expect(decideFormation(a!, [b!, c!])).toEqual({ kind: "bootstrap", founders: ["a", "b", "c"] });
    expect(decideFormation(b!, [a!, c!])).toEqual({
      kind: "wait",
      reason: "node a has the lowest node id and bootstraps the cluster",
    });
    expect(decideFormation(node("a"), [node("b", { sees: ["b", "c"] }), c!])).toEqual({
      kind: "wait",
      reason: "node b does not yet see this node as the lowest",
    });
  });

  test("more nodes than expected: the lowest bootstraps with the expected number of lowest ids, the others join later", () => {
    const all = ["e", "a", "d", "b", "c"];
    const [e, a, d, b, c] = all.map((id) => node(id, { sees: all }));
    expect(decideFormation(a!, [e!, d!, b!, c!])).toEqual({ kind: "bootstrap", founders: ["a", "b", "c"] });
    // Extras that do not confirm do not hold the founding up; founders that do not confirm do.
    expect(decideFormation(a!, [node("e", { sees: ["e"] }), d!, b!, c!]).kind).toBe("bootstrap");
    expect(decideFormation(a!, [e!, d!, node("b", { sees: ["b"] }), c!]).kind).toBe("wait");
    expect(decideFormation(e!, [a!, d!, b!, c!])).toEqual({
      kind: "wait",
      reason: "node a has the lowest node id and bootstraps the cluster",
    });
  });

  test("a founder promised to another node waits for it, and joins only that node's cluster", () => {
    const all = ["a", "b", "c"];
    const b = node("b", { sees: all, promisedTo: "a" });
    expect(decideFormation(b, [node("a", { sees: all }), node("c", { sees: all })])).toEqual({
      kind: "wait",
      reason: "promised to found the cluster with node a; waiting for it to bootstrap",
    });
    const formedA = node("a", { formed: true, gossip: ["a:7946"], sees: [] });
    const formedX = node("0", { formed: true, gossip: ["0:7946"], sees: [] });
    expect(decideFormation(b, [formedX, formedA])).toEqual({ kind: "join", via: "a", gossip: ["a:7946"] });
    expect(decideFormation(b, [formedX]).kind).toBe("wait");
    // The lowest node does not claim a founder that promised someone else.
    expect(
      decideFormation(node("a", { sees: all }), [node("b", { sees: all, promisedTo: "x" }), node("c", { sees: all })])
        .kind,
    ).toBe("wait");
  });

  test("a node promises one claimer at a time, only the lowest it sees, and only while unformed and expecting", () => {
    const b = node("b", { sees: ["a", "b", "c"] });
    expect(mayPromise(b, "a")).toBe(true);
    expect(mayPromise({ ...b, promisedTo: "a" }, "a")).toBe(true);
    expect(mayPromise({ ...b, promisedTo: "a" }, "0")).toBe(false);
    expect(mayPromise({ ...b, promisedTo: "b" }, "a")).toBe(false); // claiming itself
    expect(mayPromise(b, "c")).toBe(false); // a is lower
    expect(mayPromise(b, "b")).toBe(false);
    expect(mayPromise({ ...b, formed: true }, "a")).toBe(false);
    expect(mayPromise({ ...b, bootstrapExpect: 0 }, "a")).toBe(false);
  });

  test("a formed cluster found is joined instead of forming one, through the lowest formed node", () => {
    const formedB = node("b", { formed: true, gossip: ["b:7946", "x:7946"], sees: [] });
    const formedC = node("c", { formed: true, gossip: ["c:7946"], sees: [] });
    expect(decideFormation(node("a"), [formedC, formedB, node("d")])).toEqual({
      kind: "join",
      via: "b",
      gossip: ["b:7946", "x:7946"],
    });
    expect(decideFormation(node("a", { bootstrapExpect: 0 }), [formedC])).toEqual({
      kind: "join",
      via: "c",
      gossip: ["c:7946"],
    });
  });

  test("without bootstrap_expect a node only joins", () => {
    const all = ["a", "b", "c"];
    expect(
      decideFormation(node("a", { bootstrapExpect: 0, sees: all }), [
        node("b", { sees: all }),
        node("c", { sees: all }),
      ]).kind,
    ).toBe("wait");
  });

  test("another partition_count or cluster_id is refused with both settings named", () => {
    const step = decideFormation(node("a"), [node("b", { formed: true, partitionCount: 32 })]);
    expect(step.kind).toBe("refuse");
    expect(step.kind === "refuse" && step.reason).toContain("partition_count = 32");
    expect(step.kind === "refuse" && step.reason).toContain("partition_count = 16");
    expect(decideFormation(node("a"), [node("b", { formed: true, clusterId: "other" })]).kind).toBe("refuse");
    expect(decideFormation(node("a"), [node("b", { partitionCount: 64 })]).kind).toBe("refuse");
  });

  const wipedTitle =
    "a node holding no state whose id a formed cluster knows from another data dir " +
    "(a wiped member) is refused, naming the removal";
  test(wipedTitle, () => {
    const known = (id: string, dataDirId?: string) => (dataDirId === undefined ? { id } : { id, dataDirId });
    const wiped = (over: Partial<FormationReport> = {}) =>
      node("b", { member: { ...node("b").member, dataDirId: "new" }, ...over });
    // "a" lists "b" on its old data dir in the metadata, or (removed there, not yet everywhere) in a group's conf only.
    for (const identities of [
      [known("a", "da"), known("b", "old")],
      [known("a", "da"), known("b")],
    ]) {
      const formedA = node("a", { formed: true, identities, sees: [] });
      for (const self of [wiped(), wiped({ bootstrapExpect: 0 })]) {
        const step = decideFormation(self, [formedA]);
        expect(step.kind).toBe("refuse");
        expect(step.kind === "refuse" && step.reason).toContain("/cluster/remove?node=b");
        expect(step.kind === "refuse" && step.reason).toContain("vote twice in one term");
      }
      // Any formed peer that knows it is enough, whichever answered first.
      const formedC = node("c", { formed: true, identities: [known("c")] });
      expect(decideFormation(wiped(), [formedC, formedA]).kind).toBe("refuse");
    }
    // Listed with this data dir's id: a founder, or a new node the controller admitted before this round.
    const listed = node("a", { formed: true, identities: [known("a"), known("b", "new")] });
    expect(decideFormation(wiped(), [listed]).kind).toBe("join");
    // A new id, or one the cluster removed everywhere, joins.
    const unknown = node("a", { formed: true, identities: [known("a"), known("d", "x")] });
    expect(decideFormation(wiped(), [unknown]).kind).toBe("join");
  });

  test("nodes expecting another bootstrap_expect are not counted", () => {
    expect(candidates(node("a"), [node("b", { bootstrapExpect: 5 }), node("c")])).toEqual(["a", "c"]);
  });
});

interface Outcome {
  /** Each bootstrap: who, with which founders. */
  readonly bootstraps: { by: string; founders: readonly string[] }[];
  readonly formed: Set<string>;
}

/**
 * A model of the formation loop with claims: nodes start at arbitrary times; `view(id, started)`
 * is whom node id finds; a round probes them and decides; a bootstrap decision claims every
 * founder (`mayPromise`) and, at the node's next turn (others may act in between), founds only if
 * all promised. Promises never expire here (a claimer founds as soon as the answers are in).
 */
function simulate(
  ids: readonly string[],
  expectN: number,
  schedule: readonly number[],
  view: (id: string, started: readonly string[]) => readonly string[] = (_, started) => started,
): Outcome {
  const started: string[] = [];
  const formed = new Set<string>();
  const sees = new Map<string, string[]>();
  const promised = new Map<string, string>();
  const bootstraps: Outcome["bootstraps"] = [];
  const claims = new Map<string, readonly string[]>();
  const report = (id: string): FormationReport =>
    node(id, {
      formed: formed.has(id),
      bootstrapExpect: expectN,
      sees: formed.has(id) ? [] : (sees.get(id) ?? [id]),
      promisedTo: formed.has(id) ? null : (promised.get(id) ?? null),
    });
  for (const pick of schedule) {
    // Either the next node starts, or a started node runs a round.
    if (started.length < ids.length && pick % 3 === 0) {
      started.push(ids[started.length]!);
      continue;
    }
    if (started.length === 0) continue;
    const id = started[pick % started.length]!;
    if (formed.has(id)) continue;
    const claim = claims.get(id);
    if (claim) {
      // The claim's answers arrive: found if every founder promised, else release this node's self-promise.
      claims.delete(id);
      if (claim.every((f) => f === id || (promised.get(f) === id && !formed.has(f)))) {
        bootstraps.push({ by: id, founders: claim });
        // The founders hear from the bootstrapper's group 0 leader: they hold cluster state.
        for (const f of claim) formed.add(f);
      } else promised.delete(id);
      continue;
    }
    const peers = view(id, started)
      .filter((p) => p !== id)
      .map(report);
    sees.set(id, candidates(report(id), peers));
    const step = decideFormation(report(id), peers);
    if (step.kind === "bootstrap") {
      // Claims go out now; others may act before the answers are in (next turn of this node).
      promised.set(id, id);
      for (const f of step.founders)
        if (f !== id && view(id, started).includes(f) && mayPromise(report(f), id)) promised.set(f, id);
      claims.set(id, step.founders);
    } else if (step.kind === "join") {
      // Admission by the controller, modelled as immediate.
      formed.add(id);
    }
  }
  return { bootstraps, formed };
}

describe("formation properties", () => {
  const idSet = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 7 });
  const sorted = (xs: readonly string[]) => [...xs].sort();

  test("with agreeing views, any interleaving of starts and rounds yields at most one bootstrap, with bootstrap_expect founders, the lowest among them first", () => {
    fc.assert(
      fc.property(
        idSet,
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 400 }),
        (ids, expectN, schedule) => {
          const { bootstraps } = simulate(ids, expectN, schedule);
          expect(bootstraps.length).toBeLessThanOrEqual(1);
          for (const b of bootstraps) {
            expect(b.founders.length).toBe(expectN);
            expect(b.founders[0]).toBe(b.by);
            expect(sorted(b.founders)).toEqual([...b.founders]);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("all nodes up before anyone decides, found in any order: exactly one bootstrapper, the lowest id, with the lowest bootstrap_expect ids as voters; everyone ends in that cluster", () => {
    fc.assert(
      fc.property(
        idSet,
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        fc.integer(),
        (ids, expectN, rounds, seed) => {
          fc.pre(ids.length >= expectN);
          // Each node finds the others in its own order (a permutation derived from the seed).
          const order = (id: string) =>
            [...ids].sort((x, y) => hash(`${seed}/${id}/${x}`) - hash(`${seed}/${id}/${y}`));
          const startAll = ids.map(() => 0);
          // Once all have started, every pick is a round of node (pick mod n).
          const tail = Array.from({ length: ids.length * 8 }, (_, i) => i);
          const { bootstraps, formed } = simulate(ids, expectN, [...startAll, ...rounds, ...tail], (id) => order(id));
          expect(bootstraps.length).toBe(1);
          expect(bootstraps[0]!.by).toBe(sorted(ids)[0]);
          expect(bootstraps[0]!.founders).toEqual(sorted(ids).slice(0, expectN));
          expect(formed.size).toBe(ids.length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("once everyone started and ran enough rounds, exactly one cluster holds every node", () => {
    fc.assert(
      fc.property(
        idSet,
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (ids, expectN, prefix) => {
          fc.pre(ids.length >= expectN);
          // Start everyone (a pick divisible by 3 starts the next node), then let every node run five rounds in turn.
          const tail = [...ids.map(() => 0), ...Array.from({ length: ids.length * 8 }, (_, i) => i)];
          const { bootstraps, formed } = simulate(ids, expectN, [...prefix, ...tail]);
          expect(bootstraps.length).toBe(1);
          expect(formed.size).toBe(ids.length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("with arbitrary, disagreeing and changing views, no node is ever a founder of two clusters", () => {
    const letters = ["a", "b", "c", "d", "e", "f"];
    const viewSets = fc.array(fc.uniqueArray(fc.constantFrom(...letters), { maxLength: 6 }), {
      minLength: 6,
      maxLength: 6,
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(viewSets, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 300 }),
        (expectN, phases, schedule) => {
          // Views change over time: phase k of the schedule uses views phases[k] (node i finds phases[k][i]).
          let turn = 0;
          const phaseLen = Math.max(1, Math.ceil(schedule.length / phases.length));
          const view = (id: string, started: readonly string[]) => {
            const views = phases[Math.min(phases.length - 1, Math.floor(turn++ / phaseLen))]!;
            return views[letters.indexOf(id)]!.filter((p) => started.includes(p));
          };
          const { bootstraps } = simulate(letters, expectN, schedule, view);
          const founderOf = new Map<string, string>();
          for (const b of bootstraps) {
            for (const f of b.founders) {
              expect(founderOf.get(f)).toBeUndefined();
              founderOf.set(f, b.by);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

describe("foreignClusterNodes", () => {
  const formed = (id: string, members: string[]) =>
    node(id, { formed: true, identities: members.map((m) => ({ id: m })), sees: [] });

  test("a formed node of a cluster that does not know this one, under the same cluster id, is foreign", () => {
    const self = formed("a", ["a"]);
    expect(foreignClusterNodes(self, [formed("b", ["b"])]).map((p) => p.nodeId)).toEqual(["b"]);
  });

  test("members, nodes being admitted, unformed nodes and other cluster ids are not", () => {
    const self = formed("a", ["a", "b"]);
    expect(
      foreignClusterNodes(self, [
        formed("b", ["a", "b"]),
        // Admitted here, its metadata not applied yet: it knows no cluster yet.
        node("c", { formed: true, identities: [] }),
        // Admitted here, this node's metadata not applied yet: its cluster knows this node.
        formed("d", ["a", "b", "d"]),
        node("e"),
        node("f", { formed: true, identities: [{ id: "f" }], clusterId: "other" }),
      ]),
    ).toEqual([]);
  });
});
