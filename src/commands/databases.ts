// Databases (SELECT 0…databases-1): MOVE, SWAPDB and what SELECT means inside a transaction.
// The database is part of a key's identity in the store while its slot and partition come from
// the key alone (see DB_STRIDE in src/store/state.ts), so every command of a client runs on the
// Keyspace of its selected database (ctx.db) and only these commands reach across databases.
// Redis Cluster clients see database 0 only, as on a Redis Cluster (docs/design/commands.md).
import { err, OK, ONE, type Reply, ZERO } from "../resp/reply.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import type { CommandContext, CommandSpec, Keyspace } from "./types.ts";
import { E, lower, parseIntArg } from "./util.ts";

const INT_MAX = 2 ** 31 - 1;
const INT_RANGE = err(`ERR value is out of range, value must between ${-INT_MAX - 1} and ${INT_MAX}`);
const SAME_OBJECT = err("ERR source and destination objects are the same");

/** Redis's getIntFromObjectOrReply: a 32-bit integer; SWAPDB gives its own text for either error. */
export function parseDbIndex(arg: Uint8Array, bad?: Reply): number | Reply {
  const n = parseIntArg(arg);
  if (n === undefined) return bad ?? E.notInt;
  return n < -INT_MAX - 1 || n > INT_MAX ? (bad ?? INT_RANGE) : n;
}

/** The database `arg` names, or Redis's error for a non-integer or an index out of range. */
export function databaseArg(db: Keyspace, arg: Uint8Array): Keyspace | Reply {
  const n = parseDbIndex(arg);
  if (typeof n !== "number") return n;
  return db.database(n) ?? E.dbIndex;
}

function move(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const to = databaseArg(ctx.db, argv[2]!);
  if ("t" in to) return to;
  if (to.index === ctx.db.index) return SAME_OBJECT;
  if (!ctx.db.meta(key, ctx.now) || to.meta(key, ctx.now)) return ZERO;
  ctx.db.rename(key, key, ctx.now, to.index);
  ctx.notify?.("n", "new", key, to.index);
  ctx.notify?.("g", "move_from", key);
  ctx.notify?.("g", "move_to", key, to.index);
  return ONE;
}

/** SWAPDB's two indexes, each with Redis's own error text for a non-integer. */
function swapIndexes(argv: readonly Uint8Array[], from: number): [number, number] | Reply {
  const a = parseDbIndex(argv[from]!, err("ERR invalid first DB index"));
  if (typeof a !== "number") return a;
  const b = parseDbIndex(argv[from + 1]!, err("ERR invalid second DB index"));
  return typeof b === "number" ? [a, b] : b;
}

/** SWAPDB a b, or `__swapdbpart p a b` for partition p's rows only. */
export function swapDatabases(ctx: CommandContext, argv: readonly Uint8Array[], from: number, part?: number): Reply {
  const ab = swapIndexes(argv, from);
  if (!Array.isArray(ab)) return ab;
  const first = ctx.db.database(ab[0]);
  if (!first || !ctx.db.database(ab[1])) return E.dbIndex;
  first.swapDatabase(ab[1], part);
  return OK;
}

/**
 * SELECT queued in MULTI travels in the op: apply switches the database of the commands after
 * it. The reply and the database it leaves selected (undefined on an error).
 */
export function selectInOp(db: Keyspace, argv: readonly Uint8Array[]): { reply: Reply; db?: Keyspace } {
  if (argv.length !== 2) return { reply: E.arity("select") };
  const to = databaseArg(db, argv[1]!);
  return "t" in to ? { reply: to } : { reply: OK, db: to };
}

/** The client's database after a transaction's op: its last SELECT that succeeded. */
export function selectedAfter(
  cmds: readonly (readonly Uint8Array[])[],
  replies: readonly Reply[],
  current: number,
): number {
  let db = current;
  cmds.forEach((argv, i) => {
    if (lower(argv[0]!) === "select" && replies[i]?.t !== "error") db = Number(parseIntArg(argv[1]!));
  });
  return db;
}

/**
 * What a Redis Cluster client (clusterMode connection) is refused, as Redis Cluster refuses it:
 * such a client stays on database 0. Plain connections to a cluster node may use any database.
 */
export function clusterClientRefusal(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | undefined {
  if (spec.name === "select" && argv.length === 2) {
    const db = parseDbIndex(argv[1]!);
    if (db !== 0) return typeof db === "number" ? err("ERR SELECT is not allowed in cluster mode") : db;
  }
  if (spec.name === "move") return err("ERR MOVE is not allowed in cluster mode");
  if (spec.name === "swapdb") return err("ERR SWAPDB is not allowed in cluster mode");
  if (spec.name === "copy" && argv.some((a, i) => i >= 3 && lower(a) === "db")) {
    return err("ERR Copying to another database is not allowed in cluster mode");
  }
  return undefined;
}

export const DATABASE_COMMANDS = define("generic", [
  {
    name: "move",
    arity: 3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "1.0.0",
    keyFlags: "RW access update",
    summary: "Moves a key to another database.",
    run: move,
    cluster: ONE_SLOT,
  },
  {
    name: "swapdb",
    arity: 3,
    flags: ["write", "fast"],
    since: "4.0.0",
    summary: "Swaps two Redis databases.",
    run: (ctx, argv) => swapDatabases(ctx, argv, 1),
    // Every partition swaps its own rows: like FLUSHALL, not atomic across partitions.
    cluster: {
      request: "all_shards",
      via: "__swapdbpart",
      response: "all_succeeded",
      partArgs: (argv) => {
        const ab = swapIndexes(argv, 1);
        return Array.isArray(ab) ? argv.slice(1) : ab;
      },
    },
  },
]);
