import { describe, expect, test } from "bun:test";
import { LEADER_READS, READ_TARGET_POLICIES, type ReadTarget } from "../../src/cluster/core/read-target.ts";

const target = (over: Partial<ReadTarget>): ReadTarget => ({
  partition: 0,
  replicas: ["a", "b", "c"],
  leader: null,
  hint: undefined,
  tried: new Set(),
  alive: () => true,
  ...over,
});

describe("read target policies", () => {
  test("the registry holds the leader policy", () => {
    expect(READ_TARGET_POLICIES.get("leader")).toBe(LEADER_READS);
  });

  test("leader: this node's view of the leader, then the learned one, then the replicas in map order", () => {
    expect(LEADER_READS.choose(target({ leader: "c", hint: "b" }))).toBe("c");
    expect(LEADER_READS.choose(target({ hint: "b" }))).toBe("b");
    expect(LEADER_READS.choose(target({}))).toBe("a");
  });

  test("leader: members already tried or down are skipped; none left is undefined", () => {
    expect(LEADER_READS.choose(target({ leader: "c", tried: new Set(["c"]) }))).toBe("a");
    expect(LEADER_READS.choose(target({ leader: "c", alive: (id) => id === "b" }))).toBe("b");
    expect(LEADER_READS.choose(target({ tried: new Set(["a", "b", "c"]) }))).toBeUndefined();
  });
});
