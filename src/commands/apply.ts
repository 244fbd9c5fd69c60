// The state machine's transition function: what every replica runs for a committed op.
import { array, err, type Reply } from "../resp/reply.ts";
import { COMMANDS } from "./table.ts";
import { WATCH_ABORT, watchBroken } from "./transactions.ts";
import type { Keyspace, Op } from "./types.ts";
import { seededRandom } from "../lib/prng.ts";
import { lower } from "./util.ts";

/**
 * Applies one op. Deterministic: the result depends only on the keyspace and the op (its `now`
 * and `seed`), never on this machine's clock. MULTI/EXEC ops give an array of replies.
 */
export function applyOp(op: Op, db: Keyspace): Reply {
  if (watchBroken(op, db)) return WATCH_ABORT;
  const encoding = op.encoding ? { encoding: op.encoding } : {};
  const ctx = { db, now: op.now, random: seededRandom(op.seed), resp3: op.resp3 === true, ...encoding };
  const replies = op.cmds.map((argv) => {
    const spec = COMMANDS.get(lower(argv[0]!));
    // Only validated data commands are ever proposed (read-only ones too, inside MULTI); a miss
    // here means a log written by a newer FlyDB, and the same error on every replica keeps them
    // in agreement.
    if (!spec?.run) return err(`ERR unknown command in log: '${lower(argv[0]!)}'`);
    return spec.run(ctx, argv);
  });
  return op.multi ? array(replies) : replies[0]!;
}
