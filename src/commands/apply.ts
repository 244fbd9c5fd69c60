// The state machine's transition function: what every replica runs for a committed op.
import { array, err, type Reply } from "../resp/reply.ts";
import { COMMANDS } from "./table.ts";
import { WATCH_ABORT, watchBroken } from "./transactions.ts";
import type { CommandContext, CommandSpec, EventClass, KeyEventSink, Keyspace, Op, ScriptCallSink } from "./types.ts";
import { seededRandom } from "../lib/prng.ts";
import { byteKey, bytesEqual, lower } from "./util.ts";
import { commandKeys } from "./connection.ts";
import { selectInOp } from "./databases.ts";

/**
 * Applies one op. Deterministic: the result depends only on the keyspace and the op (its `now`
 * and `seed`), never on this machine's clock. MULTI/EXEC ops give an array of replies. Keyspace
 * events go to `events` in the order the commands raise them (every replica raises the same ones),
 * with "new" for each key a write creates when `newKeys`; the commands its scripts run go to `scriptCall`.
 */
export function applyOp(
  op: Op,
  store: Keyspace,
  events?: KeyEventSink,
  newKeys = false,
  scriptCall?: ScriptCallSink,
): Reply {
  // Every replica has the same `databases` (a start-up setting); a log entry for a database this
  // node does not have answers the same error everywhere.
  const db = store.database(op.db ?? 0);
  if (!db) return err(`ERR DB index ${op.db} in log is out of range`);
  if (watchBroken(op, db)) return WATCH_ABORT;
  const encoding = op.encoding ? { encoding: op.encoding } : {};
  const notify =
    events &&
    ((cls: EventClass, event: string, key: Uint8Array, to?: number) => events(to ?? ctx.db.index, cls, event, key));
  const random = seededRandom(op.seed);
  let ctx: CommandContext = { db, now: op.now, random, resp3: op.resp3 === true, ...encoding, notify, scriptCall };
  const replies = op.cmds.map((argv) => {
    const name = lower(argv[0]!);
    if (name === "select") {
      const selected = selectInOp(ctx.db, argv);
      if (selected.db) ctx = { ...ctx, db: selected.db };
      return selected.reply;
    }
    const spec = COMMANDS.get(name);
    // Only validated data commands are ever proposed (read-only ones too, inside MULTI); a miss
    // here means a log written by a newer FlyDB, and the same error on every replica keeps them
    // in agreement.
    if (!spec?.run) return err(`ERR unknown command in log: '${lower(argv[0]!)}'`);
    return events && newKeys ? runReportingNewKeys(spec, ctx, argv, events) : spec.run(ctx, argv);
  });
  return op.multi ? array(replies) : replies[0]!;
}

/**
 * Redis raises "new" when a write creates a key (dbAdd), before the command's own events: the
 * command's keys that were absent before it ran and exist after it, then its buffered events.
 */
function runReportingNewKeys(
  spec: CommandSpec,
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  events: KeyEventSink,
): Reply {
  const absent = new Map<string, Uint8Array>();
  for (const k of commandKeys(spec, argv)) if (!ctx.db.meta(k, ctx.now)) absent.set(byteKey(k), k);
  const own: Parameters<KeyEventSink>[] = [];
  const notify = (cls: EventClass, event: string, key: Uint8Array, db?: number) =>
    own.push([db ?? ctx.db.index, cls, event, key]);
  const reply = spec.run!({ ...ctx, notify }, argv);
  const created = [...absent.values()].filter((k) => ctx.db.meta(k, ctx.now));
  // Each "new" goes where Redis's dbAdd raises it: before the first event that names its key,
  // unless the command reported it itself (RENAME, COPY, MOVE and RESTORE always add their target).
  for (const e of own) {
    const i = created.findIndex((k) => e[0] === ctx.db.index && bytesEqual(k, e[3]));
    if (i >= 0) {
      const [k] = created.splice(i, 1);
      if (e[1] !== "n") events(ctx.db.index, "n", "new", k!);
    }
    events(...e);
  }
  for (const k of created) events(ctx.db.index, "n", "new", k);
  return reply;
}

/**
 * Runs a read-only data command on database `db` of the store, outside apply (the caller passes
 * its clock and randomness). The session has checked the index; a stale one gets Redis's error.
 */
export function runRead(
  store: Keyspace,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
  db: number,
  ctx: Omit<CommandContext, "db">,
): Reply {
  const ks = store.database(db);
  return ks ? spec.run!({ ...ctx, db: ks }, argv) : err("ERR DB index is out of range");
}
