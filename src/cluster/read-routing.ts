// What the read target policy of `routing_strategy` knows of the members (src/cluster/core/read-target.ts):
// zones from the metadata (each member's `zone`, also advertised in gossip and mDNS), loads from
// gossip (this node's own as gossiped, so all are equally fresh), RTTs from gossip's direct probes (smoothed here),
// and how far this node's own replicas lag their commit index. Sampled every SAMPLE_MS.
import type { Config } from "../config/schema.ts";
import type { GossipNode } from "../gossip/index.ts";
import { groupOf } from "../keyspace/groups.ts";
import type { NodeId } from "../raft/types.ts";
import type { MetaState } from "./core/meta.ts";
import type { MultiRaft } from "./core/multiraft.ts";
import {
  ROUTING_STRATEGIES,
  type ReadTargetPolicy,
  type ReplicaFacts,
  type RoutingStrategy,
  readTargetPolicy,
} from "./core/read-target.ts";
import { LoadMeter, SAMPLE_MS } from "./load-meter.ts";
import { ReadStats } from "./read-stats.ts";
import type { RouterDeps } from "./router.ts";

const isStrategy = (s: string): s is RoutingStrategy => (ROUTING_STRATEGIES as readonly string[]).includes(s);

/** Weight of the newest RTT probe. */
const RTT_ALPHA = 0.3;

/** What gossip tells of a member (GossipNode.member). */
interface GossipedMember {
  readonly meta: { readonly zone: string; readonly load: number };
  readonly rttMs: number | null;
}

export interface ReadRoutingDeps {
  readonly self: NodeId;
  /** The routing_strategy in force (CONFIG SET routing-strategy changes it at run time). */
  strategy(): RoutingStrategy;
  readonly zone: string;
  meta(): MetaState;
  member(id: NodeId): GossipedMember | undefined;
  /** Gossips this node's new load (GossipNode.updateMeta). */
  publishLoad(load: number): void;
  readonly raft: Pick<MultiRaft, "status">;
}

export class ReadRouting {
  /** The policy of the strategy in force; each strategy keeps its own rotation counters. */
  readonly policy: ReadTargetPolicy;
  private readonly policies = new Map<RoutingStrategy, ReadTargetPolicy>();
  readonly stats = new ReadStats();
  readonly meter: LoadMeter;
  readonly facts: ReplicaFacts;
  private readonly rtt = new Map<NodeId, number>();

  constructor(
    private readonly d: ReadRoutingDeps,
    now: number,
  ) {
    const current = () => this.policyOf(d.strategy());
    this.policy = {
      get name() {
        return current().name;
      },
      get replicaReads() {
        return current().replicaReads;
      },
      get maxLag() {
        return current().maxLag;
      },
      choose: (t) => current().choose(t),
    };
    this.meter = new LoadMeter(now, d.publishLoad);
    this.facts = {
      zone: (id) => (id === d.self ? d.zone : (d.meta().members[id]?.zone ?? d.member(id)?.meta.zone ?? "")),
      load: (id) => (id === d.self ? this.meter.gossiped() : d.member(id)?.meta.load),
      rttMs: (id) => (id === d.self ? 0 : this.rtt.get(id)),
      lag: (id, p) => {
        if (id !== d.self) return undefined;
        const s = d.raft.status(groupOf(p));
        return s ? s.commit - s.applied : undefined;
      },
    };
  }

  /** A cluster member's, as its routing_strategy (which CONFIG SET may change) and zone say. */
  static forNode(
    config: Pick<Config, "node_id" | "routing_strategy" | "zone">,
    meta: () => MetaState,
    gossip: Pick<GossipNode, "member" | "updateMeta">,
    raft: Pick<MultiRaft, "status">,
  ): ReadRouting {
    const deps: ReadRoutingDeps = {
      self: config.node_id,
      strategy: () => config.routing_strategy,
      zone: config.zone,
      meta,
      member: (id) => gossip.member(id),
      publishLoad: (load) => gossip.updateMeta({ load }),
      raft,
    };
    return new ReadRouting(deps, Date.now());
  }

  /** A strategy's policy, shared by the node's setting and the connections that chose it (one rotation). */
  private policyOf(s: RoutingStrategy): ReadTargetPolicy {
    let p = this.policies.get(s);
    if (!p) this.policies.set(s, (p = readTargetPolicy(s)));
    return p;
  }

  /** What the router takes from it (RouterDeps). */
  routerDeps(): Pick<RouterDeps, "readTargets" | "facts" | "meter" | "readStats"> {
    return {
      readTargets: (routing) => (routing !== undefined && isStrategy(routing) ? this.policyOf(routing) : this.policy),
      facts: this.facts,
      meter: this.meter,
      readStats: this.stats,
    };
  }

  /** Samples every SAMPLE_MS from now on; the caller clears the interval. */
  sampleEvery(): ReturnType<typeof setInterval> {
    return setInterval(() => this.sample(Date.now()), SAMPLE_MS);
  }

  /** Every SAMPLE_MS (src/cluster/load-meter.ts). */
  sample(now: number): void {
    this.meter.sample(now);
    for (const id of Object.keys(this.d.meta().members)) {
      const probe = id === this.d.self ? null : this.d.member(id)?.rttMs;
      if (probe == null) continue;
      const prev = this.rtt.get(id);
      this.rtt.set(id, prev === undefined ? probe : RTT_ALPHA * probe + (1 - RTT_ALPHA) * prev);
    }
  }
}
