// Several MultiRaft hosts in one process, wired by an asynchronous in-process network that can
// cut nodes off, each with its own storage and state machine: the real Raft core and host.
import { describe, expect, test } from "bun:test";
import {
  answersFromApplied,
  MultiRaft,
  NotLeader,
  type HostStorage,
  type StateMachine,
} from "../../src/cluster/core/multiraft.ts";
import { Raft } from "../../src/raft/raft.ts";
import { raftMessagesOf, type HeartbeatBatch } from "../../src/cluster/core/heartbeats.ts";
import { MemoryRaftStorage } from "../../src/raft/memory-storage.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import { EntryKind, MsgType, type Entry, type GroupWrite, type Message, type Snapshot } from "../../src/raft/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

class KvMachine implements StateMachine {
  readonly data = new Map<number, Map<string, string>>();
  readonly applied = new Map<number, number>();
  appliedIndex(grp: number) {
    return this.applied.get(grp) ?? 0;
  }
  apply(grp: number, entries: readonly Entry[]) {
    const kv = this.data.get(grp) ?? new Map<string, string>();
    this.data.set(grp, kv);
    return entries.map((e) => {
      this.applied.set(grp, e.index);
      if (e.kind !== EntryKind.Normal || !e.data) return undefined;
      const [k, v] = dec.decode(e.data).split("=");
      if (k === "poison") throw new Error(`cannot apply entry ${e.index}`);
      const old = kv.get(k!);
      kv.set(k!, v!);
      return old ?? null;
    });
  }
  transaction<T>(fn: () => T): T {
    return fn();
  }
  installSnapshot(grp: number, s: Snapshot) {
    this.data.set(grp, new Map(JSON.parse(dec.decode(s.data))));
    this.applied.set(grp, s.meta.index);
  }
}

type Sent = Message | HeartbeatBatch;

/**
 * Saves asynchronously, like the log worker: a write reaches `durable` (what a restart would load)
 * only `delayMs` after saveBatch, or never when `failing`. `events` records saves, their
 * completions and what the host sent, in order: the seam for asserting what left before its
 * write was durable.
 */
class SlowStorage implements HostStorage {
  readonly events: ({ t: "save" | "durable"; n: number } | { t: "send"; m: Sent })[] = [];
  failing = false;
  private saves = 0;
  constructor(
    readonly durable: MemoryRaftStorage,
    private readonly delayMs: number,
  ) {}
  load(grp: number) {
    return this.durable.load(grp);
  }
  snapshotData(grp: number) {
    return this.durable.snapshotData(grp);
  }
  saveBatch(writes: readonly GroupWrite[]): Promise<void> {
    const n = ++this.saves;
    this.events.push({ t: "save", n });
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        if (this.failing) return reject(new Error("disk full"));
        this.durable.saveBatch(writes);
        this.events.push({ t: "durable", n });
        resolve();
      }, this.delayMs),
    );
  }
}

interface ClusterOptions {
  readonly quiesce?: boolean;
  /** The node's storage, given its MemoryRaftStorage (already holding the groups' founding writes). */
  readonly storage?: (id: string, founded: MemoryRaftStorage) => HostStorage;
  /** Sees every message a node hands its transport, as it does. */
  readonly onSend?: (id: string, m: Sent) => void;
  readonly onFailure?: (id: string, e: Error) => void;
}

function cluster(ids: string[], groups: number[], opts: ClusterOptions = {}) {
  /** Crashed: not ticked, messages dropped, not alive to the others' liveness source. */
  const down = new Set<string>();
  /** Cut off: messages dropped, but liveness still calls it alive (gossip has not noticed yet). */
  const cut = new Set<string>();
  /** Everything each host handed its transport, with the host's turn (one process() run) it left in. */
  const sent: { turn: number; m: Sent }[] = [];
  const turns = new Map<string, number>();
  const hosts = new Map<string, { host: MultiRaft; sm: KvMachine }>();
  for (const [i, id] of ids.entries()) {
    const founded = new MemoryRaftStorage();
    founded.saveBatch(groups.map((g) => bootstrapWrite(g, ids)));
    const sm = new KvMachine();
    const host = new MultiRaft({
      nodeId: id,
      storage: opts.storage?.(id, founded) ?? founded,
      onFailure: (e) => opts.onFailure?.(id, e),
      stateMachine: sm,
      random: seededRandom(i + 1),
      raft: { electionTicks: 10, heartbeatTicks: 2 },
      quiesce: opts.quiesce ? { alive: (other) => !down.has(other) } : undefined,
      schedule: (fn) =>
        setImmediate(() => {
          turns.set(id, (turns.get(id) ?? 0) + 1);
          fn();
        }),
      send: (m: Sent) => {
        opts.onSend?.(id, m);
        sent.push({ turn: turns.get(id) ?? 0, m });
        if (down.has(m.from) || down.has(m.to) || cut.has(m.from) || cut.has(m.to)) return;
        // Through the same check as the node's Raft port, as the transport would deliver it.
        const r = raftMessagesOf(structuredClone(m));
        if ("problem" in r) throw new Error(r.problem);
        setTimeout(() => {
          const to = hosts.get(m.to)?.host;
          for (const x of r.messages) to?.step(x, r.quiet.has(x.grp));
        }, 1);
      },
    });
    for (const g of groups) host.open(g);
    hosts.set(id, { host, sm });
  }
  const timer = setInterval(() => {
    for (const [id, h] of hosts) if (!down.has(id)) h.host.tick();
  }, 5);
  const leaderOf = (grp: number) => {
    for (const [id, h] of hosts) if (!down.has(id) && h.host.status(grp)?.role === "leader") return id;
    return undefined;
  };
  const waitLeader = async (grp: number) => {
    for (let i = 0; i < 400; i++) {
      const l = leaderOf(grp);
      if (l) return l;
      await Bun.sleep(5);
    }
    throw new Error(`no leader for group ${grp}`);
  };
  const allQuiet = async () => {
    for (let i = 0; i < 400; i++) {
      if ([...hosts].every(([id, h]) => down.has(id) || h.host.quietGroups().length === groups.length)) return;
      await Bun.sleep(5);
    }
    throw new Error("groups did not all go quiet");
  };
  return {
    hosts,
    down,
    cut,
    sent,
    allQuiet,
    waitLeader,
    stop: () => clearInterval(timer),
  };
}

describe("multi-raft host", () => {
  test("groups elect leaders, proposals resolve with the state machine's result, every replica applies", async () => {
    const c = cluster(["a", "b", "c"], [1, 2, 3]);
    try {
      for (const grp of [1, 2, 3]) {
        const l = await c.waitLeader(grp);
        const h = c.hosts.get(l)!.host;
        expect(await h.propose(grp, enc.encode("k=v1"))).toBe(null);
        expect(await h.propose(grp, enc.encode("k=v2"))).toBe("v1");
      }
      await Bun.sleep(100);
      for (const { sm } of c.hosts.values()) for (const grp of [1, 2, 3]) expect(sm.data.get(grp)?.get("k")).toBe("v2");
    } finally {
      c.stop();
    }
  });

  test("a follower is refused with the leader's name; a read barrier on a follower waits for the write", async () => {
    const c = cluster(["a", "b", "c"], [1]);
    try {
      const l = await c.waitLeader(1);
      const follower = ["a", "b", "c"].find((x) => x !== l)!;
      const fh = c.hosts.get(follower)!;
      await Bun.sleep(50); // let the follower learn who leads
      const refused = await fh.host.propose(1, enc.encode("x=1")).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NotLeader);
      expect((refused as NotLeader).leader).toBe(l);
      await c.hosts.get(l)!.host.propose(1, enc.encode("x=2"));
      await fh.host.readBarrier(1);
      expect(fh.sm.data.get(1)?.get("x")).toBe("2");
    } finally {
      c.stop();
    }
  });

  test("a follower's reads share one ReadIndex request until a turn takes it; a read after a write waits for it", async () => {
    let asks = 0;
    const c = cluster(["a", "b", "c"], [1], {
      onSend: (_, m) => {
        if ("type" in m && m.type === MsgType.ReadIndex) asks++;
      },
    });
    try {
      const l = await c.waitLeader(1);
      const leader = c.hosts.get(l)!.host;
      const f = c.hosts.get(["a", "b", "c"].find((x) => x !== l)!)!;
      await leader.propose(1, enc.encode("x=1"));
      const before = asks;
      await Promise.all(Array.from({ length: 8 }, () => f.host.readBarrier(1)));
      expect(asks - before).toBe(1);
      for (let i = 2; i <= 4; i++) {
        await leader.propose(1, enc.encode(`x=${i}`));
        await f.host.readBarrier(1);
        expect(f.sm.data.get(1)?.get("x")).toBe(String(i));
      }
      expect(asks - before).toBe(4);
    } finally {
      c.stop();
    }
  });

  test("after the leader is cut off, a new leader is elected and commits", async () => {
    const c = cluster(["a", "b", "c"], [1]);
    try {
      const old = await c.waitLeader(1);
      await c.hosts.get(old)!.host.propose(1, enc.encode("y=1"));
      c.down.add(old);
      let next: string | undefined;
      for (let i = 0; i < 400 && !next; i++) {
        await Bun.sleep(5);
        next = [...c.hosts.keys()].find((id) => id !== old && c.hosts.get(id)!.host.status(1)?.role === "leader");
      }
      expect(next).toBeDefined();
      expect(await c.hosts.get(next!)!.host.propose(1, enc.encode("y=2"))).toBe("1");
    } finally {
      c.stop();
    }
  });

  test("heartbeats and their responses of all groups travel as one batch per peer per turn and keep every leader in place", async () => {
    const groups = Array.from({ length: 24 }, (_, i) => i + 1);
    const c = cluster(["a", "b", "c"], groups);
    try {
      for (const g of groups) await c.waitLeader(g);
      const terms = () => groups.map((g) => c.hosts.get("a")!.host.status(g)!.term);
      const before = terms();
      const from = c.sent.length;
      await Bun.sleep(300); // 60 ticks of 5 ms: 30 heartbeat rounds, 6 election timeouts
      expect(terms()).toEqual(before); // nobody campaigned: the expanded heartbeats reached Raft
      const idle = c.sent.slice(from);
      const isBatch = (m: Sent): m is HeartbeatBatch => "beats" in m;
      // No heartbeat left as a Message of its own.
      expect(
        idle.filter(({ m }) => !isBatch(m) && (m.type === MsgType.Heartbeat || m.type === MsgType.HeartbeatResp)),
      ).toEqual([]);
      const batches = idle.filter((s): s is { turn: number; m: HeartbeatBatch } => isBatch(s.m));
      // Per peer per turn, one batch of heartbeats (sent before the turn's fsync, as a leader's
      // messages may be) and one of responses (after it).
      const perTurn = new Map<string, number>();
      for (const { turn, m } of batches) {
        for (const [kind, n] of [
          ["beats", m.beats.length],
          ["acks", m.acks.length],
        ] as const) {
          if (n > 0)
            perTurn.set(
              `${m.from}>${m.to}@${turn}/${kind}`,
              (perTurn.get(`${m.from}>${m.to}@${turn}/${kind}`) ?? 0) + 1,
            );
        }
      }
      expect(Math.max(...perTurn.values())).toBe(1);
      // Each node leads some of the 24 groups; a batch carries the beats of many of them at once.
      const groupsIn = (b: HeartbeatBatch) =>
        new Set([...b.beats.filter((_, i) => i % 5 === 0), ...b.acks.filter((_, i) => i % 4 === 0)]).size;
      expect(Math.max(...batches.map(({ m }) => groupsIn(m)))).toBeGreaterThan(1);
      // Responses come back coalesced too.
      expect(batches.some(({ m }) => m.acks.length / 4 > 1)).toBe(true);
    } finally {
      c.stop();
    }
  });
});

describe("multi-raft host on a storage that saves asynchronously", () => {
  test("no vote or append response leaves before the write it acknowledges is durable", async () => {
    const storages = new Map<string, SlowStorage>();
    const early: string[] = [];
    const checked = { votes: 0, appends: 0 };
    const c = cluster(["a", "b", "c"], [1, 2], {
      storage: (id, founded) => storages.set(id, new SlowStorage(founded, 3)).get(id)!,
      onSend: (id, m) => {
        const s = storages.get(id)!;
        s.events.push({ t: "send", m });
        if ("beats" in m || m.reject) return;
        const durable = s.durable.load(m.grp);
        if (m.type === MsgType.VoteResp) {
          checked.votes++;
          const hs = durable.hardState;
          if (hs.term !== m.term || hs.vote !== m.to) {
            early.push(`${id} granted ${m.to} a vote in term ${m.term}, durable: ${JSON.stringify(hs)}`);
          }
        } else if (m.type === MsgType.AppResp) {
          checked.appends++;
          const last = durable.snapshot.index + durable.entries.length;
          if (last < m.index!) early.push(`${id} acknowledged ${m.grp}/${m.index}, durable up to ${last}`);
        }
      },
    });
    try {
      for (const grp of [1, 2]) {
        const l = await c.waitLeader(grp);
        const h = c.hosts.get(l)!.host;
        // Many proposals at once: they pile up while a save is in flight and share the next one.
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => h.propose(grp, enc.encode(`k=${i}`))));
        expect(results[0]).toBe(null);
      }
      await Bun.sleep(100);
      for (const { sm } of c.hosts.values()) for (const grp of [1, 2]) expect(sm.data.get(grp)?.get("k")).toBe("29");
      expect(early).toEqual([]);
      expect(checked.votes).toBeGreaterThan(0);
      expect(checked.appends).toBeGreaterThan(0);
      // At most one save in flight per host: each save is durable before the next one starts.
      for (const s of storages.values()) {
        const order = s.events.filter((e) => e.t !== "send").map((e) => `${e.t}${"n" in e ? e.n : ""}`);
        expect(order).toEqual(order.map((_, i) => `${i % 2 === 0 ? "save" : "durable"}${Math.floor(i / 2) + 1}`));
      }
    } finally {
      c.stop();
    }
  });

  test("a failed save stops the host: its proposals are rejected, nothing of its turn is applied", async () => {
    let slow: SlowStorage | undefined;
    const failures: string[] = [];
    const c = cluster(["a"], [1], {
      storage: (_, founded) => (slow = new SlowStorage(founded, 2)),
      onFailure: (id, e) => failures.push(`${id}: ${e.message}`),
    });
    try {
      const h = c.hosts.get(await c.waitLeader(1))!;
      expect(await h.host.propose(1, enc.encode("x=1"))).toBe(null);
      slow!.failing = true;
      const applied = h.sm.applied.get(1);
      const refused = await h.host.propose(1, enc.encode("x=2")).catch((e: unknown) => e);
      expect(String(refused)).toContain("saving the Raft log failed: disk full");
      expect(failures).toEqual([`a: ${(refused as Error).message}`]);
      expect(h.host.failed).toBe(refused as Error);
      await Bun.sleep(50);
      expect(h.sm.applied.get(1)).toBe(applied);
      expect(h.sm.data.get(1)?.get("x")).toBe("1");
      expect(() => h.host.propose(1, enc.encode("x=3"))).toThrow("disk full");
    } finally {
      c.stop();
    }
  });
  test("a failed apply stops the host: no later entry is applied past the one it lacks", async () => {
    const failures: string[] = [];
    const c = cluster(["a"], [1], {
      storage: (_, founded) => new SlowStorage(founded, 2),
      onFailure: (id, e) => failures.push(`${id}: ${e.message}`),
    });
    try {
      const h = c.hosts.get(await c.waitLeader(1))!;
      expect(await h.host.propose(1, enc.encode("x=1"))).toBe(null);
      const refused = await h.host.propose(1, enc.encode("poison=1")).catch((e: unknown) => e);
      expect(String(refused)).toContain("applying committed entries failed: cannot apply entry");
      expect(failures).toEqual([`a: ${(refused as Error).message}`]);
      expect(() => h.host.propose(1, enc.encode("x=2"))).toThrow("cannot apply entry");
      await Bun.sleep(50);
      expect(h.sm.data.get(1)?.get("x")).toBe("1");
    } finally {
      c.stop();
    }
  });
});

describe("quiescence", () => {
  const groups = [1, 2, 3, 4, 5, 6];
  const leaders = (c: ReturnType<typeof cluster>) =>
    groups.map((g) => [...c.hosts].find(([id, h]) => !c.down.has(id) && h.host.status(g)?.role === "leader")?.[0]);
  const terms = (c: ReturnType<typeof cluster>, id: string) => groups.map((g) => c.hosts.get(id)!.host.status(g)!.term);

  test("idle groups go quiet on every replica and send nothing; a proposal wakes its group and every replica applies it", async () => {
    const c = cluster(["a", "b", "c"], groups, { quiesce: true });
    try {
      for (const g of groups) await c.waitLeader(g);
      await c.allQuiet();
      const before = terms(c, "a");
      const from = c.sent.length;
      await Bun.sleep(200); // 40 ticks: 4 election timeouts
      expect(c.sent.slice(from)).toEqual([]);
      expect(terms(c, "a")).toEqual(before);
      const l = leaders(c)[2]!;
      expect(await c.hosts.get(l)!.host.propose(3, enc.encode("q=1"))).toBe(null);
      await c.allQuiet(); // the followers woke for the append, then all went quiet again
      for (const { sm } of c.hosts.values()) expect(sm.data.get(3)?.get("q")).toBe("1");
      expect(terms(c, "a")).toEqual(before);
    } finally {
      c.stop();
    }
  });

  test("a read barrier on a quiet follower wakes the group and sees the latest write", async () => {
    const c = cluster(["a", "b", "c"], groups, { quiesce: true });
    try {
      for (const g of groups) await c.waitLeader(g);
      const l = leaders(c)[0]!;
      await c.hosts.get(l)!.host.propose(1, enc.encode("r=2"));
      await c.allQuiet();
      const f = ["a", "b", "c"].find((x) => x !== l)!;
      await c.hosts.get(f)!.host.readBarrier(1);
      expect(c.hosts.get(f)!.sm.data.get(1)?.get("r")).toBe("2");
    } finally {
      c.stop();
    }
  });

  test("when liveness reports a quiet leader dead, its followers elect a new one", async () => {
    const c = cluster(["a", "b", "c"], groups, { quiesce: true });
    try {
      for (const g of groups) await c.waitLeader(g);
      await c.allQuiet();
      const victim = leaders(c)[0]!;
      c.down.add(victim);
      const next = await c.waitLeader(1);
      expect(next).not.toBe(victim);
      expect(await c.hosts.get(next)!.host.propose(1, enc.encode("d=1"))).toBe(null);
    } finally {
      c.stop();
    }
  });

  test("a quiet follower trusts liveness; losing the connection to its leader (wakeNode) wakes it, and it elects a new one", async () => {
    const c = cluster(["a", "b", "c"], groups, { quiesce: true });
    try {
      for (const g of groups) await c.waitLeader(g);
      await c.allQuiet();
      const victim = leaders(c)[0]!;
      const followers = ["a", "b", "c"].filter((x) => x !== victim);
      c.cut.add(victim);
      await Bun.sleep(200); // 4 election timeouts: nobody campaigns while liveness says the leader lives
      for (const f of followers) expect(c.hosts.get(f)!.host.status(1)!.leader).toBe(victim);
      for (const f of followers) c.hosts.get(f)!.host.wakeNode(victim);
      let next: string | undefined;
      for (let i = 0; i < 400 && !next; i++) {
        await Bun.sleep(5);
        next = followers.find((f) => c.hosts.get(f)!.host.status(1)?.role === "leader");
      }
      expect(next).toBeDefined();
      expect(await c.hosts.get(next!)!.host.propose(1, enc.encode("w=1"))).toBe(null);
    } finally {
      c.stop();
    }
  });

  test("a follower woken while its leader lives does not disturb it: same leaders and terms, and quiet again", async () => {
    const c = cluster(["a", "b", "c"], groups, { quiesce: true });
    try {
      for (const g of groups) await c.waitLeader(g);
      await c.allQuiet();
      const before = leaders(c);
      const beforeTerms = terms(c, "a");
      for (const [id, h] of c.hosts) for (const l of new Set(before)) if (l !== id) h.host.wakeNode(l!);
      await Bun.sleep(50);
      await c.allQuiet();
      expect(leaders(c)).toEqual(before);
      expect(terms(c, "a")).toEqual(beforeTerms);
    } finally {
      c.stop();
    }
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
