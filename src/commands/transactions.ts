// MULTI/EXEC/DISCARD/WATCH/UNWATCH (Redis's "transactions" group). The state is per connection,
// in the session; EXEC becomes ONE op carrying every queued data command and the WATCHed keys'
// versions, so it is atomic on every replica and the WATCH check happens inside apply.
import { array, int, NULL_ARRAY, type Reply } from "../resp/reply.ts";
import { define } from "./define.ts";
import type { Keyspace, Op } from "./types.ts";

/**
 * Internal read behind WATCH: [watch point, 1 if live, version]. A data command so it runs
 * wherever the key's data is (the partition leader in a cluster); clients cannot call `__`
 * commands.
 */
export const VERSION_COMMAND = "__version";

export const TRANSACTION_COMMANDS = define("transactions", [
  {
    name: VERSION_COMMAND,
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "0.1.0",
    summary: "Internal: the WATCH point of a key, whether it is live, and its version.",
    run: (ctx, argv) => {
      const key = argv[1]!;
      return array([int(ctx.db.watchPoint(key)), int(ctx.db.meta(key, ctx.now) ? 1 : 0), int(ctx.db.version(key))]);
    },
  },
  {
    name: "multi",
    arity: 1,
    flags: ["fast"],
    since: "1.2.0",
    summary: "Starts a transaction.",
    exec: (s) => s.multi(),
  },
  {
    name: "exec",
    arity: 1,
    flags: [],
    since: "1.2.0",
    summary: "Executes all commands in a transaction.",
    exec: (s) => s.exec(),
  },
  {
    name: "discard",
    arity: 1,
    flags: ["fast"],
    since: "2.0.0",
    summary: "Discards a transaction.",
    exec: (s) => s.discard(),
  },
  {
    name: "watch",
    arity: -2,
    flags: ["fast", "no-multi"],
    since: "2.2.0",
    summary: "Monitors changes to keys to determine the execution of a transaction.",
    exec: (s, argv) => s.watch(argv.slice(1)),
  },
  {
    name: "unwatch",
    arity: 1,
    flags: ["fast"],
    since: "2.2.0",
    summary: "Forgets about watched keys of a transaction.",
    exec: (s) => s.unwatch(),
  },
]);

/**
 * True when a WATCHed key changed since WATCH: written by an op after the watch point recorded
 * then, or live then and gone now (deleted, or expired by the op's clock, as Redis 7.0's EXEC
 * checks). See Versions in the store for why every replica decides alike.
 */
export function watchBroken(op: Op, db: Keyspace): boolean {
  return (op.watch ?? []).some((w) => {
    const ks = w.db === undefined ? db : db.database(w.db);
    return !ks || ks.version(w.key) > w.version || (w.existed && !ks.meta(w.key, op.now));
  });
}

/** EXEC's reply when a WATCHed key changed: nothing ran. */
export const WATCH_ABORT: Reply = NULL_ARRAY;
