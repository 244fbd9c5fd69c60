// Targeted, deterministic checks of the Raft core's rules; the simulator (test/sim) covers the
// randomized fault space.
import { describe, expect, test } from "bun:test";
import { Raft } from "../../src/raft/raft.ts";
import type { RaftConfig } from "../../src/raft/raft.ts";
import { MemoryRaftStorage } from "../../src/raft/memory-storage.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { EntryKind, MsgType } from "../../src/raft/types.ts";
import type { Entry, Message, ReadState } from "../../src/raft/types.ts";

const E = 10;
const H = 2;
const bytes = (t: string) => new TextEncoder().encode(t);
const text = (e: Entry) => (e.data ? new TextDecoder().decode(e.data) : "");

type Opts = Partial<Omit<RaftConfig, "grp" | "id" | "storage" | "random">>;

/** A perfect, manually pumped network of Raft nodes with in-memory storage. */
class Cluster {
  readonly rafts = new Map<string, Raft>();
  readonly storages = new Map<string, MemoryRaftStorage>();
  readonly applied = new Map<string, Entry[]>();
  readonly reads = new Map<string, ReadState[]>();
  readonly sent: Message[] = [];
  queue: Message[] = [];
  drop: (m: Message) => boolean = () => false;

  constructor(
    voters: string[],
    private readonly opts: Opts = {},
    extra: string[] = [],
  ) {
    for (const id of voters) {
      const s = new MemoryRaftStorage();
      s.saveBatch([bootstrapWrite(1, voters)]);
      this.storages.set(id, s);
    }
    for (const id of extra) this.storages.set(id, new MemoryRaftStorage());
    for (const id of this.storages.keys()) this.start(id);
  }

  start(id: string, seed = id.charCodeAt(0)): Raft {
    const r = new Raft({
      grp: 1,
      id,
      storage: this.storages.get(id)!,
      random: seededRandom(seed),
      electionTicks: E,
      heartbeatTicks: H,
      ...this.opts,
    });
    this.rafts.set(id, r);
    this.applied.set(id, []);
    this.reads.set(id, []);
    return r;
  }

  r(id: string): Raft {
    return this.rafts.get(id)!;
  }

  drain(id: string): void {
    const r = this.r(id);
    while (r.hasReady()) {
      const rd = r.ready();
      if (rd.persist) this.storages.get(id)!.saveBatch([rd.persist]);
      for (const m of rd.messages) {
        this.sent.push(m);
        if (!this.drop(m)) this.queue.push(m);
      }
      this.applied.get(id)!.push(...rd.committed);
      this.reads.get(id)!.push(...rd.readStates);
      r.advance();
    }
  }

  deliver(): number {
    let n = 0;
    while (this.queue.length > 0) {
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        const r = this.rafts.get(m.to);
        if (!r) continue;
        r.step(m);
        this.drain(m.to);
        n++;
      }
    }
    return n;
  }

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.rafts.keys()) {
        this.r(id).tick();
        this.drain(id);
      }
      this.deliver();
    }
  }

  leader(): string | null {
    for (const [id, r] of this.rafts) if (r.status().role === "leader") return id;
    return null;
  }

  elect(id: string): void {
    // A forced campaign (as after a transfer): freshly started peers still honour the boot lease.
    const r = this.r(id);
    r.step({ type: MsgType.TimeoutNow, grp: 1, from: "test", to: id, term: r.status().term });
    this.drain(id);
    this.deliver();
    expect(r.status().role).toBe("leader");
  }

  propose(id: string, t: string): number {
    const res = this.r(id).propose(bytes(t));
    if (!res.ok) throw new Error(res.reason);
    this.drain(id);
    this.deliver();
    return res.index;
  }
}

describe("elections", () => {
  test("a follower campaigns after a timeout in (E, 2E] ticks", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const s = new MemoryRaftStorage();
      s.saveBatch([bootstrapWrite(1, ["a", "b", "c"])]);
      const r = new Raft({
        grp: 1,
        id: "a",
        storage: s,
        random: seededRandom(seed),
        electionTicks: E,
        heartbeatTicks: H,
      });
      let t = 0;
      while (r.status().role === "follower") {
        r.tick();
        t++;
      }
      expect(t).toBeGreaterThan(E);
      expect(t).toBeLessThanOrEqual(2 * E);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3); // randomized
  });

  test("a sole voter leads at its first tick, also after a restart; with lease reads it waits out the lease", () => {
    const ticksToLead = (r: Raft) => {
      let t = 0;
      while (r.status().role !== "leader") {
        r.tick();
        t++;
      }
      return t;
    };
    for (const readMode of ["safe", "lease"] as const) {
      const s = new MemoryRaftStorage();
      s.saveBatch([bootstrapWrite(1, ["a"])]);
      const open = () =>
        new Raft({
          grp: 1,
          id: "a",
          storage: s,
          random: seededRandom(1),
          electionTicks: E,
          heartbeatTicks: H,
          readMode,
        });
      const first = open();
      // A founded group has a term: with lease reads it cannot know it granted no lease in it.
      expect(ticksToLead(first)).toBe(readMode === "safe" ? 1 : E);
      // Its term, vote and no-op durable, as after a turn of the host.
      s.saveBatch([first.ready().persist!]);
      first.advance();
      expect(ticksToLead(open())).toBe(readMode === "safe" ? 1 : E);
    }
  });

  test("the hard state is handed out for persistence in the same Ready as the vote requests", () => {
    const c = new Cluster(["a", "b", "c"], { preVote: false });
    c.drain("a");
    for (let i = 0; i < 2 * E; i++) c.r("a").tick();
    const rd = c.r("a").ready();
    expect(rd.persist?.hardState).toEqual({ term: 2, vote: "a", commit: 1 });
    expect(rd.messages.map((m) => m.type)).toEqual([MsgType.Vote, MsgType.Vote]);
  });

  test("pre-vote: an isolated node does not inflate its term and does not disrupt the leader on return", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    const term = c.r("a").status().term;
    c.drop = (m) => m.from === "c" || m.to === "c";
    c.tick(10 * E);
    expect(c.r("c").status().term).toBe(term);
    c.drop = () => false;
    c.tick(3 * E);
    expect(c.leader()).toBe("a");
    expect(c.r("a").status().term).toBe(term);
  });

  test("without pre-vote the same isolation raises the term (control for the test above)", () => {
    const c = new Cluster(["a", "b", "c"], { preVote: false });
    c.elect("a");
    const term = c.r("a").status().term;
    c.drop = (m) => m.from === "c" || m.to === "c";
    c.tick(10 * E);
    expect(c.r("c").status().term).toBeGreaterThan(term);
  });

  test("check-quorum: a leader cut off from its followers steps down within 2E ticks", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.drop = (m) => m.from === "a" || m.to === "a";
    let t = 0;
    while (c.r("a").status().role === "leader" && t < 5 * E) {
      c.r("a").tick();
      c.drain("a");
      c.deliver();
      t++;
    }
    expect(c.r("a").status().role).toBe("follower");
    expect(t).toBeLessThanOrEqual(2 * E);
  });

  test("a vote is refused to a candidate whose log is behind", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.drop = (m) => m.to === "c";
    c.propose("a", "x");
    c.tick(2);
    c.drop = () => false;
    const b = c.r("b");
    b.step({ type: MsgType.Vote, grp: 1, from: "c", to: "b", term: 99, index: 2, logTerm: 2, force: true });
    const rd = b.ready();
    b.advance();
    expect(rd.messages.find((m) => m.type === MsgType.VoteResp)?.reject).toBe(true);
  });

  test("messages of another group are ignored", () => {
    const c = new Cluster(["a", "b"]);
    c.drain("b");
    c.r("b").step({ type: MsgType.Vote, grp: 2, from: "a", to: "b", term: 50, index: 9, logTerm: 9 });
    expect(c.r("b").status().term).toBe(1);
    expect(c.r("b").hasReady()).toBe(false);
  });
});

describe("replication", () => {
  test("entries commit on a quorum and apply everywhere in order", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    for (let i = 0; i < 5; i++) c.propose("a", `v${i}`);
    c.tick(2);
    for (const id of ["a", "b", "c"]) {
      expect(
        c.applied
          .get(id)!
          .filter((e) => e.kind === 0)
          .map(text),
      ).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    }
    const last = c.r("a").status().lastIndex;
    expect(
      c
        .r("a")
        .followers()
        .map((f) => [f.id, f.match, f.state, f.learner]),
    ).toEqual([
      ["b", last, "replicate", false],
      ["c", last, "replicate", false],
    ]);
    expect(c.r("b").followers()).toEqual([]);
  });

  test("an entry of an earlier term is committed only through an entry of the current term", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.drop = (m) => m.from === "a"; // a appends but cannot replicate
    c.r("a").propose(bytes("old"));
    c.drain("a");
    c.drop = () => false;
    c.queue = [];
    // b becomes leader of a later term; a learns of it and its uncommitted entry is replaced.
    c.elect("b");
    c.tick(2);
    const idx = c.r("b").status().commit;
    expect(c.r("a").termAt(idx)).toBe(c.r("b").status().term);
    expect(c.applied.get("a")!.map(text)).not.toContain("old");
  });

  test("conflict back-off skips a whole term per round trip", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.tick(2);
    // a, cut off, appends 30 entries of its term that nobody else gets.
    c.drop = (m) => m.from === "a" || m.to === "a";
    for (let i = 0; i < 30; i++) c.propose("a", `lost${i}`);
    // b leads a later term with c and commits 40 entries.
    c.elect("b");
    for (let i = 0; i < 40; i++) c.propose("b", `kept${i}`);
    c.tick(2);
    c.elect("c"); // a fresh leader probes a from the end of its long log
    c.drop = () => false;
    c.sent.length = 0;
    c.tick(4);
    const rejects = c.sent.filter((m) => m.type === MsgType.AppResp && m.reject && m.from === "a");
    expect(c.r("a").status().lastIndex).toBe(c.r("c").status().lastIndex);
    expect(c.applied.get("a")!.map(text)).toContain("kept39");
    expect(c.applied.get("a")!.map(text)).not.toContain("lost0");
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(2); // one entry at a time would take ~30
  });

  test("flow control: at most maxInflight appends outstanding, each within maxMsgBytes", () => {
    const c = new Cluster(["a", "b"], { maxInflight: 2, maxMsgBytes: 100 });
    c.elect("a");
    c.tick(2);
    c.drop = (m) => m.to === "b"; // b receives nothing, so nothing is acknowledged
    c.sent.length = 0;
    for (let i = 0; i < 20; i++) {
      c.r("a").propose(bytes(`entry-number-${i}-${"x".repeat(30)}`));
      c.drain("a");
    }
    const apps = c.sent.filter((m) => m.type === MsgType.App && m.to === "b" && (m.entries?.length ?? 0) > 0);
    expect(apps.length).toBe(2);
    for (const m of apps) {
      const size = m.entries!.reduce((n, e) => n + (e.data?.byteLength ?? 0) + 24, 0);
      expect(m.entries!.length === 1 || size <= 100).toBe(true);
    }
  });

  test("a lagging follower gets a chunked snapshot after compaction, then the log", () => {
    const c = new Cluster(["a", "b", "c"], { snapshotChunkBytes: 16 });
    c.elect("a");
    c.drop = (m) => m.to === "c" || m.from === "c";
    for (let i = 0; i < 10; i++) c.propose("a", `v${i}`);
    c.tick(2);
    const applied = c.r("a").status().applied;
    c.r("a").compact(applied, bytes("state-machine-image-of-forty-bytes-----"));
    c.drain("a");
    c.propose("a", "after");
    c.drop = () => false;
    c.sent.length = 0;
    c.tick(4);
    const chunks = c.sent.filter((m) => m.type === MsgType.Snap && m.to === "c");
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(c.r("c").status().snapshotIndex).toBe(applied);
    expect(new TextDecoder().decode(c.storages.get("c")!.snapshotData(1))).toBe(
      "state-machine-image-of-forty-bytes-----",
    );
    expect(c.applied.get("c")!.map(text)).toContain("after");
  });
});

describe("reads", () => {
  test("ReadIndex waits for the new leader's no-op to commit", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.drop = (m) => m.type === MsgType.AppResp; // the no-op cannot commit
    c.elect("a");
    c.r("a").readIndex("r1");
    c.drain("a");
    c.tick(2);
    expect(c.reads.get("a")).toEqual([]);
    c.drop = () => false;
    c.tick(2);
    const rs = c.reads.get("a")!;
    expect(rs.map((r) => r.ctx)).toEqual(["r1"]);
    expect(c.r("a").termAt(rs[0].index)).toBe(c.r("a").status().term);
  });

  test("a follower's ReadIndex is confirmed by the leader with a quorum round", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.tick(2);
    c.propose("a", "w");
    c.r("c").readIndex("rc");
    c.drain("c");
    c.deliver();
    expect(c.reads.get("c")!.map((r) => [r.ctx, r.index])).toEqual([["rc", c.r("a").status().commit]]);
  });

  test("a leader that lost its quorum does not confirm reads", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.tick(2);
    c.drop = (m) => m.from === "a" || m.to === "a";
    c.r("a").readIndex("stale?");
    c.drain("a");
    c.tick(3 * E);
    expect(c.reads.get("a")).toEqual([]);
  });

  test("lease reads need check-quorum, and are served without a round trip while the lease holds", () => {
    expect(() => new Cluster(["a"], { readMode: "lease", checkQuorum: false })).toThrow(
      /lease reads require checkQuorum/,
    );
    const c = new Cluster(["a", "b", "c"], { readMode: "lease" });
    c.elect("a");
    c.tick(2);
    expect(c.r("a").leaseValid()).toBe(true);
    c.r("a").readIndex("lease");
    const rd = c.r("a").ready();
    c.r("a").advance();
    expect(rd.readStates.map((r) => r.ctx)).toEqual(["lease"]);
    c.drop = (m) => m.from === "a" || m.to === "a";
    c.tick(E);
    expect(c.r("a").leaseValid()).toBe(false); // expired before anyone else could be elected
  });
});

test("a leader resumed after a pause longer than its lease does not serve a read that misses a newer write", () => {
  // Real time is shared; a paused node (SIGSTOP) processes nothing, neither ticks nor messages.
  let time = 0;
  const c = new Cluster(["a", "b", "c"], { readMode: "lease", clock: () => time });
  const rounds = (n: number, skip?: string) => {
    for (let i = 0; i < n; i++) {
      time++;
      for (const id of c.rafts.keys()) {
        if (id === skip) continue;
        c.r(id).tick();
        c.drain(id);
      }
      c.deliver();
    }
  };
  c.elect("a");
  c.propose("a", "x");
  rounds(2);
  expect(c.r("a").leaseValid()).toBe(true);
  c.drop = (m) => m.from === "a" || m.to === "a";
  let newer = 0;
  for (let i = 0; i < 10 * E && newer === 0; i++) {
    rounds(1, "a");
    const l = ["b", "c"].find((id) => c.r(id).status().role === "leader");
    if (l && c.r(l).status().commit === c.r(l).status().lastIndex) newer = c.propose(l, "y");
  }
  expect(newer).toBeGreaterThan(0);
  expect(c.applied.get("b")!.map(text)).toContain("y");
  // a resumes: a client's read reaches it before its first tick or any message from the others.
  expect(c.r("a").status().role).toBe("leader");
  expect(c.r("a").leaseValid()).toBe(false);
  c.r("a").readIndex("after-pause");
  c.drain("a");
  expect(c.reads.get("a")!.filter((r) => r.index < newer)).toEqual([]);
  // Once it hears from the others it steps down, and the read is never answered from its old state.
  c.drop = () => false;
  rounds(2 * E);
  expect(c.r("a").status().role).toBe("follower");
  expect(c.reads.get("a")!.filter((r) => r.index < newer)).toEqual([]);
});

test("lease reads rely on followers refusing votes while they hear from the leader", () => {
  const overlap = (broken: boolean): boolean => {
    const c = new Cluster(["a", "b", "c"], {
      readMode: "lease",
      ...(broken ? { unsafeTestingKnobs: { voteDuringLease: true } } : {}),
    });
    c.elect("a");
    c.tick(2);
    // c loses a (both ways) but still talks to b; a keeps its lease through b.
    c.drop = (m) => (m.from === "a" && m.to === "c") || (m.from === "c" && m.to === "a");
    for (let i = 0; i < 3 * E; i++) {
      c.tick();
      if (c.r("c").status().role === "leader") return c.r("a").status().role === "leader" && c.r("a").leaseValid();
    }
    expect(c.r("a").leaseValid()).toBe(true);
    return false;
  };
  expect(overlap(false)).toBe(false);
  expect(overlap(true)).toBe(true); // the broken variant: a new leader while the old lease holds
});

describe("leadership transfer and membership", () => {
  test("TimeoutNow hands leadership to an up-to-date voter at once", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.propose("a", "x");
    expect(c.r("a").transferLeader("c")).toBe(true);
    expect(c.r("a").propose(bytes("during")).ok).toBe(false);
    c.drain("a");
    c.deliver();
    expect(c.leader()).toBe("c");
    expect(c.r("c").status().term).toBe(3);
  });

  test("a learner catches up without voting, then is promoted; one change at a time", () => {
    const c = new Cluster(["a", "b", "c"], {}, ["d"]);
    c.elect("a");
    c.tick(2);
    const add = c.r("a").proposeConfChange({ type: "addLearner", node: "d" });
    expect(add.ok).toBe(true);
    const second = c.r("a").proposeConfChange({ type: "removeNode", node: "b" });
    expect(second).toMatchObject({ ok: false, reason: "a configuration change is still in progress" });
    c.drain("a");
    c.deliver();
    c.tick(2);
    expect(c.r("d").status().conf).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
    c.propose("a", "y");
    c.tick(2);
    expect(c.applied.get("d")!.map(text)).toContain("y");
    // A learner never campaigns.
    for (let i = 0; i < 4 * E; i++) c.r("d").tick();
    expect(c.r("d").status().role).toBe("follower");
    expect(c.r("a").proposeConfChange({ type: "addVoter", node: "d" }).ok).toBe(true);
    c.drain("a");
    c.deliver();
    c.tick(2);
    expect(c.r("a").status().conf).toEqual({ voters: ["a", "b", "c", "d"], learners: [] });
  });

  test("a removed leader hands leadership over once its removal commits", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.tick(2);
    expect(c.r("a").proposeConfChange({ type: "removeNode", node: "a" }).ok).toBe(true);
    c.drain("a");
    c.deliver();
    c.tick(2 * E);
    const l = c.leader();
    expect(l === "b" || l === "c").toBe(true);
    expect(c.r(l!).status().conf.voters).toEqual(["b", "c"]);
  });

  test("restart recovers term, vote, log and membership from storage; commit as of the last save", () => {
    const c = new Cluster(["a", "b", "c"]);
    c.elect("a");
    c.propose("a", "k");
    c.tick(2);
    const before = c.r("b").status();
    expect(before.commit).toBe(3);
    const r = c.start("b");
    const after = r.status();
    expect([after.term, after.vote, after.lastIndex]).toEqual([before.term, before.vote, before.lastIndex]);
    expect(after.conf).toEqual(before.conf);
    // b learnt commit 3 from a heartbeat, which saves nothing: the commit that rode along its
    // last save (k's append, carrying the no-op's commit 2) is what it restarts with.
    expect([after.commit, after.applied]).toEqual([2, 0]);
    c.tick(2);
    c.drain("b");
    expect(r.status().commit).toBe(3); // learnt again from the leader
    expect(c.applied.get("b")!.map(text)).toContain("k"); // re-applied from the log
  });

  test("restart recovers the commit index from the state machine's applied index", () => {
    const c = new Cluster(["a"]);
    c.elect("a");
    c.propose("a", "k");
    c.drain("a");
    const before = c.r("a").status();
    expect(before.applied).toBe(before.commit);
    const storage = c.storages.get("a")!;
    expect(storage.load(1).hardState.commit).toBeLessThan(before.commit); // the commit alone was not saved
    const after = new Raft({ grp: 1, id: "a", storage, random: seededRandom(1), applied: before.applied }).status();
    expect([after.commit, after.applied]).toEqual([before.commit, before.applied]);
  });
});

describe("founding", () => {
  test("empty replicas opened by the founder's first campaign vote for it at once (no lease to honour)", () => {
    const c = new Cluster([], {}, ["a", "b", "c"]);
    c.storages.get("a")!.saveBatch([bootstrapWrite(1, ["a", "b", "c"])]);
    c.start("a");
    // As in a host, b and c open their empty group only when the founder's first message arrives.
    c.rafts.delete("b");
    c.rafts.delete("c");
    for (let i = 0; i <= 2 * E && !c.sent.some((m) => m.type === MsgType.PreVote); i++) {
      c.r("a").tick();
      c.drain("a");
    }
    c.start("b");
    c.start("c");
    c.deliver();
    expect(c.leader()).toBe("a");
  });

  test("a group founded by one member, the others starting empty: it leads, and every replica gets the founding conf (voters and learners) and the founding data before anything else", () => {
    const c = new Cluster([], {}, ["a", "b", "c", "d"]);
    c.storages.get("a")!.saveBatch([bootstrapWrite(1, ["a", "b", "c"], { learners: ["d"], data: [bytes("init")] })]);
    c.start("a");
    for (let i = 0; i < 20 * E && c.leader() === null; i++) c.tick();
    // Only the founder knows the conf, so only it can campaign; the empty replicas vote for it.
    expect(c.leader()).toBe("a");
    c.propose("a", "after");
    c.tick(2 * H);
    for (const id of ["a", "b", "c", "d"]) {
      const st = c.r(id).status();
      expect(st.conf).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
      const normal = c.applied.get(id)!.filter((e) => e.data && e.kind === EntryKind.Normal);
      expect(normal.map(text)).toEqual(["init", "after"]);
      expect(normal[0]!.index).toBe(2);
    }
  });
});

describe("stepping while a Ready is being persisted (asynchronous storage writes)", () => {
  const app = (from: string, term: number, prev: number, prevTerm: number, entries: Entry[]): Message => ({
    type: MsgType.App,
    grp: 1,
    from,
    to: "b",
    term,
    index: prev,
    logTerm: prevTerm,
    entries,
    commit: 1,
  });
  const ent = (index: number, term: number): Entry => ({ index, term, kind: EntryKind.Normal, data: null });

  test("entries that replace part of the write in flight are persisted by the next Ready", () => {
    const storage = new MemoryRaftStorage();
    storage.saveBatch([bootstrapWrite(1, ["a", "b", "c"])]);
    const r = new Raft({ grp: 1, id: "b", storage, random: seededRandom(1), electionTicks: E, heartbeatTicks: H });
    r.step(app("a", 2, 1, 1, [ent(2, 2), ent(3, 2)]));
    const first = r.ready();
    expect(first.persist?.entries?.map((e) => e.index)).toEqual([2, 3]);
    // A new leader's entry 3 replaces the one being written, before that write is durable.
    r.step(app("c", 3, 2, 2, [ent(3, 3)]));
    storage.saveBatch([first.persist!]);
    r.advance();
    const second = r.ready();
    expect(second.persist?.entries?.map((e) => `${e.index}/${e.term}`)).toEqual(["3/3"]);
    storage.saveBatch([second.persist!]);
    r.advance();
    expect(storage.load(1).entries.map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/2", "3/3"]);
    const acks = second.messages.filter((m) => m.type === MsgType.AppResp && m.to === "c");
    expect(acks.map((m) => ({ index: m.index, reject: m.reject ?? false }))).toEqual([{ index: 3, reject: false }]);
  });

  test("a snapshot received while a write is in flight is persisted and installed by the next Ready", () => {
    const storage = new MemoryRaftStorage();
    storage.saveBatch([bootstrapWrite(1, ["a", "b", "c"])]);
    const r = new Raft({ grp: 1, id: "b", storage, random: seededRandom(1), electionTicks: E, heartbeatTicks: H });
    r.step(app("a", 2, 1, 1, [ent(2, 2)]));
    const first = r.ready();
    const meta = { index: 10, term: 2, conf: { voters: ["a", "b", "c"], learners: [] } };
    const snap = { meta, offset: 0, chunk: bytes("at 10"), last: true };
    r.step({ type: MsgType.Snap, grp: 1, from: "a", to: "b", term: 2, snap });
    storage.saveBatch([first.persist!]);
    r.advance();
    const second = r.ready();
    expect(second.persist?.snapshot?.meta.index).toBe(10);
    expect(second.persist?.discardLog).toBe(true);
    expect(second.installSnapshot?.meta.index).toBe(10);
    storage.saveBatch([second.persist!]);
    r.advance();
    expect(r.hasReady()).toBe(false);
    expect(storage.load(1).snapshot.index).toBe(10);
    expect(r.status()).toMatchObject({ applied: 10, lastIndex: 10, snapshotIndex: 10 });
  });
});
