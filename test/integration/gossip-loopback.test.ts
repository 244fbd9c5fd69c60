// Real UDP/TCP on 127.0.0.1: member processes converge, a kill -9 is detected, a node with the
// wrong secret is never admitted, and garbage, truncated and replayed packets are survived.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import dgram from "node:dgram";
import net from "node:net";
import { GossipNode, type GossipEvent } from "../../src/gossip/index.ts";
import { parseHostPort } from "../../src/net/hostport.ts";
import { GossipWire } from "../../src/gossip/wire.ts";
import type { Send } from "../../src/gossip/core/types.ts";
import { FAST, MemberProc, waitFor } from "../helpers/gossip-procs.ts";

setDefaultTimeout(30_000);
const SECRET = "loopback-test-secret";
const CLUSTER = `loop-${process.pid}`;
const procs: MemberProc[] = [];
const inproc: GossipNode[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.close()));
  await Promise.all(inproc.map((n) => n.stop()));
});

const aliveCount = (view: Record<string, string>) => Object.values(view).filter((s) => s === "alive").length;

async function startProc(id: string, seeds: string[]): Promise<MemberProc> {
  const p = new MemberProc({
    nodeId: id,
    clusterId: CLUSTER,
    bindAddr: "127.0.0.1:0",
    seeds,
    secret: SECRET,
    config: FAST,
  });
  procs.push(p);
  await waitFor(() => p.addr !== "", 10_000, `${id} ready`);
  return p;
}

describe("gossip over loopback UDP/TCP, members as processes", () => {
  test("5 members converge, and kill -9 of one is detected by every survivor", async () => {
    const first = await startProc("m0", []);
    const rest = await Promise.all(["m1", "m2", "m3", "m4"].map((id) => startProc(id, [first.addr])));
    const all = [first, ...rest];
    await waitFor(() => all.every((p) => aliveCount(p.view) === 5), 15_000, "5 members alive everywhere");

    const victim = all[2] as MemberProc;
    const survivors = all.filter((p) => p !== victim);
    const killedAt = Date.now();
    victim.kill9();
    await waitFor(() => survivors.every((p) => p.view[victim.id] === "dead"), 15_000, `${victim.id} dead everywhere`);
    for (const p of survivors) {
      const dead = p.eventsAbout(victim.id, "dead")[0];
      expect(dead?.at ?? 0).toBeGreaterThanOrEqual(killedAt - 50);
      expect(aliveCount(p.view)).toBe(4);
    }
    // Probes measured round-trip times on loopback.
    const { counters } = await (survivors[0] as MemberProc).stats();
    expect(counters?.core.probes ?? 0).toBeGreaterThan(0);
  });

  test("a node with the wrong secret is not admitted and changes nobody's view", async () => {
    const members = procs.filter((p) => !p.exited);
    const intruder = new GossipNode({
      nodeId: "intruder",
      clusterId: CLUSTER,
      bindAddr: "127.0.0.1:0",
      seeds: members.map((p) => p.addr),
      secret: "not-the-secret",
      config: FAST,
    });
    inproc.push(intruder);
    await intruder.start();
    await Bun.sleep(2_000);
    expect(intruder.members().map((m) => m.id)).toEqual(["intruder"]);
    for (const p of members) {
      const s = await p.stats();
      expect(s.counters?.dropped.auth ?? 0).toBeGreaterThan(0);
      expect(p.view.intruder).toBeUndefined();
    }
    await intruder.stop();
  });

  test("packets of a wrong or missing secret are logged once per sender and reason", async () => {
    const lines: string[] = [];
    const node = (nodeId: string, secret: string | undefined, seeds: string[] = []) => {
      const n = new GossipNode({
        ...{ nodeId, clusterId: CLUSTER, bindAddr: "127.0.0.1:0", seeds, secret, config: FAST },
        onRefused: (l) => lines.push(l),
      });
      inproc.push(n);
      return n;
    };
    const member = node("logged", SECRET);
    await member.start();
    const at = [member.addr];
    await Promise.all([node("wrong", "not-the-secret", at).start(), node("plain", undefined, at).start()]);
    await waitFor(() => lines.length >= 2, 10_000, "both refusals logged");
    await Bun.sleep(1_000); // they keep trying: still one line each
    expect(lines.sort()).toEqual([
      "refused gossip from 127.0.0.1: a packet failed authentication: its cluster_secret differs from this node's",
      "refused gossip from 127.0.0.1: an unencrypted packet: cluster_secret is not set on that node",
    ]);
    expect(member.members().map((m) => m.id)).toEqual(["logged"]);
  });

  test("garbage, truncated, oversized and replayed packets are dropped, counted and survived", async () => {
    const target = procs.find((p) => !p.exited && p.id === "m0") as MemberProc;
    const { host, port } = parseHostPort(target.addr);
    const before = (await target.stats()).counters;
    const udp = dgram.createSocket("udp4");
    const sendUdp = (buf: Uint8Array) => new Promise<void>((r) => udp.send(buf, port, host, () => r()));
    const wire = new GossipWire(SECRET);
    const valid = wire.encode({
      to: target.addr,
      via: "udp",
      packet: { c: CLUSTER, f: "m1", a: "127.0.0.1:1", m: [{ t: "ping", seq: 1, target: "m0" }] },
    });
    const plainWire = new GossipWire(undefined);
    let rnd = 12345;
    const random = (n: number) =>
      Uint8Array.from({ length: n }, () => ((rnd = (rnd * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
    for (let i = 0; i < 200; i++) await sendUdp(random(1 + (i % 300)));
    for (let cut = 1; cut < valid.length; cut += 7) await sendUdp(valid.subarray(0, cut));
    await sendUdp(valid);
    await sendUdp(valid); // replayed verbatim
    await sendUdp(
      plainWire.encode({
        to: target.addr,
        via: "udp",
        packet: { c: CLUSTER, f: "evil", a: "127.0.0.1:1", m: [{ t: "dead", id: "m1", inc: 1e9, from: "evil" }] },
      }),
    );
    await sendUdp(new Uint8Array(65_000));
    // TCP: garbage, a huge length prefix, a truncated frame.
    for (const payload of [
      random(5000),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      Buffer.from([0, 0, 1, 0, 1, 2]),
    ]) {
      await new Promise<void>((resolve) => {
        const c = net.connect({ host, port }, () => c.end(payload));
        c.on("error", () => resolve());
        c.on("close", () => resolve());
      });
    }
    udp.close();
    await Bun.sleep(500);
    const after = (await target.stats()).counters;
    const drops = (c: typeof after) => Object.values(c?.dropped ?? {}).reduce((a, b) => a + b, 0);
    expect(drops(after) - drops(before)).toBeGreaterThan(200);
    expect((after?.dropped.replay ?? 0) - (before?.dropped.replay ?? 0)).toBe(1);
    expect((after?.dropped.unencrypted ?? 0) - (before?.dropped.unencrypted ?? 0)).toBeGreaterThanOrEqual(1);
    expect((after?.dropped.oversize ?? 0) - (before?.dropped.oversize ?? 0)).toBeGreaterThanOrEqual(1);
    expect(target.exited).toBe(false);
    // Still a working member: the forged "dead" did nothing and everyone still sees 4 alive.
    await Bun.sleep(500);
    for (const p of procs.filter((q) => !q.exited)) expect(aliveCount(p.view)).toBe(4);
  });
});

describe("gossip replay across a restart", () => {
  test("a packet a member accepted before it restarted is refused after the restart", async () => {
    const member = await startProc("r0", []);
    const { host, port } = parseHostPort(member.addr);
    // A cluster member speaking to r0 over the wire protocol: it introduces a member "ghost".
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const self = `127.0.0.1:${sock.address().port}`;
    const wire = new GossipWire(SECRET);
    const sent: Buffer[] = [];
    const send = (s: Send) => {
      const frame = wire.encode(s);
      sent.push(frame);
      sock.send(frame, port, host);
    };
    sock.on("message", (buf) => {
      const r = wire.decode(buf, 65_536);
      if (!r.ok && r.reason === "notice" && r.resend) send(r.resend);
    });
    const meta = {
      nodeId: "ghost",
      clusterId: CLUSTER,
      respAddr: "",
      httpAddr: "",
      raftAddr: "",
      zone: "",
      version: "",
      load: 0,
    };
    send({
      to: member.addr,
      via: "udp",
      packet: { c: CLUSTER, f: "ghost", a: self, m: [{ t: "alive", id: "ghost", inc: 1, addr: self, meta }] },
    });
    await waitFor(() => member.view.ghost !== undefined, 5_000, "r0 admits ghost");
    // The first frame was sealed before the sender knew r0's epoch (refused, sent again); the
    // second is the one r0 accepted: the capture.
    expect(sent.length).toBe(2);
    const captured = sent[1]!;
    sock.close();

    member.kill9();
    const restarted = new MemberProc({
      nodeId: "r0",
      clusterId: CLUSTER,
      bindAddr: member.addr,
      secret: SECRET,
      config: FAST,
    });
    procs.push(restarted);
    await waitFor(() => restarted.addr !== "", 10_000, "r0 restarted");
    const attacker = dgram.createSocket("udp4");
    await new Promise<void>((r) => attacker.send(captured, port, host, () => r()));
    attacker.close();
    await Bun.sleep(300);
    const { counters } = await restarted.stats();
    expect(counters?.dropped.stale).toBe(1);
    expect(restarted.view.ghost).toBeUndefined();
  });
});

describe("GossipNode in-process", () => {
  test("events, metadata updates, RTT and graceful leave over real sockets (no secret)", async () => {
    const cluster = `inproc-${process.pid}`;
    const mk = (id: string, seeds: string[]) =>
      new GossipNode({
        nodeId: id,
        clusterId: cluster,
        bindAddr: "127.0.0.1:0",
        seeds,
        config: FAST,
        meta: { zone: "z1", respAddr: `127.0.0.1:6${id.slice(1)}` },
      });
    const a = mk("a0", []);
    inproc.push(a);
    await a.start();
    const events: GossipEvent[] = [];
    a.on("*", (e) => events.push(e));
    const others = ["a1", "a2"].map((id) => mk(id, [a.addr]));
    inproc.push(...others);
    await Promise.all(others.map((n) => n.start()));
    const all = [a, ...others];
    await waitFor(
      () => all.every((n) => n.members().filter((m) => m.state === "alive").length === 3),
      10_000,
      "3 alive",
    );
    expect(
      events
        .filter((e) => e.type === "joined")
        .map((e) => e.member.id)
        .sort(),
    ).toEqual(["a1", "a2"]);

    others[0]?.updateMeta({ load: 17, zone: "z2" });
    await waitFor(() => all.every((n) => n.member("a1")?.meta.load === 17), 5_000, "meta update");
    expect(a.member("a1")?.meta.zone).toBe("z2");
    expect(events.some((e) => e.type === "updated" && e.member.id === "a1")).toBe(true);
    await waitFor(() => (a.member("a2")?.rttMs ?? null) !== null, 5_000, "rtt measured");
    expect(a.member("a2")?.rttMs ?? -1).toBeGreaterThanOrEqual(0);

    await others[1]?.leave();
    await waitFor(
      () => a.member("a2")?.state === "left" && others[0]?.member("a2")?.state === "left",
      5_000,
      "a2 left",
    );
    expect(events.some((e) => e.type === "dead")).toBe(false);
    expect(a.counters().udpOut).toBeGreaterThan(0);
    expect(a.counters().tcpIn).toBeGreaterThan(0);
  });
});
