import { describe, expect, test } from "bun:test";
import {
  answersFromApplied,
  LEADER_READS,
  READ_TARGET_POLICIES,
  type ReadTarget,
} from "../../src/cluster/core/read-target.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { MemoryRaftStorage } from "../../src/raft/memory-storage.ts";
import { Raft } from "../../src/raft/raft.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";

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

describe("reads answered from the applied state, without a ReadIndex round", () => {
  const group = (voters: string[]) => {
    const s = new MemoryRaftStorage();
    s.saveBatch([bootstrapWrite(1, voters)]);
    const r = new Raft({ grp: 1, id: "a", storage: s, random: seededRandom(1), electionTicks: 10, heartbeatTicks: 2 });
    /** One host turn: persist, apply, advance. */
    const turn = () => {
      while (r.hasReady()) {
        const rd = r.ready();
        if (rd.persist) s.saveBatch([rd.persist]);
        r.advance();
      }
    };
    return { r, turn };
  };

  test("a sole-voter leader, once everything in its log is committed and applied", () => {
    const { r, turn } = group(["a"]);
    r.tick();
    expect(r.status().role).toBe("leader");
    expect(answersFromApplied(r.status())).toBe(false); // its no-op is not durable yet
    turn();
    expect(answersFromApplied(r.status())).toBe(true);
    r.propose(new Uint8Array([1]));
    expect(answersFromApplied(r.status())).toBe(false); // a write in flight may be acknowledged first
    turn();
    expect(answersFromApplied(r.status())).toBe(true);
  });

  test("never a follower, nor a leader with other voters to confirm it", () => {
    const { r, turn } = group(["a", "b", "c"]);
    for (let i = 0; i < 30; i++) r.tick();
    turn();
    expect(r.status().role).not.toBe("leader");
    expect(answersFromApplied(r.status())).toBe(false);
    expect(answersFromApplied({ ...r.status(), role: "leader", applied: r.status().commit })).toBe(false);
  });
});
