// MULTI/EXEC/DISCARD/WATCH/UNWATCH (Redis's "transactions" group). The state is per connection,
// in the session; EXEC becomes ONE op carrying every queued data command and the WATCHed keys'
// versions, so it is atomic on every replica and the WATCH check happens inside apply.
import { array, int, NULL_ARRAY, type Reply } from "../resp/reply.ts";
import { define, defineSession } from "./define.ts";
import type { Keyspace, Op } from "./types.ts";

/**
 * Internal read behind WATCH: [watch point, 1 if live, version]. A data command so it runs
 * wherever the key's data is (the partition leader in a cluster); clients cannot call `__`
 * commands.
 */
export const VERSION_COMMAND = "__version";

export const TRANSACTION_COMMANDS = [
  ...define("transactions", [
    [VERSION_COMMAND, 2, ["readonly", "fast"], 1, 1, 1, "0.1.0", "Internal: the WATCH point of a key, whether it is live, and its version.", (ctx, argv) =>
      array([int(ctx.db.watchPoint(argv[1]!)), int(ctx.db.meta(argv[1]!, ctx.now) ? 1 : 0), int(ctx.db.version(argv[1]!))])],
  ]),
  ...defineSession("transactions", [
  ["multi", 1, ["fast"], "1.2.0", "Starts a transaction.", (s) => s.multi()],
  ["exec", 1, [], "1.2.0", "Executes all commands in a transaction.", (s) => s.exec()],
  ["discard", 1, ["fast"], "2.0.0", "Discards a transaction.", (s) => s.discard()],
  ["watch", -2, ["fast", "no-multi"], "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", (s, argv) => s.watch(argv.slice(1))],
  ["unwatch", 1, ["fast"], "2.2.0", "Forgets about watched keys of a transaction.", (s) => s.unwatch()],
  ]),
];

/**
 * True when a WATCHed key changed since WATCH: written by an op after the watch point recorded
 * then, or live then and gone now (deleted, or expired by the op's clock, as Redis 7.0's EXEC
 * checks). See Versions in the store for why every replica decides alike.
 */
export function watchBroken(op: Op, db: Keyspace): boolean {
  return (op.watch ?? []).some((w) => db.version(w.key) > w.version || (w.existed && !db.meta(w.key, op.now)));
}

/** EXEC's reply when a WATCHed key changed: nothing ran. */
export const WATCH_ABORT: Reply = NULL_ARRAY;
