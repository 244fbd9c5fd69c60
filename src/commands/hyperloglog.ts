// HyperLogLog commands with Redis 7's replies and error texts. The value is a plain string in
// Redis's own HLL format (src/commands/hyperloglog-codec.ts), so GET, SET, DUMP and RESTORE move it
// between FlyDB and Redis unchanged.
import { array, bulk, err, int, OK, ONE, simple, ZERO, type Reply } from "../resp/reply.ts";
import { seededRandom } from "../lib/prng.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { isReply } from "./collection.ts";
import { define } from "./define.ts";
import { countRegisters, Hll, HLL_REGISTERS, isHll, selfTest, SPARSE } from "./hyperloglog-codec.ts";
import { WRONG_TYPE, type CommandContext } from "./types.ts";
import { E, lower, str, utf8 } from "./util.ts";

const NOT_HLL = err("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT = err("INVALIDOBJ Corrupted HLL object detected");

/** The HLL at key (undefined when absent), or the error Redis gives for anything else there. */
function readHll(ctx: CommandContext, key: Uint8Array): { value: Uint8Array | undefined } | Reply {
  const v = ctx.db.getString(key, ctx.now);
  if (v === WRONG_TYPE) return E.wrongType;
  if (v !== undefined && !isHll(v)) return NOT_HLL;
  return { value: v };
}

/** Writes an HLL back: a new key has no expiry, an existing one keeps its own (Redis edits in place). */
function store(ctx: CommandContext, key: Uint8Array, existed: boolean, hll: Hll): void {
  if (existed) ctx.db.updateString(key, hll.bytes, ctx.now, "raw");
  else ctx.db.setString(key, hll.bytes, null, "raw");
}

function pfadd(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const found = readHll(ctx, key);
  if (isReply(found)) return found;
  const hll = new Hll(found.value);
  let updated = found.value === undefined;
  for (let j = 2; j < argv.length; j++) {
    const r = hll.add(argv[j]!);
    if (r < 0) return CORRUPT;
    if (r > 0) updated = true;
  }
  if (!updated) return ZERO;
  hll.invalidateCache();
  store(ctx, key, found.value !== undefined, hll);
  ctx.notify?.("$", "pfadd", key);
  return ONE;
}

/** The register-wise maximum of every HLL named, or an error reply. */
function unionRegisters(ctx: CommandContext, keys: readonly Uint8Array[]): { max: Uint8Array; dense: boolean } | Reply {
  const max = new Uint8Array(HLL_REGISTERS);
  let dense = false;
  for (const key of keys) {
    const found = readHll(ctx, key);
    if (isReply(found)) return found;
    if (found.value === undefined) continue;
    const hll = new Hll(found.value);
    if (hll.encoding !== SPARSE) dense = true;
    if (!hll.mergeInto(max)) return CORRUPT;
  }
  return { max, dense };
}

/** The write a PFCOUNT that found the cached cardinality stale asks for (see CommandContext.writeBack). */
const CACHE_COMMAND = "__pfcache";

/**
 * One key: the cached cardinality, or a fresh estimate. PFCOUNT is a read (as in Redis's COMMAND
 * INFO), so it never writes; when the cache was stale it asks for CACHE_COMMAND after replying, so
 * that GET soon shows the same bytes as on Redis (the suite reads the cache flag right after).
 * Several keys: the cardinality of their union.
 */
function pfcount(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  if (argv.length > 2) {
    const union = unionRegisters(ctx, argv.slice(1));
    return isReply(union) ? union : int(countRegisters(union.max));
  }
  const key = argv[1]!;
  const found = readHll(ctx, key);
  if (isReply(found)) return found;
  if (found.value === undefined) return ZERO;
  const hll = new Hll(found.value);
  const cached = hll.cachedCount();
  if (cached !== undefined) return int(cached);
  const card = hll.count();
  if (card === undefined) return CORRUPT;
  ctx.writeBack?.([utf8(CACHE_COMMAND), key]);
  return int(card);
}

/** Caches the cardinality in the value when it is stale; counts afresh since a write may have come between. */
function pfcache(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const found = readHll(ctx, key);
  if (isReply(found) || found.value === undefined) return ZERO;
  const hll = new Hll(found.value);
  if (hll.cachedCount() !== undefined) return ZERO;
  const card = hll.count();
  if (card === undefined) return ZERO;
  hll.setCachedCount(card);
  store(ctx, key, true, hll);
  return ONE;
}

/** The destination is also a source; it turns dense when any source is dense, as in Redis. */
function pfmerge(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const union = unionRegisters(ctx, argv.slice(1));
  if (isReply(union)) return union;
  const key = argv[1]!;
  const existing = ctx.db.getString(key, ctx.now) as Uint8Array | undefined;
  const hll = new Hll(existing);
  if (union.dense && !hll.toDense()) return CORRUPT;
  union.max.forEach((count, index) => {
    if (count > 0) hll.set(index, count);
  });
  hll.invalidateCache();
  store(ctx, key, existing !== undefined, hll);
  ctx.notify?.("$", "pfadd", key);
  return OK;
}

function pfdebug(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[2]!;
  const found = readHll(ctx, key);
  if (isReply(found)) return found;
  if (found.value === undefined) return err("ERR The specified key does not exist");
  const hll = new Hll(found.value);
  const sparse = hll.encoding === SPARSE;
  const sub = lower(argv[1]!);
  switch (sub) {
    case "getreg":
    case "todense": {
      // Both leave the value dense, as Redis does.
      if (sparse) {
        if (!hll.toDense()) return CORRUPT;
        store(ctx, key, true, hll);
      }
      if (sub === "todense") return sparse ? ONE : ZERO;
      return array(hll.registers().map((r) => int(r)));
    }
    case "decode":
      return sparse ? bulk(hll.decode()) : err("ERR HLL encoding is not sparse");
    case "encoding":
      return simple(sparse ? "sparse" : "dense");
    default:
      return err(`ERR Unknown PFDEBUG subcommand '${str(argv[1]!)}'`);
  }
}

export const HYPERLOGLOG_COMMANDS = define("hyperloglog", [
  {
    name: "pfadd",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.8.9",
    keyFlags: "RW insert",
    summary: "Adds the specified elements to the specified HyperLogLog.",
    run: pfadd,
  },
  {
    name: "pfcount",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 1, last: -1, step: 1 },
    since: "2.8.9",
    keyFlags: {
      spec: "RW access",
      notes: "RW because it may change the internal representation of the key, and propagate to replicas",
    },
    summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
    run: pfcount,
    cluster: ONE_SLOT,
  },
  {
    name: CACHE_COMMAND,
    arity: 2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "0.1.0",
    summary: "Internal: caches a HyperLogLog's cardinality for PFCOUNT.",
    run: pfcache,
  },
  {
    name: "pfmerge",
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 1 },
    since: "2.8.9",
    keyFlags: ["RW access insert", "RO access"],
    summary: "Merge N different HyperLogLogs into a single one.",
    run: pfmerge,
    cluster: ONE_SLOT,
  },
  {
    name: "pfdebug",
    arity: 3,
    flags: ["write", "admin"],
    keys: { first: 2, last: 2, step: 1 },
    since: "2.8.9",
    keyFlags: "RW access",
    summary: "Internal commands for debugging HyperLogLog values",
    run: pfdebug,
  },
  {
    // Runs where it is received: it checks this node's code and touches no key.
    name: "pfselftest",
    arity: 1,
    flags: ["admin"],
    since: "2.8.9",
    summary: "An internal command for testing HyperLogLog values",
    exec: (s) => {
      const failure = selfTest(seededRandom(Math.floor(s.now)));
      return failure === undefined ? OK : err(`ERR ${failure}`);
    },
  },
]);
