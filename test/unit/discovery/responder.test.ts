import { describe, expect, test } from "bun:test";
import type { OutMessage } from "../../../src/discovery/core/codec.ts";
import { decodeMessage, encodeMessage } from "../../../src/discovery/core/codec.ts";
import { serviceRecords } from "../../../src/discovery/core/records.ts";
import type { Outgoing, ResponderEvent } from "../../../src/discovery/core/responder.ts";
import { Responder, compareRecordSets } from "../../../src/discovery/core/responder.ts";
import { desc, seeded } from "./sample.ts";

const PEER = { address: "10.0.0.9", port: 5353 };

/** Drives a responder on a virtual clock until `until` ms, collecting what it sends. */
class Harness {
  now = 0;
  readonly sent: { at: number; out: Outgoing }[] = [];
  readonly events: ResponderEvent[] = [];
  constructor(readonly r: Responder) {
    this.take(r.start(0));
  }
  take(step: { send: Outgoing[]; events: ResponderEvent[] }): void {
    for (const out of step.send) this.sent.push({ at: this.now, out });
    this.events.push(...step.events);
  }
  runUntil(until: number): void {
    for (;;) {
      const at = this.r.nextWakeAt();
      if (at === null || at > until) break;
      this.now = Math.max(this.now, at);
      this.take(this.r.tick(this.now));
    }
    this.now = until;
  }
  receive(m: OutMessage | Uint8Array, from = PEER): Outgoing[] {
    const before = this.sent.length;
    this.take(this.r.receive(m instanceof Uint8Array ? m : encodeMessage(m), from, this.now));
    return this.sent.slice(before).map((s) => s.out);
  }
}

const announced = (): Harness => {
  const h = new Harness(new Responder(desc, { random: seeded(1) }));
  h.runUntil(5000);
  h.sent.length = 0;
  return h;
};

const withQu = (bytes: Uint8Array): Uint8Array => {
  const b = Buffer.from(bytes);
  b.writeUInt16BE(0x8001, b.length - 2); // single question: its class is the last two bytes
  return b;
};

describe("probing and announcing", () => {
  test("three probes 250 ms apart (first within 250 ms), then at least two announcements a second apart", () => {
    const h = new Harness(new Responder(desc, { random: seeded(7) }));
    h.runUntil(5000);
    const probes = h.sent.filter((s) => !s.out.message.isResponse);
    const announcements = h.sent.filter((s) => s.out.message.isResponse);
    expect(probes).toHaveLength(3);
    expect(probes[0].at).toBeLessThan(250);
    expect(probes[1].at - probes[0].at).toBe(250);
    expect(probes[2].at - probes[1].at).toBe(250);
    expect(probes[0].out.message.questions).toEqual([
      { name: "node-1._flydb._tcp.local", type: "ANY" },
      { name: "box1.local", type: "ANY" },
    ]);
    expect(probes[0].out.message.authorities?.map((a) => a.type)).toEqual(["SRV", "TXT", "A", "AAAA"]);
    expect(announcements.length).toBeGreaterThanOrEqual(2);
    expect(announcements[0].at).toBeGreaterThanOrEqual(probes[2].at + 250);
    expect(announcements[1].at - announcements[0].at).toBeGreaterThanOrEqual(1000);
    expect(announcements[0].out.message.answers?.map((a) => a.type)).toEqual(["PTR", "PTR", "SRV", "TXT", "A", "AAAA"]);
    expect(h.r.state).toBe("announced");
  });

  test("a response claiming our instance name with other data during probing renames to 'node-1 (2)'", () => {
    const h = new Harness(new Responder(desc, { random: seeded(2) }));
    h.runUntil(300);
    const rival = serviceRecords({ ...desc, host: "other", ipv4: ["10.0.0.2"] });
    h.receive({ isResponse: true, answers: [rival.srv, rival.txt] });
    expect(h.events).toContainEqual(
      expect.objectContaining({ type: "renamed", kind: "instance", to: "node-1 (2)._flydb._tcp.local" }),
    );
    h.runUntil(5000);
    expect(h.r.instance).toBe("node-1 (2)");
    const announcement = h.sent.find((s) => s.out.message.isResponse)!.out.message;
    expect(announcement.answers?.find((a) => a.type === "PTR")?.data).toBe("node-1 (2)._flydb._tcp.local");
    expect(String(announcement.answers?.find((a) => a.type === "TXT")?.data)).toContain("node_id=node-1"); // node_id itself is kept
  });

  test("a rival claiming our host name renames the host; our own looped-back records are no conflict", () => {
    const h = new Harness(new Responder(desc, { random: seeded(3) }));
    h.runUntil(300);
    const mine = serviceRecords(desc);
    h.receive({ isResponse: true, answers: [mine.srv, mine.txt, ...mine.addresses] });
    expect(h.events.some((e) => e.type === "renamed")).toBe(false);
    h.receive({ isResponse: true, answers: [{ name: "box1.local", type: "A", ttl: 120, data: "10.0.0.77" }] });
    expect(h.r.host).toBe("box1-2");
  });

  test("an address of this machine claimed by a local stack (avahi) for our host name is no conflict", () => {
    const h = new Harness(new Responder(desc, { random: seeded(3), isLocalAddress: (a) => a === "172.17.0.1" }));
    h.runUntil(300);
    h.receive({ isResponse: true, answers: [{ name: "box1.local", type: "A", ttl: 120, data: "172.17.0.1" }] });
    expect(h.r.host).toBe("box1");
  });

  test("simultaneous probes: the lexicographically earlier record set defers one second and probes again", () => {
    const mine = serviceRecords(desc);
    const higher = serviceRecords({ ...desc, ports: { ...desc.ports, gossip: 9999 } });
    const lower = serviceRecords({ ...desc, ports: { ...desc.ports, gossip: 1 } });
    expect(compareRecordSets([mine.srv, mine.txt], [higher.srv, higher.txt])).toBeLessThan(0);
    const probe = (r: typeof mine): OutMessage => ({
      isResponse: false,
      questions: [{ name: "node-1._flydb._tcp.local", type: "ANY" }],
      authorities: [r.srv, r.txt],
    });

    const loser = new Harness(new Responder(desc, { random: seeded(4) }));
    loser.runUntil(300);
    loser.receive(probe(higher));
    expect(loser.events).toContainEqual({ type: "probe-deferred", name: "node-1._flydb._tcp.local" });
    const lastProbe = loser.sent.length;
    loser.runUntil(1200);
    expect(loser.sent.length).toBe(lastProbe); // silent for a second
    loser.runUntil(6000);
    expect(loser.r.state).toBe("announced");

    const winner = new Harness(new Responder(desc, { random: seeded(4) }));
    winner.runUntil(300);
    winner.receive(probe(lower));
    winner.receive(probe(mine)); // our own probe, looped back
    expect(winner.events.some((e) => e.type === "probe-deferred")).toBe(false);
  });

  test("after announcing, a conflicting response sends it back to probing (RFC 6762 §9)", () => {
    const h = announced();
    const rival = serviceRecords({ ...desc, ipv4: ["10.0.0.2"], host: "x" });
    h.receive({ isResponse: true, answers: [rival.srv] });
    expect(h.r.state).toBe("probing");
    expect(h.events).toContainEqual({ type: "conflict-after-announce", name: "node-1._flydb._tcp.local" });
  });

  test("an announced node defends its name against a probe immediately, by multicast", () => {
    const h = announced();
    h.now = 10_000;
    const rival = serviceRecords({ ...desc, host: "x", ipv4: ["10.0.0.2"] });
    const out = h.receive({
      isResponse: false,
      questions: [{ name: "node-1._flydb._tcp.local", type: "ANY" }],
      authorities: [rival.srv],
    });
    expect(out).toHaveLength(1);
    expect(out[0].to).toEqual({ kind: "multicast" });
    expect(out[0].message.answers?.map((a) => a.type).sort()).toEqual(["SRV", "TXT"]);
  });

  test("stop sends PTR, SRV and TXT with TTL 0; a node that never announced sends nothing", () => {
    const h = announced();
    const bye = h.r.stop();
    expect(bye.send).toHaveLength(1);
    expect(bye.send[0].message.answers?.map((a) => [a.type, a.ttl])).toEqual([
      ["PTR", 0],
      ["SRV", 0],
      ["TXT", 0],
    ]);
    const fresh = new Responder(desc, { random: seeded(1) });
    fresh.start(0);
    expect(fresh.stop().send).toHaveLength(0);
  });
});

describe("answering queries", () => {
  const ptrQuery: OutMessage = { isResponse: false, questions: [{ name: "_flydb._tcp.local", type: "PTR" }] };

  test("a PTR query is answered by multicast after 20–120 ms, with SRV, TXT and addresses as additionals", () => {
    const h = announced();
    h.now = 10_000;
    expect(h.receive(ptrQuery)).toHaveLength(0); // shared answer: delayed
    h.runUntil(10_200);
    const [{ at, out }] = h.sent;
    expect(at).toBeGreaterThanOrEqual(10_020);
    expect(at).toBeLessThanOrEqual(10_120);
    expect(out.to).toEqual({ kind: "multicast" });
    expect(out.message.answers?.map((a) => a.type)).toEqual(["PTR"]);
    expect(out.message.additionals?.map((a) => a.type)).toEqual(["SRV", "TXT", "A", "AAAA"]);
  });

  test("known-answer suppression: a PTR the querier lists with at least half its TTL is not repeated", () => {
    const h = announced();
    h.now = 10_000;
    const ptr = serviceRecords(desc).ptr;
    h.receive({ ...ptrQuery, answers: [{ ...ptr, ttl: 3000 }] });
    h.runUntil(11_000);
    expect(h.sent).toHaveLength(0);
    h.now = 20_000;
    h.receive({ ...ptrQuery, answers: [{ ...ptr, ttl: 1000 }] }); // under half: answer anyway
    h.runUntil(21_000);
    expect(h.sent).toHaveLength(1);
  });

  test("the same record is not multicast twice within a second", () => {
    const h = announced();
    h.now = 10_000;
    const srvQuery: OutMessage = { isResponse: false, questions: [{ name: "node-1._flydb._tcp.local", type: "SRV" }] };
    expect(h.receive(srvQuery)).toHaveLength(1);
    h.now = 10_500;
    expect(h.receive(srvQuery)).toHaveLength(0);
    h.now = 11_100;
    expect(h.receive(srvQuery)).toHaveLength(1);
  });

  test("a QU question gets a unicast reply, unless the record went out by multicast within a quarter of its TTL", () => {
    const h = announced();
    const quA = withQu(encodeMessage({ isResponse: false, questions: [{ name: "box1.local", type: "A" }] }));
    h.now = 10_000; // announced ~8 s ago; a quarter of the A record's 120 s TTL is 30 s
    expect(h.receive(quA).map((o) => o.to)).toEqual([{ kind: "multicast" }]);
    h.now = 100_000;
    const out = h.receive(quA);
    expect(out).toHaveLength(1);
    expect(out[0].to).toEqual({ kind: "unicast", address: PEER.address, port: 5353 });
    expect(out[0].message.answers?.map((a) => a.data)).toEqual(["10.0.0.1"]);
  });

  test("a legacy one-shot query (source port ≠ 5353) gets a unicast DNS reply: same id, question echoed, TTL ≤ 10, no flush", () => {
    const h = announced();
    h.now = 10_000;
    const out = h.receive({ ...ptrQuery, id: 4242 }, { address: "10.0.0.9", port: 40000 });
    expect(out).toHaveLength(1);
    expect(out[0].to).toEqual({ kind: "unicast", address: "10.0.0.9", port: 40000 });
    const wire = decodeMessage(encodeMessage(out[0].message));
    if (!wire.ok) throw new Error(wire.error);
    expect(wire.message.id).toBe(4242);
    expect(wire.message.questions).toEqual([{ name: "_flydb._tcp.local", type: "PTR", qu: false }]);
    const all = [...wire.message.answers, ...wire.message.additionals];
    expect(all.map((a) => a.type)).toEqual(["PTR", "SRV", "TXT", "A", "AAAA"]);
    expect(all.every((a) => a.ttl !== undefined && a.ttl <= 10 && !a.flush)).toBe(true);
  });

  test("ANY on the instance answers SRV and TXT, with the addresses as additionals; unrelated names get nothing", () => {
    const h = announced();
    h.now = 10_000;
    const [out] = h.receive({ isResponse: false, questions: [{ name: "NODE-1._flydb._tcp.local", type: "ANY" }] });
    expect(out.message.answers?.map((a) => a.type)).toEqual(["SRV", "TXT"]);
    expect(out.message.additionals?.map((a) => a.type)).toEqual(["A", "AAAA"]);
    expect(h.receive({ isResponse: false, questions: [{ name: "_http._tcp.local", type: "PTR" }] })).toHaveLength(0);
  });

  test("DNS-SD service enumeration lists _flydb._tcp", () => {
    const h = announced();
    h.now = 10_000;
    h.receive({ isResponse: false, questions: [{ name: "_services._dns-sd._udp.local", type: "PTR" }] });
    h.runUntil(10_200);
    expect(h.sent[0].out.message.answers?.[0]).toMatchObject({ type: "PTR", data: "_flydb._tcp.local" });
  });

  test("garbage and truncated packets are counted and the responder keeps answering", () => {
    const h = announced();
    h.now = 10_000;
    expect(h.receive(new Uint8Array([0xde, 0xad]))).toHaveLength(0);
    const q = encodeMessage({ isResponse: false, questions: [{ name: "node-1._flydb._tcp.local", type: "SRV" }] });
    expect(h.receive(q.subarray(0, q.length - 5))).toHaveLength(0);
    expect(h.r.stats.malformedPackets).toBe(2);
    expect(h.events.filter((e) => e.type === "malformed")).toHaveLength(2);
    expect(h.receive(q)).toHaveLength(1);
  });

  test("a responder that is still probing answers nothing", () => {
    const h = new Harness(new Responder(desc, { random: seeded(9) }));
    h.runUntil(100);
    const before = h.sent.length;
    h.receive({ isResponse: false, questions: [{ name: "node-1._flydb._tcp.local", type: "SRV" }] });
    expect(h.sent.length).toBe(before);
  });
});
