// A deterministic network for SwimCore instances: virtual clock, seeded loss and delay, partitions
// and crashes. Packets go through parsePacket so the simulator exercises the same validation as
// the real adapter. TCP sends are never lost (TCP retransmits) but do respect partitions.
import { swimConfig, type SwimConfig } from "../../src/gossip/core/config.ts";
import { seededRng } from "../../src/gossip/core/prng.ts";
import { SwimCore } from "../../src/gossip/core/swim.ts";
import type { GossipEvent, MemberMeta, Rng, Send } from "../../src/gossip/core/types.ts";
import { parsePacket } from "../../src/gossip/core/validate.ts";

interface InFlight {
  readonly at: number;
  readonly from: string;
  readonly send: Send;
}

export interface SimNode {
  readonly id: string;
  core: SwimCore;
  crashed: boolean;
  readonly events: GossipEvent[];
}

export interface SimOptions {
  seed: number;
  loss?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  stepMs?: number;
  config?: Partial<SwimConfig>;
  clusterId?: string;
}

export function metaFor(id: string, clusterId = "sim", extra: Partial<MemberMeta> = {}): MemberMeta {
  return {
    nodeId: id,
    clusterId,
    respAddr: `${id}:6380`,
    httpAddr: `${id}:8080`,
    raftAddr: `${id}:7947`,
    zone: "z1",
    version: "0.1.0",
    load: 0,
    ...extra,
  };
}

export class GossipSim {
  now = 0;
  loss: number;
  readonly nodes = new Map<string, SimNode>();
  private readonly rng: Rng;
  private readonly opts: SimOptions;
  private inflight: InFlight[] = [];
  /** Extra one-way delay (ms) of everything a node sends or receives: an overloaded node. */
  readonly slow = new Map<string, number>();
  /** addr → group; packets between different groups are dropped. */
  private groups: Map<string, number> | null = null;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.loss = opts.loss ?? 0;
    this.rng = seededRng(opts.seed);
  }

  addNode(id: string, seeds: string[], extra: { incarnation?: number; clusterId?: string } = {}): SimNode {
    const clusterId = extra.clusterId ?? this.opts.clusterId ?? "sim";
    const core = new SwimCore({
      id,
      addr: id,
      meta: metaFor(id, clusterId),
      incarnation: extra.incarnation,
      config: swimConfig(clusterId, this.opts.config),
      rng: seededRng(this.opts.seed * 1000 + this.nodes.size + 1),
      now: this.now,
    });
    const node: SimNode = { id, core, crashed: false, events: this.nodes.get(id)?.events ?? [] };
    this.nodes.set(id, node);
    core.join(seeds, this.now);
    this.flush(node);
    return node;
  }

  crash(id: string): void {
    this.node(id).crashed = true;
  }

  partition(groups: string[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => {
      for (const id of g) this.groups?.set(id, i);
    });
  }

  heal(): void {
    this.groups = null;
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no simulated node ${id}`);
    return n;
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !n.crashed);
  }

  run(ms: number): void {
    const step = this.opts.stepMs ?? 5;
    const end = this.now + ms;
    while (this.now < end) {
      this.now += step;
      const due = this.inflight.filter((f) => f.at <= this.now);
      this.inflight = this.inflight.filter((f) => f.at > this.now);
      for (const f of due) {
        const to = this.nodes.get(f.send.to);
        if (!to || to.crashed || this.cut(f.from, f.send.to)) continue;
        const packet = parsePacket(structuredClone(f.send.packet));
        if (packet === null) throw new Error(`core produced an invalid packet: ${JSON.stringify(f.send.packet)}`);
        to.core.receive(packet, f.send.via, this.now);
        this.flush(to);
      }
      for (const n of this.live()) {
        n.core.tick(this.now);
        this.flush(n);
      }
    }
  }

  /** Run until `done` holds (checked every 100 ms of virtual time) or `maxMs` passed; the time taken. */
  runUntil(done: () => boolean, maxMs: number): number {
    const start = this.now;
    while (this.now - start < maxMs && !done()) this.run(100);
    return this.now - start;
  }

  private cut(a: string, b: string): boolean {
    return this.groups !== null && this.groups.get(a) !== this.groups.get(b);
  }

  private flush(n: SimNode): void {
    const { sends, events } = n.core.drain();
    n.events.push(...events);
    if (n.crashed) return;
    const min = this.opts.minDelayMs ?? 1;
    const max = this.opts.maxDelayMs ?? 5;
    for (const send of sends) {
      if (send.via === "udp" && this.rng.next() < this.loss) continue;
      const extra = (this.slow.get(n.id) ?? 0) + (this.slow.get(send.to) ?? 0);
      this.inflight.push({ at: this.now + min + this.rng.next() * (max - min) + extra, from: n.id, send });
    }
  }
}
