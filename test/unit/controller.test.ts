import { describe, expect, test } from "bun:test";
import {
  decideMeta,
  decideOrphans,
  decideReconcile,
  type MetaInput,
  partitionTarget,
  type PeerView,
} from "../../src/cluster/core/controller.ts";
import { applyMeta, type MemberInfo, type MetaState, RETIRED_PER_ID } from "../../src/cluster/core/meta.ts";
import { place } from "../../src/cluster/core/placement.ts";
import type { LeaderView } from "../../src/cluster/core/reconcile.ts";

const PARTITIONS = 4;
const TIMEOUT = 60_000;

const info = (id: string, zone = "z"): MemberInfo => ({
  id,
  zone,
  addrs: { resp: `${id}:6379`, http: `${id}:8080`, raft: `${id}:7000`, gossip: `${id}:7946` },
  version: "1",
});

/** Applied metadata with these members and the placement over them (map version 1). */
function metaOf(ids: string[], extra: Partial<MetaState> = {}): MetaState {
  const map = place({
    members: ids.map((id) => ({ id, zone: "z" })),
    partitionCount: PARTITIONS,
    replicationFactor: 3,
  });
  return {
    clusterId: "c",
    partitionCount: PARTITIONS,
    replicationFactor: 3,
    members: Object.fromEntries(ids.map((id) => [id, info(id)])),
    map,
    mapVersion: 1,
    draining: [],
    ...extra,
  };
}

const views = (states: Record<string, PeerView["state"]>): Map<string, PeerView> =>
  new Map(Object.entries(states).map(([id, state]) => [id, { state, info: info(id) }]));

const input = (over: Partial<MetaInput>): MetaInput => ({
  meta: metaOf(["a", "b", "c"]),
  self: info("a"),
  views: views({ a: "alive", b: "alive", c: "alive" }),
  deadSince: new Map(),
  now: 1_000_000,
  deadNodeTimeout: TIMEOUT,
  ...over,
});

describe("metadata decisions", () => {
  test("nothing is decided before the founding metadata applies", () => {
    const meta = { ...metaOf([]), clusterId: "" };
    expect(decideMeta(input({ meta })).decision).toEqual({ kind: "none" });
  });

  test("an alive member gossip knows is admitted, one change per round", () => {
    const { decision } = decideMeta(
      input({ views: views({ a: "alive", b: "alive", c: "alive", d: "alive", e: "alive" }) }),
    );
    expect(decision).toEqual({ kind: "propose", op: { t: "member", member: info("d") } });
  });

  test("a suspect or dead node gossip knows is not admitted", () => {
    const { decision } = decideMeta(
      input({ views: views({ a: "alive", b: "alive", c: "alive", d: "suspect", e: "dead" }) }),
    );
    expect(decision.kind).toBe("reconcile");
  });

  test("a member whose addresses changed is updated", () => {
    const meta = metaOf(["a", "b", "c"]);
    const moved = { ...info("b"), addrs: { ...info("b").addrs, resp: "elsewhere:6379" } };
    const v = views({ a: "alive", c: "alive" }).set("b", { state: "alive", info: moved });
    expect(decideMeta(input({ meta, views: v })).decision).toEqual({
      kind: "propose",
      op: { t: "member", member: moved },
    });
  });

  test("a member's id back on another data dir is never admitted over it; an older version's entry gets the id", () => {
    const onDisk = (id: string, dataDirId: string): MemberInfo => ({ ...info(id), dataDirId });
    const meta = { ...metaOf(["a", "b", "c"]), members: { a: info("a"), b: onDisk("b", "old"), c: info("c") } };
    const wiped = views({ a: "alive", c: "alive" }).set("b", { state: "alive", info: onDisk("b", "new") });
    expect(decideMeta(input({ meta, views: wiped })).decision.kind).toBe("reconcile");
    // Refused, it leaves gossip: that is not the member leaving, which stays until dead_node_timeout.
    const gone = views({ a: "alive", c: "alive" }).set("b", { state: "left", info: onDisk("b", "new") });
    expect(decideMeta(input({ meta, views: gone })).decision.kind).toBe("reconcile");
    const { decision } = decideMeta(input({ meta, views: gone, deadSince: new Map([["b", 0]]), now: TIMEOUT }));
    const removed = { id: "b", state: "dead" as const, deadMs: TIMEOUT };
    expect(decision).toEqual({ kind: "propose", op: { t: "remove", id: "b" }, removed });
    const upgraded = views({ a: "alive", b: "alive" }).set("c", { state: "alive", info: onDisk("c", "dc") });
    expect(decideMeta(input({ meta, views: upgraded })).decision).toEqual({
      kind: "propose",
      op: { t: "member", member: onDisk("c", "dc") },
    });
  });

  test("POST /cluster/remove retires the member's incarnation and a refused one: only a new one is admitted", () => {
    const onDisk = (id: string, dataDirId: string): MemberInfo => ({ ...info(id), dataDirId });
    const before = { ...metaOf(["a", "b", "c"]), members: { a: info("a"), b: onDisk("b", "d1"), c: info("c") } };
    // The remover's gossip still shows the refused start on a wiped data dir ("d2", not alive there).
    const { state: meta, result } = applyMeta(before, { t: "remove", id: "b", retire: ["d2"] });
    expect(result).toEqual({ ok: true });
    expect(meta.retired).toEqual({ b: ["d1", "d2"] });
    // What the metadata leader admits when its gossip shows b alive on data dir `d`.
    const admitted = (d: string) => {
      const v = views({ a: "alive", c: "alive" }).set("b", { state: "alive", info: onDisk("b", d) });
      const { decision } = decideMeta(input({ meta, views: v }));
      return decision.kind === "propose" && decision.op.t === "member" ? decision.op.member.dataDirId : undefined;
    };
    // Its gossip, behind, still sees the refused start (or the removed member) alive: not admitted.
    expect(admitted("d2")).toBeUndefined();
    expect(admitted("d1")).toBeUndefined();
    // The node's next start (a new data dir id) is.
    expect(admitted("d3")).toBe("d3");
    // The controller's own removals (left, dead too long) retire nothing: such a node rejoins on its data dir.
    expect(applyMeta(before, { t: "remove", id: "b" }).state.retired).toBeUndefined();
    // Bounded per id, the newest kept.
    let s = meta;
    for (let i = 0; i < RETIRED_PER_ID + 4; i++) {
      s = applyMeta(applyMeta(s, { t: "member", member: onDisk("b", `n${i}`) }).state, {
        t: "remove",
        id: "b",
        retire: [],
      }).state;
    }
    expect(s.retired?.b?.length).toBe(RETIRED_PER_ID);
    expect(s.retired?.b?.at(-1)).toBe(`n${RETIRED_PER_ID + 3}`);
  });

  test("a dead member is removed only after dead_node_timeout; suspect does not count", () => {
    const dead = views({ a: "alive", b: "alive", c: "dead" });
    const first = decideMeta(input({ views: dead, now: 1_000 }));
    expect(first.decision.kind).toBe("reconcile");
    expect(first.deadSince.get("c")).toBe(1_000);
    const before = decideMeta(input({ views: dead, deadSince: first.deadSince, now: 1_000 + TIMEOUT - 1 }));
    expect(before.decision.kind).toBe("reconcile");
    const after = decideMeta(input({ views: dead, deadSince: first.deadSince, now: 1_000 + TIMEOUT }));
    expect(after.decision).toEqual({
      kind: "propose",
      op: { t: "remove", id: "c" },
      removed: { id: "c", state: "dead", deadMs: TIMEOUT },
    });
    const back = decideMeta(
      input({
        views: views({ a: "alive", b: "alive", c: "suspect" }),
        deadSince: first.deadSince,
        now: 1_000 + TIMEOUT,
      }),
    );
    expect(back.decision.kind).toBe("reconcile");
    expect(back.deadSince.has("c")).toBe(false);
  });

  test("a member gossip no longer knows counts as dead; one that left goes at once", () => {
    expect(decideMeta(input({ views: views({ a: "alive", b: "alive" }) })).deadSince.get("c")).toBe(1_000_000);
    const { decision } = decideMeta(input({ views: views({ a: "alive", b: "alive", c: "left" }) }));
    expect(decision).toEqual({
      kind: "propose",
      op: { t: "remove", id: "c" },
      removed: { id: "c", state: "left", deadMs: 0 },
    });
  });

  test("this node is never removed, whatever gossip says of it", () => {
    const { decision } = decideMeta(
      input({ views: views({ a: "dead", b: "alive", c: "alive" }), deadSince: new Map([["a", 0]]) }),
    );
    expect(decision.kind).toBe("reconcile");
  });

  test("members without a placement get a new map, guarded by the map version", () => {
    const meta = {
      ...metaOf(["a", "b", "c"]),
      members: Object.fromEntries(["a", "b", "c", "d"].map((id) => [id, info(id)])),
    };
    const { decision } = decideMeta(input({ meta, views: views({ a: "alive", b: "alive", c: "alive", d: "alive" }) }));
    expect(decision.kind).toBe("propose");
    if (decision.kind !== "propose" || decision.op.t !== "map") {
      throw new Error(`expected a map change, got ${JSON.stringify(decision)}`);
    }
    expect(decision.op.ifVersion).toBe(1);
    expect(decision.op.map.flat()).toContain("d");
  });

  test("admitting comes before removing, removing before placing", () => {
    const v = views({ a: "alive", b: "alive", d: "alive" });
    const first = decideMeta(input({ views: v, deadSince: new Map([["c", 0]]) }));
    expect(first.decision).toMatchObject({ kind: "propose", op: { t: "member" } });
    const meta = {
      ...metaOf(["a", "b", "c"]),
      members: Object.fromEntries(["a", "b", "c", "d"].map((id) => [id, info(id)])),
    };
    const second = decideMeta(input({ meta, views: v, deadSince: new Map([["c", 0]]) }));
    expect(second.decision).toMatchObject({ kind: "propose", op: { t: "remove", id: "c" } });
  });

  test("settled metadata: group 0 gets up to five voters, this node first, the rest as learners", () => {
    const ids = ["a", "b", "c", "d", "e", "f", "g"];
    const meta = metaOf(ids);
    const all = views(Object.fromEntries(ids.map((id) => [id, "alive" as const])));
    const { decision } = decideMeta(input({ meta, self: info("c"), views: all }));
    expect(decision).toEqual({
      kind: "reconcile",
      target: { voters: ["c", "a", "b", "d", "e"], replicas: ["c", "a", "b", "d", "e", "f", "g"] },
    });
  });
});

const leader = (voters: string[], learners: string[] = [], caughtUp = true): LeaderView => ({
  self: "a",
  conf: { voters, learners },
  lastIndex: 100,
  match: new Map([...voters, ...learners].map((id) => [id, caughtUp ? 100 : 0])),
  alive: new Set([...voters, ...learners]),
});

describe("group reconcile decisions", () => {
  test("a partition's target is its map entry; none without one", () => {
    expect(partitionTarget([["a", "b"], []], 1)).toEqual({ replicas: ["a", "b"], voters: ["a", "b"] });
    expect(partitionTarget([["a", "b"], []], 2)).toBeUndefined();
    expect(partitionTarget([], 1)).toBeUndefined();
  });

  test("the next Raft step comes first; then a wanted learner is added", () => {
    const target = { voters: ["a", "b", "c"], replicas: ["a", "b", "c", "d"] };
    expect(decideReconcile(leader(["a", "b"]), target, [])).toEqual({ change: { type: "addLearner", node: "c" } });
    expect(decideReconcile(leader(["a", "b", "c"]), target, [])).toEqual({ change: { type: "addLearner", node: "d" } });
    expect(decideReconcile(leader(["a", "b", "c"], ["d"]), target, [])).toBeNull();
  });

  test("a wanted learner is not removed, but a draining voter is (it comes back as a learner)", () => {
    const target = { voters: ["a", "b"], replicas: ["a", "b", "c"] };
    expect(decideReconcile(leader(["a", "b"], ["c"]), target, [])).toBeNull();
    expect(decideReconcile(leader(["a", "b", "c"]), target, [])).toBeNull();
    expect(decideReconcile(leader(["a", "b", "c"]), target, ["c"])).toEqual({
      change: { type: "removeNode", node: "c" },
    });
  });

  test("a replica outside the target is removed", () => {
    expect(decideReconcile(leader(["a", "b", "c"]), { voters: ["a", "b"], replicas: ["a", "b"] }, [])).toEqual({
      change: { type: "removeNode", node: "c" },
    });
  });
});

describe("orphaned replica decisions", () => {
  const map = [
    ["a", "b"],
    ["b", "c"],
  ];
  const base = { self: "a", map, orphanSince: new Map<number, number>(), now: 0, orphanMs: 10_000 };

  test("a replica the map moved away is dropped once it heard no leader for orphanMs", () => {
    const first = decideOrphans({ ...base, groups: [{ grp: 2, leader: null }] });
    expect(first).toEqual({ drop: [], wake: [], orphanSince: new Map([[2, 0]]) });
    const early = decideOrphans({
      ...base,
      groups: [{ grp: 2, leader: null }],
      orphanSince: first.orphanSince,
      now: 9_999,
    });
    expect(early.drop).toEqual([]);
    const late = decideOrphans({
      ...base,
      groups: [{ grp: 2, leader: null }],
      orphanSince: first.orphanSince,
      now: 10_000,
    });
    expect(late).toEqual({ drop: [2], wake: [], orphanSince: new Map() });
  });

  test("one that still hears a leader is woken, so it times out, and its clock restarts", () => {
    const d = decideOrphans({
      ...base,
      groups: [{ grp: 2, leader: "b" }],
      orphanSince: new Map([[2, 0]]),
      now: 50_000,
    });
    expect(d).toEqual({ drop: [], wake: [2], orphanSince: new Map() });
  });

  test("replicas the map gives this node, and partitions without a map entry, are kept", () => {
    const d = decideOrphans({
      ...base,
      groups: [
        { grp: 1, leader: null },
        { grp: 3, leader: null },
      ],
      orphanSince: new Map([
        [1, 0],
        [3, 0],
      ]),
      now: 50_000,
    });
    expect(d).toEqual({ drop: [], wake: [], orphanSince: new Map() });
  });
});
