// CLIENT ROUTING: a connection's own read routing strategy (issue #17), overriding the node's
// routing_strategy for the reads it sends until it asks for DEFAULT (or RESET). Redis's READONLY
// already means "this client speaks Redis Cluster" here (src/commands/cluster.ts), so the
// override is a CLIENT subcommand naming the strategy, as CONFIG SET routing-strategy does.
import { bulk, err, OK, type Reply } from "../resp/reply.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, str } from "./util.ts";

/** routing_strategy's choices (src/config/schema.ts, a layer this one may not import). */
export const ROUTING_STRATEGIES: readonly string[] = [
  "key-based",
  "round-robin",
  "least-loaded",
  "locality-aware",
  "hybrid",
];

/** CLIENT ROUTING [strategy|DEFAULT]: without an argument, the strategy this connection's reads use. */
export function clientRouting(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length > 3) return E.arity("client|routing");
  if (!s.cluster) return err("ERR CLIENT ROUTING needs cluster mode: a standalone node serves every read itself");
  if (argv.length === 2) return bulk(s.client.routing ?? s.server.configValue("routing_strategy") ?? "key-based");
  const choice = lower(argv[2]!);
  if (choice === "default") delete s.client.routing;
  else if (ROUTING_STRATEGIES.includes(choice)) s.client.routing = choice;
  else return err(`ERR unknown routing strategy '${str(argv[2]!)}': one of ${ROUTING_STRATEGIES.join(", ")}, default`);
  return OK;
}
