// Internal per-partition commands behind the cluster's keyless commands (DBSIZE, KEYS, SCAN,
// RANDOMKEY, FLUSHALL, INFO keyspace): the fan-out sends one to each partition's leader, which runs
// it on that partition's rows only. Clients cannot call them (the session refuses "__" names).
import { array, bulkArray, bulkOrNull, err, int, NULL_BULK, OK, bulk, type Reply } from "../resp/reply.ts";
import { LOCAL } from "./cluster-policy.ts";
import { define } from "./define.ts";
import { KEY_TYPES, parseScanOptions } from "./keys.ts";
import type { CommandContext, KeyType } from "./types.ts";
import { E, globMatch, lower, parseIntArg } from "./util.ts";
import { swapDatabases } from "./databases.ts";

function partArg(argv: readonly Uint8Array[]): number | Reply {
  const p = parseIntArg(argv[1]!);
  return p === undefined || p < 0 ? err("ERR partition must be a non-negative integer") : p;
}

/** `__scanpart p from groupBytes [MATCH m] [COUNT n] [TYPE t]` → [next prefix or nil, keys]. */
function scanPart(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const p = partArg(argv);
  if (typeof p !== "number") return p;
  const group = parseIntArg(argv[3]!);
  if (group === undefined || group < 1 || group > 8) return err("ERR group bytes must be 1 to 8");
  const opts = parseScanOptions(argv, 4, true);
  if ("t" in opts) return opts;
  // Unknown TYPE names match nothing, as in Redis 7.0; the walk still advances.
  const type =
    opts.type === undefined || (KEY_TYPES as readonly string[]).includes(opts.type)
      ? (opts.type as KeyType | undefined)
      : null;
  const r = ctx.db.scanPartition(p, argv[2]!, opts.count, ctx.now, group, type ?? undefined);
  const keys = type === null ? [] : opts.match ? r.keys.filter((k) => globMatch(opts.match!, k)) : r.keys;
  return array([r.next ? bulk(r.next) : NULL_BULK, bulkArray(keys)]);
}

function keysPart(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const p = partArg(argv);
  if (typeof p !== "number") return p;
  const pattern = argv[2]!;
  const all = pattern.length === 1 && pattern[0] === 0x2a;
  const out: Uint8Array[] = [];
  let from: Uint8Array | undefined = new Uint8Array(0);
  while (from) {
    const r = ctx.db.scanPartition(p, from, 1000, ctx.now, 8);
    for (const k of r.keys) if (all || globMatch(pattern, k)) out.push(k);
    from = r.next;
  }
  return bulkArray(out);
}

export const PARTITION_COMMANDS = define("internal", [
  {
    name: "__dbsizepart",
    arity: -2,
    flags: ["readonly"],
    since: "0.1.0",
    summary:
      "Internal: [live keys, keys with an expiry] of one partition; with ALL, [db, keys, expires]… " +
      "of every non-empty database.",
    run: (ctx, argv) => {
      const p = partArg(argv);
      if (typeof p !== "number") return p;
      if (argv.length === 2) {
        const s = ctx.db.partitionStats(p, ctx.now);
        return array([int(s.keys), int(s.expires)]);
      }
      if (argv.length > 3 || lower(argv[2]!) !== "all") return E.syntax;
      const out: Reply[] = [];
      for (let db = ctx.db.database(0), i = 0; db; db = ctx.db.database(++i)) {
        const s = db.partitionStats(p, ctx.now);
        if (s.keys > 0) out.push(int(i), int(s.keys), int(s.expires));
      }
      return array(out);
    },
    cluster: LOCAL,
  },
  {
    name: "__scanpart",
    arity: -4,
    flags: ["readonly"],
    since: "0.1.0",
    summary: "Internal: one SCAN batch of one partition.",
    run: scanPart,
    cluster: LOCAL,
  },
  {
    name: "__keyspart",
    arity: 3,
    flags: ["readonly"],
    since: "0.1.0",
    summary: "Internal: KEYS over one partition.",
    run: keysPart,
    cluster: LOCAL,
  },
  {
    name: "__randomkeypart",
    arity: 2,
    flags: ["readonly", "random"],
    since: "0.1.0",
    summary: "Internal: [live keys, a random key or nil] of one partition.",
    run: (ctx, argv) => {
      const p = partArg(argv);
      if (typeof p !== "number") return p;
      const keys = ctx.db.partitionStats(p, ctx.now).keys;
      return array([int(keys), bulkOrNull(ctx.db.randomKeyInPartition(p, ctx.now, ctx.random()))]);
    },
    cluster: LOCAL,
  },
  // Writes: FLUSHDB, FLUSHALL and SWAPDB in a cluster are one of these per partition group,
  // applied by every replica.
  {
    name: "__flushpart",
    arity: -2,
    flags: ["write"],
    since: "0.1.0",
    summary: "Internal: removes every key of one partition in the op's database (with ALL: in every database).",
    run: (ctx, argv) => {
      const p = partArg(argv);
      if (typeof p !== "number") return p;
      if (argv.length > 3 || (argv.length === 3 && lower(argv[2]!) !== "all")) return E.syntax;
      ctx.db.flushPartition(p, argv.length === 3);
      return OK;
    },
    cluster: LOCAL,
  },
  {
    name: "__swapdbpart",
    arity: 4,
    flags: ["write"],
    since: "0.1.0",
    summary: "Internal: SWAPDB of one partition's rows.",
    run: (ctx, argv) => {
      const p = partArg(argv);
      return typeof p === "number" ? swapDatabases(ctx, argv, 2, p) : p;
    },
    cluster: LOCAL,
  },
]);
