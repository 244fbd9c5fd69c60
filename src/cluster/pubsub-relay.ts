// Pub/sub between cluster members: a PUBLISH reaches every member, an SPUBLISH the leader of its
// channel's slot; each member delivers to its own subscribers (src/pubsub/registry.ts).
import type { MemberView } from "../gossip/index.ts";
import { keySlot, partitionOf } from "../keyspace/slot.ts";
import type { PubSubNetwork } from "../pubsub/registry.ts";
import type { NodeId } from "../raft/types.ts";

/** How long an SPUBLISH forwarded to its slot's leader may take. */
const PUBLISH_TIMEOUT_MS = 5_000;

/**
 * A PUBLISH (one-way, among the Raft messages) or an SPUBLISH (`shard`, a request answered with
 * the receiver count) for the receiving member's own subscribers.
 */
export interface Published {
  readonly t: "publish";
  readonly channel: Uint8Array;
  readonly message: Uint8Array;
  readonly shard?: boolean;
}

export const isPublished = (x: unknown): x is Published => {
  const m = x as Partial<Published> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    m.t === "publish" &&
    m.channel instanceof Uint8Array &&
    m.message instanceof Uint8Array
  );
};

export interface RelayDeps {
  readonly self: NodeId;
  readonly members: () => readonly MemberView[];
  /** One-way, batched per turn with the Raft messages, in order on the one connection to each peer. */
  readonly send: (to: NodeId, raftAddr: string, body: Published) => void;
  readonly request: (to: NodeId, body: Published, timeoutMs: number) => Promise<unknown>;
  readonly partitionCount: () => number;
  readonly believedLeader: (partition: number) => NodeId | undefined;
}

/** How this node's sessions publish beyond it, and the intake of what other members publish. */
export class PubSubRelay implements PubSubNetwork {
  /** Delivers a message published through another member to this node's subscribers (node.ts sets it). */
  onPublished: ((m: Published) => number) | undefined;

  constructor(private readonly deps: RelayDeps) {}

  broadcast(channel: Uint8Array, message: Uint8Array): void {
    // Never resent: a peer that is down misses the message.
    const body: Published = { t: "publish", channel, message };
    for (const m of this.deps.members()) {
      if (m.id !== this.deps.self && m.state === "alive") this.deps.send(m.id, m.meta.raftAddr, body);
    }
  }

  publishShard(channel: Uint8Array, message: Uint8Array): Promise<number> | undefined {
    const p = partitionOf(keySlot(channel), this.deps.partitionCount());
    const leader = this.deps.believedLeader(p);
    if (leader === this.deps.self) return undefined;
    if (leader === undefined) return Promise.reject(new Error(`no leader known for partition ${p} yet`));
    const body: Published = { t: "publish", channel, message, shard: true };
    return this.deps.request(leader, body, PUBLISH_TIMEOUT_MS).then(Number);
  }

  /** A message or request from another member: its receiver count on this node. */
  deliver(m: Published): number {
    return this.onPublished?.(m) ?? 0;
  }
}
