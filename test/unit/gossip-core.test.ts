import { describe, expect, test } from "bun:test";
import { BroadcastQueue } from "../../src/gossip/core/broadcasts.ts";
import {
  LAN_DEFAULTS,
  pushPullIntervalMs,
  retransmitLimit,
  suspicionMinMs,
  suspicionTimeoutMs,
  swimConfig,
} from "../../src/gossip/core/config.ts";
import { seededRng, shuffle } from "../../src/gossip/core/prng.ts";
import { SwimCore } from "../../src/gossip/core/swim.ts";
import type { MemberMeta, Msg } from "../../src/gossip/core/types.ts";
import { parsePacket } from "../../src/gossip/core/validate.ts";

describe("Lifeguard and retransmit arithmetic", () => {
  test("the suspicion timeout falls from max to min as confirmations arrive", () => {
    const min = suspicionMinMs(4, 5, 1000);
    const max = 6 * min;
    const steps = [0, 1, 2, 3].map((c) => suspicionTimeoutMs(c, 2, min, max));
    expect(steps[0]).toBe(Math.floor(max));
    expect(steps[1]).toBeLessThan(max);
    expect(steps[1]).toBeGreaterThan(min);
    expect(steps[2]).toBe(min);
    expect(steps[3]).toBe(min);
    expect(suspicionTimeoutMs(0, 0, min, max)).toBe(min);
  });

  test("the suspicion floor matches memberlist from 10 members and is at least half of it below", () => {
    expect(suspicionMinMs(4, 10, 1000)).toBe(4000);
    expect(suspicionMinMs(4, 100, 1000)).toBe(8000);
    expect(suspicionMinMs(4, 2, 1000)).toBe(2000);
    expect(suspicionMinMs(4, 5, 1000)).toBeCloseTo(2796, 0);
  });

  test("retransmit limit grows with log10 of the cluster size", () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 100)).toBe(12);
  });

  test("push-pull slows down beyond 32 members", () => {
    expect(pushPullIntervalMs(30_000, 32)).toBe(30_000);
    expect(pushPullIntervalMs(30_000, 33)).toBe(60_000);
    expect(pushPullIntervalMs(30_000, 128)).toBe(90_000);
  });

  test("config rejects nonsense with the key named", () => {
    expect(() => swimConfig("c", { probeIntervalMs: -1 })).toThrow(/probeIntervalMs/);
    expect(() => swimConfig("c", { probeTimeoutMs: 2000 })).toThrow(/probeTimeoutMs=2000/);
    expect(swimConfig("c").probeIntervalMs).toBe(LAN_DEFAULTS.probeIntervalMs);
  });
});

describe("broadcast queue", () => {
  const alive = (id: string, inc: number): Msg => ({ t: "suspect", id, inc, from: "x" });

  test("an update is sent `limit` times, newer updates about a member replace older ones", () => {
    const q = new BroadcastQueue();
    q.enqueue("a", alive("a", 1), 10);
    q.enqueue("a", alive("a", 2), 10);
    q.enqueue("b", alive("b", 1), 10);
    expect(q.length).toBe(2);
    const first = q.take(1000, 2);
    expect(first).toHaveLength(2);
    expect(first.some((m) => m.t === "suspect" && m.id === "a" && m.inc === 2)).toBe(true);
    expect(q.take(1000, 2)).toHaveLength(2);
    expect(q.take(1000, 2)).toHaveLength(0);
  });

  test("only what fits in the byte budget is taken, least-sent first", () => {
    const q = new BroadcastQueue();
    q.enqueue("a", alive("a", 1), 60);
    q.enqueue("b", alive("b", 1), 60);
    expect(q.take(100, 5)).toHaveLength(1);
    const next = q.take(100, 5);
    expect(next).toHaveLength(1);
    expect(q.take(130, 5)).toHaveLength(2);
  });
});

describe("packet validation", () => {
  const ok = { c: "c", f: "n1", a: "127.0.0.1:1", m: [{ t: "ping", seq: 1, target: "n2" }] };

  test("accepts a well-formed packet and skips unknown message types", () => {
    expect(parsePacket(ok)?.m).toHaveLength(1);
    expect(parsePacket({ ...ok, m: [...ok.m, { t: "future-thing", x: 1 }] })?.m).toHaveLength(1);
  });

  test("rejects wrong types, negative or fractional numbers, oversized fields and arrays", () => {
    expect(parsePacket(null)).toBeNull();
    expect(parsePacket([])).toBeNull();
    expect(parsePacket({ ...ok, f: "x".repeat(129) })).toBeNull();
    expect(parsePacket({ ...ok, m: [{ t: "ping", seq: -1, target: "n2" }] })).toBeNull();
    expect(parsePacket({ ...ok, m: [{ t: "ack", seq: 1.5 }] })).toBeNull();
    expect(parsePacket({ ...ok, m: Array.from({ length: 513 }, () => ({ t: "ack", seq: 1 })) })).toBeNull();
    expect(parsePacket({ ...ok, m: [{ t: "alive", id: "n", inc: 1, addr: "a:1", meta: { nodeId: "n" } }] })).toBeNull();
    expect(
      parsePacket({
        ...ok,
        m: [{ t: "pp", reply: true, states: [{ id: "n", addr: "a:1", inc: 0, state: "zombie" }] }],
      }),
    ).toBeNull();
  });

  test("builds fresh objects: extra and prototype keys do not survive", () => {
    const evil = JSON.parse(
      '{"c":"c","f":"n1","a":"h:1","__proto__":{"polluted":1},"m":[{"t":"ack","seq":3,"extra":1}]}',
    );
    const p = parsePacket(evil);
    expect(p?.m[0]).toEqual({ t: "ack", seq: 3 });
    expect(Object.keys(p ?? {})).toEqual(["c", "f", "a", "m"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("leave", () => {
  test("a member that left announces no new metadata: its incarnation stays, so the leave stands", () => {
    const meta = (load: number): MemberMeta => ({
      nodeId: "a",
      clusterId: "c",
      respAddr: "",
      httpAddr: "",
      raftAddr: "",
      zone: "",
      version: "0",
      load,
    });
    const core = new SwimCore({
      id: "a",
      addr: "a:1",
      meta: meta(0),
      config: swimConfig("c"),
      rng: seededRng(1),
      now: 0,
    });
    core.updateMeta(meta(1), 10);
    const before = core.member("a")!;
    core.leave(20);
    // The node's load sampler keeps running until the node stops (src/cluster/leave.ts leaves first).
    core.updateMeta(meta(2), 30);
    expect(core.member("a")).toMatchObject({ state: "left", incarnation: before.incarnation, meta: before.meta });
  });
});

describe("helpers", () => {
  test("seeded PRNG is deterministic and shuffle is a permutation", () => {
    const a = seededRng(7);
    const b = seededRng(7);
    expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
    expect(shuffle([1, 2, 3, 4, 5], seededRng(1)).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("a healed member's stale view (issue #18: a reachable peer is never declared dead)", () => {
  const meta = (id: string) => ({
    nodeId: id,
    clusterId: "c",
    respAddr: "",
    httpAddr: "",
    raftAddr: "",
    zone: "",
    version: "",
    load: 0,
  });
  const cfg = swimConfig("c");
  const state = (id: string, st: "alive" | "dead") => ({ id, addr: `${id}:1`, inc: 1, state: st, meta: meta(id) });

  /** Member a of {a, b, h}; h just healed and still holds b dead. Nothing b sends ever arrives. */
  function suspectFromHearsay() {
    const a = new SwimCore({ id: "a", addr: "a:1", meta: meta("a"), config: cfg, rng: seededRng(1), now: 0 });
    const pp = (states: ReturnType<typeof state>[]) => ({
      c: "c",
      f: "h",
      a: "h:1",
      m: [{ t: "pp" as const, reply: false, states }],
    });
    a.receive(pp([state("b", "alive"), state("h", "alive")]), "tcp", 0);
    a.receive(pp([state("b", "dead"), state("h", "alive")]), "tcp", 10);
    return a;
  }

  test("another member's synced 'dead' holds for Lifeguard's unconfirmed maximum, not the 3-member minimum", () => {
    const a = suspectFromHearsay();
    const minMs = suspicionMinMs(cfg.suspicionMult, 3, cfg.probeIntervalMs);
    expect(a.member("b")?.state).toBe("suspect");
    // b's acks never arrive; time jumps past the minimum in one step, before a's own probe of b
    // can have failed.
    a.tick(10 + minMs + 1);
    a.drain();
    expect(a.member("b")?.state).toBe("suspect"); // the old code: dead at 10 + minMs
  });

  test("a's own failed probe confirms it: dead at the usual time after that", () => {
    const a = suspectFromHearsay();
    const maxMs = cfg.suspicionMaxTimeoutMult * suspicionMinMs(cfg.suspicionMult, 3, cfg.probeIntervalMs);
    for (let t = 20; t <= maxMs; t += 50) {
      a.tick(t);
      a.drain();
      if (a.member("b")?.state === "dead") break;
    }
    expect(a.member("b")?.state).toBe("dead");
    expect(a.member("b")!.stateChangedAt).toBeLessThan(maxMs);
  });
});
