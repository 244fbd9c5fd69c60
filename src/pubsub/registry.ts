// The subscriptions of one node's connections (pub/sub is not replicated state: each node delivers
// to its own clients, see docs/API.md "Pub/Sub"). Channels and shard channels are looked up by
// name, patterns are matched with Redis's glob (src/commands/util.ts); every message is built once
// as a push reply and handed to each receiver, which writes it out of band (src/server/resp-server.ts).
import { bulk, type Reply } from "../resp/reply.ts";
import { byteKey, globMatch } from "../commands/util.ts";
import type { PubSubApi, SubscriptionKind } from "../commands/types.ts";

/** Receives the messages of its subscriptions; `push` must not throw (a closed client drops them). */
export interface Receiver {
  readonly id: number;
  push(message: Reply): void;
}

interface Subscription {
  readonly name: Uint8Array;
  readonly receivers: Map<number, Receiver>;
}

const KINDS: readonly SubscriptionKind[] = ["channel", "pattern", "shard"];

const MESSAGE = bulk("message");
const PMESSAGE = bulk("pmessage");
const SMESSAGE = bulk("smessage");

export class PubSubRegistry {
  private readonly byKind: Record<SubscriptionKind, Map<string, Subscription>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map(),
  };

  /** One connection's view: its own subscriptions, in the order it made them. */
  client(receiver: Receiver): PubSubClient {
    return new PubSubClient(this, receiver);
  }

  /** PUBLISH: the channel's subscribers, then every matching pattern's; the number of deliveries. */
  publish(channel: Uint8Array, message: Uint8Array): number {
    let n = 0;
    const sub = this.byKind.channel.get(byteKey(channel));
    if (sub) {
      const push: Reply = { t: "push", v: [MESSAGE, bulk(channel), bulk(message)] };
      for (const r of sub.receivers.values()) r.push(push);
      n += sub.receivers.size;
    }
    for (const p of this.byKind.pattern.values()) {
      if (!globMatch(p.name, channel)) continue;
      const push: Reply = { t: "push", v: [PMESSAGE, bulk(p.name), bulk(channel), bulk(message)] };
      for (const r of p.receivers.values()) r.push(push);
      n += p.receivers.size;
    }
    return n;
  }

  /** SPUBLISH: the shard channel's subscribers on this node. */
  publishShard(channel: Uint8Array, message: Uint8Array): number {
    const sub = this.byKind.shard.get(byteKey(channel));
    if (!sub) return 0;
    const push: Reply = { t: "push", v: [SMESSAGE, bulk(channel), bulk(message)] };
    for (const r of sub.receivers.values()) r.push(push);
    return sub.receivers.size;
  }

  /** PUBSUB CHANNELS / SHARDCHANNELS: names with at least one subscriber, optionally matching a glob. */
  names(kind: "channel" | "shard", pattern?: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const s of this.byKind[kind].values()) if (!pattern || globMatch(pattern, s.name)) out.push(s.name);
    return out;
  }

  /** PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one channel on this node. */
  subscribers(kind: "channel" | "shard", channel: Uint8Array): number {
    return this.byKind[kind].get(byteKey(channel))?.receivers.size ?? 0;
  }

  /** PUBSUB NUMPAT: distinct patterns subscribed to on this node. */
  patternCount(): number {
    return this.byKind.pattern.size;
  }

  /** @internal PubSubClient's side of the index. */
  add(kind: SubscriptionKind, name: Uint8Array, key: string, receiver: Receiver): void {
    const index = this.byKind[kind];
    let sub = index.get(key);
    if (!sub) index.set(key, (sub = { name, receivers: new Map() }));
    sub.receivers.set(receiver.id, receiver);
  }

  /** @internal */
  remove(kind: SubscriptionKind, key: string, receiver: Receiver): void {
    const index = this.byKind[kind];
    const sub = index.get(key);
    if (!sub) return;
    sub.receivers.delete(receiver.id);
    if (sub.receivers.size === 0) index.delete(key);
  }
}

/** The subscriptions of one connection; close() drops them all when it goes away. */
export class PubSubClient {
  private readonly mine: Record<SubscriptionKind, Map<string, Uint8Array>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map(),
  };

  constructor(
    private readonly registry: PubSubRegistry,
    readonly receiver: Receiver,
  ) {}

  /** False when already subscribed. */
  subscribe(kind: SubscriptionKind, name: Uint8Array): boolean {
    const key = byteKey(name);
    if (this.mine[kind].has(key)) return false;
    const own = name.slice();
    this.mine[kind].set(key, own);
    this.registry.add(kind, own, key, this.receiver);
    return true;
  }

  /** False when not subscribed. */
  unsubscribe(kind: SubscriptionKind, name: Uint8Array): boolean {
    const key = byteKey(name);
    if (!this.mine[kind].delete(key)) return false;
    this.registry.remove(kind, key, this.receiver);
    return true;
  }

  subscriptions(kind: SubscriptionKind): Uint8Array[] {
    return [...this.mine[kind].values()];
  }

  count(kind: SubscriptionKind): number {
    return this.mine[kind].size;
  }

  close(): void {
    for (const kind of KINDS) for (const name of this.subscriptions(kind)) this.unsubscribe(kind, name);
  }
}

/** How a node's pub/sub reaches the rest of its cluster (src/cluster/cluster-node.ts); absent standalone. */
export interface PubSubNetwork {
  /** Hands a PUBLISH to every other live member, which delivers it to its own subscribers. */
  broadcast(channel: Uint8Array, message: Uint8Array): void;
  /** SPUBLISH on the leader of the channel's slot: its receiver count; undefined when that is this node. */
  publishShard(channel: Uint8Array, message: Uint8Array): Promise<number> | undefined;
}

/** The PubSubApi of one connection: its PubSubClient, this node's registry, the cluster when there is one. */
export function sessionPubSub(
  registry: PubSubRegistry,
  client: PubSubClient,
  network: () => PubSubNetwork | undefined,
): PubSubApi {
  return {
    subscribe: (kind, name) => client.subscribe(kind, name),
    unsubscribe: (kind, name) => client.unsubscribe(kind, name),
    subscriptions: (kind) => client.subscriptions(kind),
    count: (kind) => client.count(kind),
    push: (reply) => client.receiver.push(reply),
    publish: (channel, message) => {
      network()?.broadcast(channel, message);
      return registry.publish(channel, message);
    },
    publishShard: (channel, message) =>
      network()?.publishShard(channel, message) ?? registry.publishShard(channel, message),
    names: (kind, pattern) => registry.names(kind, pattern),
    subscribers: (kind, channel) => registry.subscribers(kind, channel),
    patternCount: () => registry.patternCount(),
  };
}
