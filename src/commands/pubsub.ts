// Pub/Sub: SUBSCRIBE and friends, PUBLISH, SPUBLISH, PUBSUB introspection, and the RESP2
// subscribed-mode gate. Subscriptions live in the node, not in the keyspace (src/pubsub/registry.ts);
// confirmations are pushed out of band like messages, so a SUBSCRIBE of n channels writes n frames.
import { array, bulk, err, int, NULL_BULK, type Reply } from "../resp/reply.ts";
import { keySlot } from "../keyspace/slot.ts";
import { define, subcommands } from "./define.ts";
import type { PubSubApi, SessionApi, SubscriptionKind } from "./types.ts";
import { ascii, E } from "./util.ts";

/** What a RESP2 client may still run once it has subscribed to anything (as Redis). */
const SUBSCRIBED_MODE = new Set([
  "subscribe",
  "ssubscribe",
  "psubscribe",
  "unsubscribe",
  "sunsubscribe",
  "punsubscribe",
  "ping",
  "quit",
  "reset",
]);

/** Redis 7 commands with subcommands: errors name them "container|sub". */
const CONTAINERS = new Set([
  "client",
  "config",
  "cluster",
  "command",
  "object",
  "pubsub",
  "memory",
  "script",
  "function",
]);

const NO_PUSH = err("ERR pub/sub needs a connection the server can push to (RESP), not HTTP");

const totalCount = (p: PubSubApi) => p.count("channel") + p.count("pattern") + p.count("shard");

/**
 * Run by the session before a known command: a RESP2 client with subscriptions may only
 * (un)subscribe, PING (answered as a message: ["pong", arg]), QUIT and RESET.
 */
export function subscribedModeReply(s: SessionApi, name: string, argv: readonly Uint8Array[]): Reply | undefined {
  const p = s.pubsub;
  if (!p || s.client.protocol !== 2 || totalCount(p) === 0) return undefined;
  if (name === "ping" && argv.length <= 2) return array([bulk("pong"), bulk(argv[1] ?? "")]);
  if (SUBSCRIBED_MODE.has(name)) return undefined;
  const fullName = CONTAINERS.has(name) && argv.length > 1 ? `${name}|${ascii(argv[1]!).toLowerCase()}` : name;
  const allowed = "(P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET";
  return err(`ERR Can't execute '${fullName}': only ${allowed} are allowed in this context`);
}

/** The count a (un)subscribe confirmation carries: shard channels are counted apart (as Redis 7). */
const countFor = (p: PubSubApi, kind: SubscriptionKind) =>
  kind === "shard" ? p.count("shard") : p.count("channel") + p.count("pattern");

const VERB: Record<SubscriptionKind, [string, string]> = {
  channel: ["subscribe", "unsubscribe"],
  pattern: ["psubscribe", "punsubscribe"],
  shard: ["ssubscribe", "sunsubscribe"],
};

/** Every confirmation but the last is pushed; the last is the command's reply, so order holds. */
function confirmAll(p: PubSubApi, frames: Reply[]): Reply {
  for (let i = 0; i < frames.length - 1; i++) p.push(frames[i]!);
  return frames[frames.length - 1]!;
}

const frame = (verb: string, name: Uint8Array | undefined, count: number): Reply => ({
  t: "push",
  v: [bulk(verb), name ? bulk(name) : NULL_BULK, int(count)],
});

/** In a cluster, sharded channels live on their slot's leader: one slot per call, -MOVED elsewhere. */
function shardRedirect(s: SessionApi, channels: readonly Uint8Array[]): Reply | undefined {
  const cluster = s.cluster;
  if (!cluster || channels.length === 0) return undefined;
  const slot = keySlot(channels[0]!);
  if (channels.some((c) => keySlot(c) !== slot)) return err("CROSSSLOT Keys in request don't hash to the same slot");
  const to = cluster.redirect(slot);
  return to === undefined ? undefined : err(`MOVED ${slot} ${to}`);
}

function subscribe(kind: SubscriptionKind) {
  return (s: SessionApi, argv: readonly Uint8Array[]): Reply => {
    const p = s.pubsub;
    if (!p) return NO_PUSH;
    const names = argv.slice(1);
    if (kind === "shard") {
      const moved = shardRedirect(s, names);
      if (moved) return moved;
    }
    return confirmAll(
      p,
      names.map((name) => {
        p.subscribe(kind, name);
        return frame(VERB[kind][0], name, countFor(p, kind));
      }),
    );
  };
}

function unsubscribe(kind: SubscriptionKind) {
  return (s: SessionApi, argv: readonly Uint8Array[]): Reply => {
    const p = s.pubsub;
    if (!p) return NO_PUSH;
    const verb = VERB[kind][1];
    const names = argv.length > 1 ? argv.slice(1) : p.subscriptions(kind);
    if (names.length === 0) return frame(verb, undefined, countFor(p, kind));
    return confirmAll(
      p,
      names.map((name) => {
        p.unsubscribe(kind, name);
        return frame(verb, name, countFor(p, kind));
      }),
    );
  };
}

const HELP = [
  "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CHANNELS [<pattern>]",
  "    Return the currently active channels matching a <pattern> (default: '*').",
  "NUMPAT",
  "    Return number of subscriptions to patterns.",
  "NUMSUB [<channel> ...]",
  "    Return the number of subscribers for the specified channels, excluding",
  "    pattern subscriptions(default: no channels).",
  "SHARDCHANNELS [<pattern>]",
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  "SHARDNUMSUB [<shardchannel> ...]",
  "    Return the number of subscribers for the specified shard level channel(s)",
  "HELP",
  "    Prints this help.",
];

/** PUBSUB's subcommands; in a cluster they describe this node only (as Redis Cluster). */
function pubsub(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = ascii(argv[1]!).toLowerCase();
  const p = s.pubsub;
  const typed = ascii(argv[1]!);
  const wrongArgs = err(`ERR unknown subcommand or wrong number of arguments for '${typed}'. Try PUBSUB HELP.`);
  switch (sub) {
    case "help":
      return argv.length === 2 ? array(HELP.map((l) => ({ t: "simple", v: l }))) : E.arity("pubsub|help");
    case "channels":
    case "shardchannels":
      if (argv.length > 3) return wrongArgs;
      return array((p?.names(sub === "channels" ? "channel" : "shard", argv[2]) ?? []).map(bulk));
    case "numsub":
    case "shardnumsub": {
      const kind = sub === "numsub" ? "channel" : "shard";
      return array(argv.slice(2).flatMap((c) => [bulk(c), int(p?.subscribers(kind, c) ?? 0)]));
    }
    case "numpat":
      return argv.length === 2 ? int(p?.patternCount() ?? 0) : E.arity("pubsub|numpat");
    default:
      return err(`ERR unknown subcommand '${typed}'. Try PUBSUB HELP.`);
  }
}

export const PUBSUB_COMMANDS = define("pubsub", [
  {
    name: "subscribe",
    arity: -2,
    flags: [],
    since: "2.0.0",
    summary: "Listens for messages published to channels.",
    exec: subscribe("channel"),
  },
  {
    name: "unsubscribe",
    arity: -1,
    flags: [],
    since: "2.0.0",
    summary: "Stops listening to messages posted to channels (all of them without arguments).",
    exec: unsubscribe("channel"),
  },
  {
    name: "psubscribe",
    arity: -2,
    flags: [],
    since: "2.0.0",
    summary: "Listens for messages published to channels that match glob patterns.",
    exec: subscribe("pattern"),
  },
  {
    name: "punsubscribe",
    arity: -1,
    flags: [],
    since: "2.0.0",
    summary: "Stops listening to messages published to channels that match glob patterns.",
    exec: unsubscribe("pattern"),
  },
  {
    name: "ssubscribe",
    arity: -2,
    flags: [],
    since: "7.0.0",
    summary: "Listens for messages published to shard channels (on the channel's slot leader in a cluster).",
    exec: subscribe("shard"),
  },
  {
    name: "sunsubscribe",
    arity: -1,
    flags: [],
    since: "7.0.0",
    summary: "Stops listening to messages posted to shard channels.",
    exec: unsubscribe("shard"),
  },
  {
    name: "publish",
    arity: 3,
    flags: ["fast"],
    since: "2.0.0",
    summary: "Posts a message to a channel: every subscriber on every node; replies this node's receivers.",
    exec: (s, argv) => (s.pubsub ? int(s.pubsub.publish(argv[1]!, argv[2]!)) : NO_PUSH),
  },
  {
    name: "spublish",
    arity: 3,
    flags: ["fast"],
    since: "7.0.0",
    summary: "Posts a message to a shard channel, delivered by the channel's slot leader.",
    exec: (s, argv) => {
      const p = s.pubsub;
      if (!p) return NO_PUSH;
      const moved = s.client.clusterMode ? shardRedirect(s, [argv[1]!]) : undefined;
      if (moved) return moved;
      const n = p.publishShard(argv[1]!, argv[2]!);
      if (typeof n === "number") return int(n);
      return n.then(int, (e: unknown) => err(`ERR SPUBLISH failed: ${(e as Error).message}`));
    },
  },
  {
    name: "pubsub",
    arity: -2,
    flags: [],
    since: "2.8.0",
    subcommands: subcommands([
      ["channels", -2],
      ["help", 2],
      ["numpat", 2],
      ["numsub", -2],
      ["shardchannels", -2],
      ["shardnumsub", -2],
    ]),
    summary: "Pub/sub introspection: CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS, SHARDNUMSUB, HELP (this node).",
    exec: pubsub,
  },
]);
