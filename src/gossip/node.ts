// GossipNode: the SWIM core driven by real sockets and a real clock. UDP (node:dgram) carries
// probes and gossip; TCP (node:net) on the same port carries push-pull state sync and the
// fallback ping, one length-prefixed frame per message on a short-lived connection.
import dgram from "node:dgram";
import net from "node:net";
import { randomInt } from "node:crypto";
import { swimConfig, type SwimConfig } from "./core/config.ts";
import { seededRng } from "./core/prng.ts";
import { SwimCore, type SwimStats } from "./core/swim.ts";
import type { GossipEvent, GossipEventType, MemberMeta, MemberView, Send, Via } from "./core/types.ts";
import { RefusalLog } from "../lib/refusal-log.ts";
import { formatHostPort, parseHostPort } from "../net/hostport.ts";
import { GossipWire, type DropReason } from "./wire.ts";

/** The metadata fields a node sets itself; nodeId and clusterId come from the options. */
export type MemberInfo = Omit<MemberMeta, "nodeId" | "clusterId">;

export interface GossipNodeOptions {
  readonly nodeId: string;
  readonly clusterId: string;
  /** cluster_addr to bind, UDP and TCP: "host:port"; port 0 picks a free port. */
  readonly bindAddr: string;
  /** Where others reach this node; defaults to the bound address. Required when binding all interfaces. */
  readonly advertiseAddr?: string;
  readonly meta?: Partial<MemberInfo>;
  /** Gossip addresses to join at start (and retry while alone). */
  readonly seeds?: readonly string[];
  /** cluster_secret: when set every packet is AES-256-GCM sealed, and unsealed ones are dropped. */
  readonly secret?: string;
  /** More secrets whose packets are accepted, while cluster_secret is rotated (cluster_secret_accept). */
  readonly acceptSecrets?: readonly string[];
  /** A packet refused for its cluster_secret: one line per sender and reason per minute. */
  readonly onRefused?: (line: string) => void;
  readonly config?: Partial<Omit<SwimConfig, "clusterId">>;
  /** Defaults to wall-clock seconds, so a restarted node starts above its previous incarnation. */
  readonly incarnation?: number;
}

export interface GossipCounters {
  udpIn: number;
  udpOut: number;
  tcpIn: number;
  tcpOut: number;
  bytesIn: number;
  bytesOut: number;
  sendErrors: number;
  dropped: Record<DropReason, number>;
  core: SwimStats;
}

const MAX_UDP_BYTES = 65_536;
const MAX_TCP_FRAME_BYTES = 4 << 20;
const TCP_IDLE_MS = 5_000;
/** Senders use one connection per message; these caps bound what a misbehaving peer can cost. */
const MAX_TCP_CONNS = 256;
const MAX_FRAMES_PER_CONN = 4;
const EMPTY_INFO: MemberInfo = { respAddr: "", httpAddr: "", raftAddr: "", zone: "", version: "", load: 0 };

type Listener = (event: GossipEvent) => void;

const SECRET_MISMATCH = {
  unencrypted: "an unencrypted packet: cluster_secret is not set on that node",
  encrypted: "an encrypted packet: that node has a cluster_secret, and this one has none",
  auth: "a packet failed authentication: its cluster_secret differs from this node's",
} as const;

export class GossipNode {
  private readonly opts: GossipNodeOptions;
  private readonly cfg: SwimConfig;
  private readonly wire: GossipWire;
  private meta: MemberMeta;
  private core: SwimCore | null = null;
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private advertised = "";
  private readonly listeners = new Map<GossipEventType | "*", Set<Listener>>();
  private readonly refusals = new RefusalLog((line) => this.opts.onRefused?.(line));
  private readonly stats = {
    udpIn: 0,
    udpOut: 0,
    tcpIn: 0,
    tcpOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    sendErrors: 0,
    dropped: {
      oversize: 0,
      unencrypted: 0,
      encrypted: 0,
      auth: 0,
      replay: 0,
      stale: 0,
      decode: 0,
      invalid: 0,
    } as Record<DropReason, number>,
  };

  constructor(opts: GossipNodeOptions) {
    this.opts = opts;
    this.cfg = swimConfig(opts.clusterId, opts.config);
    this.wire = new GossipWire(opts.secret, opts.acceptSecrets);
    this.meta = { ...EMPTY_INFO, ...opts.meta, nodeId: opts.nodeId, clusterId: opts.clusterId };
  }

  /** Bind UDP and TCP on one port, then join the seeds. */
  async start(): Promise<void> {
    if (this.core) throw new Error(`gossip node ${this.opts.nodeId} already started`);
    const bind = parseHostPort(this.opts.bindAddr);
    const port = await this.bindBoth(bind.host, bind.port);
    this.advertised = this.opts.advertiseAddr ?? formatHostPort(bind.host, port);
    const adv = parseHostPort(this.advertised, "");
    if (adv.host === "" || adv.host === "0.0.0.0" || adv.host === "::") {
      await this.stop();
      throw new Error(`gossip node ${this.opts.nodeId}: advertiseAddr is required when binding ${this.opts.bindAddr}`);
    }
    this.core = new SwimCore({
      id: this.opts.nodeId,
      addr: this.advertised,
      meta: this.meta,
      incarnation: this.opts.incarnation ?? Math.floor(Date.now() / 1000),
      config: this.cfg,
      rng: seededRng(randomInt(2 ** 31)),
      now: now(),
      measure: this.wire.measure,
    });
    this.core.join(this.opts.seeds ?? [], now());
    this.pump();
  }

  /** Close the sockets without telling anyone (others will detect a failure). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = null;
    this.tcp = null;
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }

  /** Graceful leave: announce it, give gossip `propagateMs` to spread it, then stop. */
  async leave(propagateMs = Math.max(100, 3 * this.cfg.gossipIntervalMs)): Promise<void> {
    const core = this.requireCore();
    core.leave(now());
    this.pump();
    await new Promise((r) => setTimeout(r, propagateMs));
    await this.stop();
  }

  /** Push-pull with more gossip addresses (e.g. found by discovery after start). */
  join(seeds: readonly string[]): void {
    this.requireCore().join(seeds, now());
    this.pump();
  }

  /** Change this node's metadata; the update reaches every member by gossip. */
  updateMeta(patch: Partial<MemberInfo>): void {
    this.meta = { ...this.meta, ...patch, nodeId: this.opts.nodeId, clusterId: this.opts.clusterId };
    if (this.core) {
      this.core.updateMeta(this.meta, now());
      this.pump();
    }
  }

  /** Every known member, this node included, with state, incarnation, metadata and RTT. */
  members(): MemberView[] {
    return this.core ? this.core.members() : [];
  }

  member(id: string): MemberView | undefined {
    return this.core?.member(id);
  }

  /** Subscribe to one event type or to all ("*"); returns the unsubscribe function. */
  on(type: GossipEventType | "*", listener: Listener): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The address other members use for this node (after start). */
  get addr(): string {
    return this.advertised;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  counters(): GossipCounters {
    return { ...this.stats, dropped: { ...this.stats.dropped }, core: { ...this.requireCore().stats } };
  }

  private requireCore(): SwimCore {
    if (!this.core) throw new Error(`gossip node ${this.opts.nodeId} is not started`);
    return this.core;
  }

  /** Bind UDP first (it picks the port when asked for 0), then TCP on the same number. */
  private async bindBoth(host: string, port: number): Promise<number> {
    const attempts = port === 0 ? 8 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = dgram.createSocket({ type: net.isIPv6(host) ? "udp6" : "udp4" });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once("error", reject);
          udp.bind(port, host, () => {
            udp.off("error", reject);
            resolve();
          });
        });
        const bound = udp.address().port;
        const tcp = net.createServer((conn) => this.acceptTcp(conn));
        await new Promise<void>((resolve, reject) => {
          tcp.once("error", reject);
          tcp.listen(bound, host, () => {
            tcp.off("error", reject);
            resolve();
          });
        });
        udp.on("message", (buf, from) => this.ingest(buf, "udp", from.address));
        udp.on("error", () => this.stats.sendErrors++);
        tcp.on("error", () => this.stats.sendErrors++);
        this.udp = udp;
        this.tcp = tcp;
        return bound;
      } catch (e) {
        lastError = e;
        udp.close();
      }
    }
    throw new Error(
      `gossip node ${this.opts.nodeId}: cannot bind UDP+TCP on ${this.opts.bindAddr}: ${String(lastError)}`,
    );
  }

  private acceptTcp(conn: net.Socket): void {
    if (this.conns.size >= MAX_TCP_CONNS) {
      this.stats.dropped.oversize++;
      conn.destroy();
      return;
    }
    this.conns.add(conn);
    let buffered: Buffer = Buffer.alloc(0);
    let frames = 0;
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on("error", () => conn.destroy());
    conn.on("close", () => this.conns.delete(conn));
    conn.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const len = buffered.readUInt32BE(0);
        if (len > MAX_TCP_FRAME_BYTES || frames >= MAX_FRAMES_PER_CONN) {
          this.stats.dropped.oversize++;
          conn.destroy();
          return;
        }
        if (buffered.length < 4 + len) return;
        const frame = buffered.subarray(4, 4 + len);
        buffered = buffered.subarray(4 + len);
        frames++;
        this.ingest(frame, "tcp", conn.remoteAddress ?? "?");
      }
    });
  }

  private ingest(bytes: Uint8Array, via: Via, from: string): void {
    const core = this.core;
    if (!core) return;
    if (via === "udp") this.stats.udpIn++;
    else this.stats.tcpIn++;
    this.stats.bytesIn += bytes.length;
    const decoded = this.wire.decode(bytes, via === "udp" ? MAX_UDP_BYTES : MAX_TCP_FRAME_BYTES);
    if (!decoded.ok) {
      if (decoded.reason === "notice") {
        if (decoded.resend) this.send(decoded.resend);
        return;
      }
      this.stats.dropped[decoded.reason]++;
      if (decoded.reply) this.transmit(decoded.reply.to, via, decoded.reply.frame);
      const why = SECRET_MISMATCH[decoded.reason as keyof typeof SECRET_MISMATCH];
      if (why) this.refusals.report(from, `refused gossip from ${from}: ${why}`, Date.now());
      return;
    }
    core.receive(decoded.packet, via, now());
    this.pump();
  }

  /** Run due timers, send what the core produced, deliver events, re-arm the timer. */
  private pump(): void {
    const core = this.core;
    if (!core || !this.udp) return;
    core.tick(now());
    const { sends, events } = core.drain();
    for (const s of sends) this.send(s);
    for (const e of events) this.deliver(e);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), Math.max(1, core.nextDeadline() - now()));
  }

  private send(s: Send): void {
    let frame: Buffer;
    try {
      frame = this.wire.encode(s);
    } catch {
      this.stats.sendErrors++;
      return;
    }
    this.transmit(s.to, s.via, frame);
  }

  private transmit(addr: string, via: Via, frame: Buffer): void {
    let to: { host: string; port: number };
    try {
      to = parseHostPort(addr, "");
    } catch {
      this.stats.sendErrors++;
      return;
    }
    this.stats.bytesOut += frame.length;
    if (via === "udp") {
      this.stats.udpOut++;
      this.udp?.send(frame, to.port, to.host, (err) => {
        if (err) this.stats.sendErrors++;
      });
      return;
    }
    this.stats.tcpOut++;
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32BE(frame.length, 0);
    const conn = net.connect({ host: to.host, port: to.port });
    this.conns.add(conn);
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on("error", () => {
      this.stats.sendErrors++;
      conn.destroy();
    });
    conn.on("close", () => this.conns.delete(conn));
    conn.end(Buffer.concat([prefix, frame]));
  }

  private deliver(event: GossipEvent): void {
    for (const key of [event.type, "*"] as const) {
      for (const listener of this.listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (e) {
          console.error(
            `gossip ${this.opts.nodeId}: a "${key}" listener threw on ${event.type} of ${event.member.id}:`,
            e,
          );
        }
      }
    }
  }
}

/** Monotonic, yet comparable with wall-clock ms (event timestamps travel between processes in tests). */
function now(): number {
  return performance.timeOrigin + performance.now();
}
