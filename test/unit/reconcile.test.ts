import { describe, expect, test } from "bun:test";
import { CATCH_UP_SLACK, nextStep, type LeaderView } from "../../src/cluster/core/reconcile.ts";

const view = (
  voters: string[],
  learners: string[] = [],
  match: Record<string, number> = {},
  self = "a",
  lastIndex = 100,
  dead: string[] = [],
): LeaderView => ({
  self,
  conf: { voters, learners },
  lastIndex,
  match: new Map(Object.entries(match)),
  alive: new Set([...voters, ...learners].filter((id) => !dead.includes(id))),
});

describe("partition reconciliation", () => {
  test("a new replica joins as a learner first", () => {
    expect(nextStep(view(["a", "b", "c"]), ["a", "b", "d"])).toEqual({ change: { type: "addLearner", node: "d" } });
  });
  test("a lagging learner is not promoted and nothing is removed yet", () => {
    expect(nextStep(view(["a", "b", "c"], ["d"], { d: 10 }), ["a", "b", "d"])).toBeNull();
  });
  test("a caught-up learner is promoted, then the old replica removed", () => {
    expect(nextStep(view(["a", "b", "c"], ["d"], { d: 100 - CATCH_UP_SLACK }), ["a", "b", "d"])).toEqual({
      change: { type: "addVoter", node: "d" },
    });
    expect(nextStep(view(["a", "b", "c", "d"], [], { b: 100, c: 100, d: 100 }), ["a", "b", "d"])).toEqual({
      change: { type: "removeNode", node: "c" },
    });
  });
  test("a leader that must leave hands leadership over instead of removing itself", () => {
    expect(nextStep(view(["a", "b", "c"], [], { b: 100, c: 100 }), ["b", "c"])).toEqual({ transferTo: "b" });
  });
  test("leadership moves to the preferred replica once the membership matches", () => {
    expect(nextStep(view(["a", "b", "c"], [], { b: 100, c: 100 }), ["b", "a", "c"])).toEqual({ transferTo: "b" });
    expect(nextStep(view(["a", "b", "c"], [], { b: 100, c: 100 }), ["a", "b", "c"])).toBeNull();
  });
  test("no transfer to a preferred replica that is down, however current its log", () => {
    expect(nextStep(view(["a", "b", "c"], [], { b: 100, c: 100 }, "a", 100, ["b"]), ["b", "a", "c"])).toBeNull();
  });
  test("a leader that must leave waits while no live replica can take over", () => {
    expect(nextStep(view(["a", "b", "c"], [], { b: 100, c: 100 }, "a", 100, ["b", "c"]), ["b", "c"])).toBeNull();
  });
  test("no transfer to a preferred replica that lags", () => {
    expect(nextStep(view(["a", "b", "c"], [], { b: 3, c: 100 }), ["b", "a", "c"])).toBeNull();
  });
});
