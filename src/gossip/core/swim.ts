// The SWIM + Lifeguard state machine, in the style of hashicorp/memberlist but without I/O:
// callers feed it packets and `now` (ms, any monotonic clock) and collect the packets to send and
// the membership events from drain(). One instance per node; not shared between threads.
import { BroadcastQueue } from "./broadcasts.ts";
import { pushPullIntervalMs, retransmitLimit, suspicionMinMs, suspicionTimeoutMs, type SwimConfig } from "./config.ts";
import { pickRandom, shuffle } from "./prng.ts";
import type {
  AliveMsg,
  DeadMsg,
  GossipEvent,
  GossipEventType,
  MemberMeta,
  MemberState,
  MemberView,
  Msg,
  Packet,
  PushPullMsg,
  PushState,
  Rng,
  Send,
  SuspectMsg,
  Via,
} from "./types.ts";

interface Member {
  readonly id: string;
  addr: string;
  inc: number;
  state: MemberState;
  meta: MemberMeta;
  stateChangedAt: number;
  rttMs: number | null;
  suspicion: Suspicion | null;
}

interface Suspicion {
  readonly start: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Members that suspected independently; the first accuser is not a confirmation. */
  readonly accusers: Set<string>;
  deadlineAt: number;
}

interface Probe {
  readonly seq: number;
  readonly target: string;
  readonly start: number;
  readonly ackBy: number;
  readonly endAt: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

/** A ping-req we relay for another member: forward the target's ack, or nack in time. */
interface Relay {
  readonly origSeq: number;
  readonly requesterAddr: string;
  readonly nackAt: number;
  readonly expireAt: number;
  nacked: boolean;
}

export interface SwimStats {
  packetsIn: number;
  /** Packets of another cluster_id, dropped whole. */
  rejectedCluster: number;
  /** Member announcements with foreign cluster id, mismatched node id or oversized metadata. */
  rejectedMembers: number;
  pingsForOthers: number;
  probes: number;
  probeFailures: number;
  refutations: number;
}

export interface SwimOptions {
  readonly id: string;
  /** This member's gossip address as others reach it ("host:port"). */
  readonly addr: string;
  readonly meta: MemberMeta;
  /** Start above any incarnation a previous run of this node could have used (e.g. wall-clock seconds). */
  readonly incarnation?: number;
  readonly config: SwimConfig;
  readonly rng: Rng;
  readonly now: number;
  /** Encoded size of a message or metadata in bytes; the adapter passes its codec's. */
  readonly measure?: (value: unknown) => number;
}

const jsonSize = (value: unknown): number => JSON.stringify(value).length;

export class SwimCore {
  readonly id: string;
  readonly stats: SwimStats = {
    packetsIn: 0,
    rejectedCluster: 0,
    rejectedMembers: 0,
    pingsForOthers: 0,
    probes: 0,
    probeFailures: 0,
    refutations: 0,
  };
  private readonly cfg: SwimConfig;
  private readonly rng: Rng;
  private readonly measure: (value: unknown) => number;
  private readonly self: Member;
  private readonly table = new Map<string, Member>();
  private readonly broadcasts = new BroadcastQueue();
  private readonly relays = new Map<number, Relay>();
  private probeOrder: string[] = [];
  private probeIndex = 0;
  /** Members others suspect, probed out of turn so our confirmation (or not) comes fast. */
  private probeSoon: string[] = [];
  private probe: Probe | null = null;
  private seq = 0;
  /** Lifeguard local health score: 0 is healthy; timeouts scale by (awareness + 1). */
  private awareness = 0;
  private leaving = false;
  private seeds: string[] = [];
  private nextProbeAt: number;
  private nextGossipAt: number;
  private nextPushPullAt: number;
  private nextReconnectAt: number;
  private sends: Send[] = [];
  private events: GossipEvent[] = [];

  constructor(opts: SwimOptions) {
    this.cfg = opts.config;
    this.rng = opts.rng;
    this.measure = opts.measure ?? jsonSize;
    this.id = opts.id;
    this.checkOwnMeta(opts.meta);
    this.self = {
      id: opts.id,
      addr: opts.addr,
      inc: opts.incarnation ?? 0,
      state: "alive",
      meta: opts.meta,
      stateChangedAt: opts.now,
      rttMs: null,
      suspicion: null,
    };
    this.table.set(this.id, this.self);
    // Random phases so members started together do not probe and sync in lockstep.
    this.nextProbeAt = opts.now + this.rng.next() * this.cfg.probeIntervalMs;
    this.nextGossipAt = opts.now + this.cfg.gossipIntervalMs;
    this.nextPushPullAt = opts.now + (0.5 + this.rng.next() / 2) * this.cfg.pushPullIntervalMs;
    this.nextReconnectAt = opts.now + this.cfg.reconnectIntervalMs;
  }

  /** Full-state sync with each seed over TCP; retried every reconnect interval while alone. */
  join(seeds: readonly string[], now: number): void {
    this.seeds = seeds.filter((s) => s !== this.self.addr);
    for (const seed of this.seeds) this.sendPushPull(seed, true);
    this.nextReconnectAt = now + this.cfg.reconnectIntervalMs;
  }

  receive(packet: Packet, via: Via, now: number): void {
    this.stats.packetsIn++;
    if (packet.c !== this.cfg.clusterId) {
      this.stats.rejectedCluster++;
      return;
    }
    if (packet.f === this.id) return;
    for (const msg of packet.m) this.handle(msg, packet, via, now);
  }

  tick(now: number): void {
    if (!this.leaving) {
      this.checkProbe(now);
      if (now >= this.nextProbeAt) {
        this.nextProbeAt = now + this.cfg.probeIntervalMs;
        if (this.probe === null) this.startProbe(now);
        this.reclaim(now);
      }
      this.checkSuspicions(now);
      this.checkRelays(now);
      if (now >= this.nextPushPullAt) {
        this.nextPushPullAt = now + pushPullIntervalMs(this.cfg.pushPullIntervalMs, this.liveCount());
        const peer = pickRandom(
          [...this.table.values()],
          1,
          this.rng,
          (m) => m !== this.self && m.state === "alive",
        )[0];
        if (peer) this.sendPushPull(peer.addr, true);
      }
      if (now >= this.nextReconnectAt) {
        this.nextReconnectAt = now + this.cfg.reconnectIntervalMs;
        this.reconnect();
      }
    }
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.cfg.gossipIntervalMs;
      this.gossip(now);
    }
  }

  /** The earliest `now` at which tick() has work; drive a timer with it. */
  nextDeadline(): number {
    let t = this.nextGossipAt;
    if (this.leaving) return t;
    t = Math.min(t, this.nextProbeAt, this.nextPushPullAt, this.nextReconnectAt);
    if (this.probe) t = Math.min(t, this.probe.indirectSent ? this.probe.endAt : this.probe.ackBy);
    for (const m of this.table.values()) if (m.suspicion) t = Math.min(t, m.suspicion.deadlineAt);
    for (const r of this.relays.values()) t = Math.min(t, r.nacked ? r.expireAt : r.nackAt);
    return t;
  }

  /** New metadata for this member: bumps the incarnation so the update wins everywhere. */
  updateMeta(meta: MemberMeta, now: number): void {
    this.checkOwnMeta(meta);
    // An alive message after the leave, at a higher incarnation, would take the leave back: the
    // others would then wait out dead_node_timeout before removing the member.
    if (this.leaving) return;
    this.self.meta = meta;
    this.self.inc++;
    this.self.stateChangedAt = now;
    this.broadcast(this.self.id, this.aliveMsg(this.self));
  }

  /** Graceful leave: tell every member directly and by gossip; stop probing. Keep ticking to spread it. */
  leave(now: number): void {
    if (this.leaving) return;
    this.leaving = true;
    this.probe = null;
    this.self.state = "left";
    this.self.stateChangedAt = now;
    const msg: DeadMsg = { t: "dead", id: this.id, inc: this.self.inc, from: this.id };
    this.broadcast(this.id, msg);
    for (const m of this.table.values()) {
      if (m !== this.self && (m.state === "alive" || m.state === "suspect")) this.sendUdp(m.addr, msg);
    }
  }

  members(): MemberView[] {
    return [...this.table.values()].map(view);
  }

  member(id: string): MemberView | undefined {
    const m = this.table.get(id);
    return m ? view(m) : undefined;
  }

  /** Packets to send and events to deliver since the last drain. */
  drain(): { sends: Send[]; events: GossipEvent[] } {
    const out = { sends: this.sends, events: this.events };
    this.sends = [];
    this.events = [];
    return out;
  }

  private handle(msg: Msg, packet: Packet, via: Via, now: number): void {
    switch (msg.t) {
      case "ping":
        if (msg.target !== this.id) {
          // The address now belongs to another member (a restart under a new id): no false ack.
          this.stats.pingsForOthers++;
          return;
        }
        this.send(packet.a, via, { t: "ack", seq: msg.seq });
        return;
      case "ack":
        this.onAck(msg.seq, packet.f, now);
        return;
      case "nack":
        if (this.probe?.seq === msg.seq) this.probe.nacks++;
        return;
      case "pingreq": {
        const seq = ++this.seq;
        const timeout = this.cfg.probeTimeoutMs;
        this.relays.set(seq, {
          origSeq: msg.seq,
          requesterAddr: packet.a,
          nackAt: now + timeout * 0.8,
          expireAt: now + this.cfg.probeIntervalMs,
          nacked: false,
        });
        this.sendUdp(msg.targetAddr, { t: "ping", seq, target: msg.target });
        return;
      }
      case "alive":
        this.onAlive(msg, now, packet.a);
        return;
      case "suspect":
        this.onSuspect(msg, now, packet.a);
        return;
      case "dead":
        this.onDead(msg, now, packet.a);
        return;
      case "pp":
        this.onPushPull(msg, packet.a, now);
        return;
    }
  }

  private onAck(seq: number, from: string, now: number): void {
    const probe = this.probe;
    if (probe !== null && probe.seq === seq) {
      if (from === probe.target) {
        const target = this.table.get(probe.target);
        if (target) target.rttMs = now - probe.start;
      }
      this.probe = null;
      this.awareness = Math.max(0, this.awareness - 1);
      return;
    }
    const relay = this.relays.get(seq);
    if (relay) {
      this.relays.delete(seq);
      this.sendUdp(relay.requesterAddr, { t: "ack", seq: relay.origSeq });
    }
  }

  private startProbe(now: number): void {
    const target = this.nextProbeTarget();
    if (!target) return;
    const scale = this.awareness + 1;
    const seq = ++this.seq;
    this.stats.probes++;
    this.probe = {
      seq,
      target: target.id,
      start: now,
      ackBy: now + this.cfg.probeTimeoutMs * scale,
      endAt: now + this.cfg.probeIntervalMs * scale,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    };
    const ping: Msg = { t: "ping", seq, target: target.id };
    // A suspect we probe hears the accusation directly, so it can refute even if gossip missed it.
    if (target.state === "suspect")
      this.sendAll(target.addr, "udp", [ping, { t: "suspect", id: target.id, inc: target.inc, from: this.id }]);
    else this.sendUdp(target.addr, ping);
  }

  private checkProbe(now: number): void {
    const probe = this.probe;
    if (probe === null) return;
    const target = this.table.get(probe.target);
    if (!target || target.state === "dead" || target.state === "left") {
      this.probe = null;
      return;
    }
    if (!probe.indirectSent && now >= probe.ackBy) {
      probe.indirectSent = true;
      const helpers = pickRandom(
        [...this.table.values()],
        this.cfg.indirectChecks,
        this.rng,
        (m) => m !== this.self && m !== target && m.state === "alive",
      );
      probe.expectedNacks = helpers.length;
      for (const h of helpers) {
        this.sendUdp(h.addr, { t: "pingreq", seq: probe.seq, target: target.id, targetAddr: target.addr });
      }
      if (this.cfg.tcpFallbackPing) this.send(target.addr, "tcp", { t: "ping", seq: probe.seq, target: target.id });
    }
    if (now >= probe.endAt) {
      this.probe = null;
      this.stats.probeFailures++;
      // Lifeguard: helpers that did not even nack hint that *we* are the slow or cut-off one.
      const delta = probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1;
      this.awareness = Math.min(this.cfg.awarenessMaxMultiplier - 1, this.awareness + delta);
      this.onSuspect({ t: "suspect", id: target.id, inc: target.inc, from: this.id }, now);
    }
  }

  /** Shuffled round-robin: every live member is probed once per pass, in a fresh order each pass. */
  private nextProbeTarget(): Member | null {
    for (let id = this.probeSoon.shift(); id !== undefined; id = this.probeSoon.shift()) {
      const m = this.table.get(id);
      if (m && m.state === "suspect") return m;
    }
    for (let pass = 0; pass < 2; pass++) {
      while (this.probeIndex < this.probeOrder.length) {
        const m = this.table.get(this.probeOrder[this.probeIndex++] as string);
        if (m && m !== this.self && (m.state === "alive" || m.state === "suspect")) return m;
      }
      this.probeOrder = shuffle(
        [...this.table.values()]
          .filter((m) => m !== this.self && (m.state === "alive" || m.state === "suspect"))
          .map((m) => m.id),
        this.rng,
      );
      this.probeIndex = 0;
    }
    return null;
  }

  /** A new or returning member goes to a random not-yet-visited slot of the current pass. */
  private addToProbeOrder(id: string): void {
    const at = this.probeIndex + Math.floor(this.rng.next() * (this.probeOrder.length - this.probeIndex + 1));
    this.probeOrder.splice(at, 0, id);
  }

  private checkSuspicions(now: number): void {
    for (const m of this.table.values()) {
      if (m.suspicion && now >= m.suspicion.deadlineAt) {
        this.onDead({ t: "dead", id: m.id, inc: m.inc, from: this.id }, now);
      }
    }
  }

  private checkRelays(now: number): void {
    for (const [seq, r] of this.relays) {
      if (now >= r.expireAt) this.relays.delete(seq);
      else if (!r.nacked && now >= r.nackAt) {
        r.nacked = true;
        this.sendUdp(r.requesterAddr, { t: "nack", seq: r.origSeq });
      }
    }
  }

  private reclaim(now: number): void {
    for (const m of this.table.values()) {
      const age = now - m.stateChangedAt;
      if (
        (m.state === "dead" && age > this.cfg.deadReclaimMs) ||
        (m.state === "left" && age > this.cfg.gossipToTheDeadMs)
      ) {
        this.table.delete(m.id);
      }
    }
  }

  /** Heal partitions: sync with a random dead member, or with the seeds while we know nobody alive. */
  private reconnect(): void {
    const others = [...this.table.values()].filter((m) => m !== this.self);
    if (!others.some((m) => m.state === "alive" || m.state === "suspect")) {
      for (const seed of this.seeds) this.sendPushPull(seed, true);
    }
    const dead = pickRandom(others, 1, this.rng, (m) => m.state === "dead")[0];
    if (dead) this.sendPushPull(dead.addr, true);
  }

  private gossip(now: number): void {
    if (this.broadcasts.length === 0) return;
    const targets = pickRandom(
      [...this.table.values()],
      this.cfg.gossipNodes,
      this.rng,
      (m) =>
        m !== this.self &&
        (m.state === "alive" ||
          m.state === "suspect" ||
          (m.state === "dead" && now - m.stateChangedAt < this.cfg.gossipToTheDeadMs)),
    );
    for (const t of targets) {
      const msgs = this.broadcasts.take(
        this.cfg.maxPacketBytes - this.measure(this.packet([])),
        this.retransmitLimit(),
      );
      if (msgs.length === 0) return;
      this.sends.push({ to: t.addr, via: "udp", packet: this.packet(msgs) });
    }
  }

  /** `accuser`: where a message about us came from; a refutation also goes straight back there. */
  private onAlive(a: AliveMsg, now: number, accuser?: string): void {
    if (
      a.meta.clusterId !== this.cfg.clusterId ||
      a.meta.nodeId !== a.id ||
      this.measure(a.meta) > this.cfg.maxMetaBytes
    ) {
      this.stats.rejectedMembers++;
      return;
    }
    if (a.id === this.id) {
      if (this.leaving) return;
      const stale =
        a.inc < this.self.inc ||
        (a.inc === this.self.inc && a.addr === this.self.addr && sameMeta(a.meta, this.self.meta));
      if (!stale) this.accused(a.inc, accuser);
      return;
    }
    const m = this.table.get(a.id);
    if (!m) {
      const fresh: Member = {
        id: a.id,
        addr: a.addr,
        inc: a.inc,
        state: "alive",
        meta: a.meta,
        stateChangedAt: now,
        rttMs: null,
        suspicion: null,
      };
      this.table.set(a.id, fresh);
      this.addToProbeOrder(a.id);
      this.emit("joined", fresh, now);
      this.broadcast(a.id, a);
      return;
    }
    if (a.inc <= m.inc) return;
    const prev = m.state;
    const changed = m.addr !== a.addr || !sameMeta(m.meta, a.meta);
    m.inc = a.inc;
    m.addr = a.addr;
    m.meta = a.meta;
    m.suspicion = null;
    if (prev !== "alive") {
      m.state = "alive";
      m.stateChangedAt = now;
      if (prev !== "suspect") this.addToProbeOrder(m.id);
      this.emit(prev === "suspect" ? "alive" : "joined", m, now);
    } else if (changed) {
      this.emit("updated", m, now);
    }
    this.broadcast(a.id, a);
  }

  /**
   * `hearsay`: another member's synced state holds the member dead (e.g. one that was cut off and
   * just healed, whose view is stale). Nobody has accused it yet: the suspicion starts without an
   * accuser, at Lifeguard's unconfirmed maximum, and the member is probed out of turn; our own
   * failed probe or another member's accusation then counts as the first accuser, as usual.
   * Without this, in a cluster too small for confirmations (k = 0) a healed node's stale view
   * could get a reachable member declared dead after the minimum (1.4 s for 3 members) if its
   * refutation came late.
   */
  private onSuspect(s: SuspectMsg, now: number, accuser?: string, hearsay = false): void {
    if (s.id === this.id) {
      this.accused(s.inc, accuser);
      return;
    }
    const m = this.table.get(s.id);
    if (!m || s.inc < m.inc || m.state === "dead" || m.state === "left") return;
    if (m.suspicion) {
      const sus = m.suspicion;
      if (hearsay || sus.accusers.has(s.from) || sus.accusers.size - 1 >= sus.k) return;
      sus.accusers.add(s.from);
      sus.deadlineAt = sus.start + suspicionTimeoutMs(sus.accusers.size - 1, sus.k, sus.minMs, sus.maxMs);
      this.broadcast(s.id, s);
      return;
    }
    const n = this.liveCount();
    const k = n - 2 < this.cfg.suspicionMult - 2 ? 0 : this.cfg.suspicionMult - 2;
    const minMs = suspicionMinMs(this.cfg.suspicionMult, n, this.cfg.probeIntervalMs);
    const maxMs = this.cfg.suspicionMaxTimeoutMult * minMs;
    m.inc = s.inc;
    m.state = "suspect";
    m.stateChangedAt = now;
    m.suspicion = {
      start: now,
      k,
      minMs,
      maxMs,
      accusers: hearsay ? new Set() : new Set([s.from]),
      deadlineAt: now + (hearsay ? maxMs : suspicionTimeoutMs(0, k, minMs, maxMs)),
    };
    if (hearsay || s.from !== this.id) this.probeSoon.push(m.id);
    this.emit("suspect", m, now);
    this.broadcast(s.id, s);
  }

  private onDead(d: DeadMsg, now: number, accuser?: string): void {
    if (d.id === this.id) {
      this.accused(d.inc, accuser);
      return;
    }
    const m = this.table.get(d.id);
    if (!m || d.inc < m.inc || m.state === "dead" || m.state === "left") return;
    m.inc = d.inc;
    m.suspicion = null;
    m.state = d.from === d.id ? "left" : "dead";
    m.stateChangedAt = now;
    if (this.probe?.target === m.id) this.probe = null;
    this.emit(m.state, m, now);
    this.broadcast(d.id, d);
  }

  private onPushPull(pp: PushPullMsg, from: string, now: number): void {
    if (pp.reply && !this.leaving) this.sendPushPull(from, false);
    for (const s of pp.states) {
      if (s.state === "alive") this.onAlive({ t: "alive", id: s.id, inc: s.inc, addr: s.addr, meta: s.meta }, now);
      else if (s.state === "left") this.onDead({ t: "dead", id: s.id, inc: s.inc, from: s.id }, now);
      // memberlist: a remote "dead" only makes us suspect, so the member gets its chance to refute.
      else this.onSuspect({ t: "suspect", id: s.id, inc: s.inc, from: this.id }, now, undefined, true);
    }
  }

  /**
   * Someone claims we are suspect/dead (or announces a conflicting version of us). A claim about
   * our current incarnation is refuted with a higher one; either way the accuser is answered
   * directly: gossip can miss it (the retransmit budget is small), and an accuser that never
   * hears the refutation would declare us dead.
   */
  private accused(inc: number, accuser: string | undefined): void {
    if (this.leaving) return;
    if (inc >= this.self.inc) {
      this.stats.refutations++;
      this.self.inc = inc + 1;
      this.awareness = Math.min(this.cfg.awarenessMaxMultiplier - 1, this.awareness + 1);
      this.broadcast(this.id, this.aliveMsg(this.self));
    }
    if (accuser !== undefined) this.sendUdp(accuser, this.aliveMsg(this.self));
  }

  private sendPushPull(to: string, reply: boolean): void {
    const states: PushState[] = [...this.table.values()].map((m) => ({
      id: m.id,
      addr: m.addr,
      inc: m.inc,
      state: m.state,
      meta: m.meta,
    }));
    this.send(to, "tcp", { t: "pp", reply, states });
  }

  /** A UDP packet: the message plus as many pending broadcasts as fit. */
  private sendUdp(to: string, msg: Msg): void {
    this.send(to, "udp", msg);
  }

  private send(to: string, via: Via, msg: Msg): void {
    this.sendAll(to, via, [msg]);
  }

  private sendAll(to: string, via: Via, msgs: Msg[]): void {
    if (via === "udp") {
      const budget = this.cfg.maxPacketBytes - this.measure(this.packet(msgs));
      msgs.push(...this.broadcasts.take(budget, this.retransmitLimit()));
    }
    this.sends.push({ to, via, packet: this.packet(msgs) });
  }

  private packet(m: Msg[]): Packet {
    return { c: this.cfg.clusterId, f: this.id, a: this.self.addr, m };
  }

  private broadcast(key: string, msg: Msg): void {
    this.broadcasts.enqueue(key, msg, this.measure(msg));
  }

  private retransmitLimit(): number {
    return retransmitLimit(this.cfg.retransmitMult, this.liveCount());
  }

  private liveCount(): number {
    let n = 0;
    for (const m of this.table.values()) if (m.state === "alive" || m.state === "suspect") n++;
    return n;
  }

  private aliveMsg(m: Member): AliveMsg {
    return { t: "alive", id: m.id, inc: m.inc, addr: m.addr, meta: m.meta };
  }

  private emit(type: GossipEventType, m: Member, at: number): void {
    this.events.push({ type, at, member: view(m) });
  }

  private checkOwnMeta(meta: MemberMeta): void {
    if (meta.nodeId !== this.id || meta.clusterId !== this.cfg.clusterId) {
      throw new Error(
        `gossip metadata names node ${meta.nodeId} of cluster ${meta.clusterId}, expected ${this.id} of ${this.cfg.clusterId}`,
      );
    }
    const size = this.measure(meta);
    if (size > this.cfg.maxMetaBytes) {
      throw new Error(`gossip metadata of ${this.id} is ${size} bytes, limit ${this.cfg.maxMetaBytes}`);
    }
  }
}

function view(m: Member): MemberView {
  return {
    id: m.id,
    addr: m.addr,
    state: m.state,
    incarnation: m.inc,
    meta: m.meta,
    stateChangedAt: m.stateChangedAt,
    rttMs: m.rttMs,
  };
}

function sameMeta(a: MemberMeta, b: MemberMeta): boolean {
  return (
    a.nodeId === b.nodeId &&
    a.clusterId === b.clusterId &&
    a.respAddr === b.respAddr &&
    a.httpAddr === b.httpAddr &&
    a.raftAddr === b.raftAddr &&
    a.zone === b.zone &&
    a.version === b.version &&
    a.load === b.load &&
    a.dataDirId === b.dataDirId
  );
}
