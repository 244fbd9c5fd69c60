// MEMORY and TOUCH. FlyDB keeps rows in SQLite, not Redis objects, so MEMORY USAGE is an estimate
// of what the key would take in Redis 7.0: the key and its value's bytes plus Redis's per-object
// and per-element overheads (a sample of elements, averaged, stands for a big collection as in
// Redis's objectComputeSize). Process memory is INFO memory's business.
import { array, err, int, NULL_BULK, simple, verbatim, type Reply } from "../resp/reply.ts";
import { define, subcommands } from "./define.ts";
import { MAX_ID, MIN_ID } from "./stream-ids.ts";
import { WRONG_TYPE, type CommandContext, type KeyType, type SessionApi } from "./types.ts";
import { E, lower, parseInt64, str, utf8 } from "./util.ts";

/** Key, dictionary entry and object header of any key (sds header included). */
const KEY_OVERHEAD = 48;
/** Per element: listpack entry header when compact, else the hashtable/skiplist/quicklist nodes. */
const ELEMENT_OVERHEAD: Record<Exclude<KeyType, "string">, { compact: number; large: number }> = {
  hash: { compact: 4, large: 56 },
  set: { compact: 0, large: 40 },
  zset: { compact: 12, large: 72 },
  list: { compact: 11, large: 11 },
  stream: { compact: 16, large: 16 },
};
const DEFAULT_SAMPLES = 5;
const NO_ISSUES =
  "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.";

function usage(ctx: CommandContext, key: Uint8Array, samples: number): Reply {
  const meta = ctx.db.meta(key, ctx.now);
  if (!meta) return NULL_BULK;
  const base = KEY_OVERHEAD + key.length;
  if (meta.type === "string") {
    const v = ctx.db.getString(key, ctx.now);
    if (v === undefined || v === WRONG_TYPE) return NULL_BULK;
    const integer = v.length <= 20 && parseInt64(v) !== undefined;
    return int(base + (integer ? 0 : v.length + 4));
  }
  if (meta.type === "stream") return streamUsage(ctx, key, base, samples);
  const info = ctx.db.collection(key, ctx.now);
  if (!info) return NULL_BULK;
  const n = samples === 0 ? info.size : Math.min(samples, info.size);
  const sizes: number[] =
    meta.type === "hash"
      ? ctx.db.hashEntries(key, 0, n).map(([f, v]) => f.length + v.length)
      : meta.type === "set"
        ? ctx.db.setMembers(key, 0, n).map((m) => (info.compact ? 8 : m.length))
        : meta.type === "zset"
          ? ctx.db.zsetRange(key, { by: "rank", start: 0, stop: n - 1 }, false, 0, -1).map((e) => e.member.length + 8)
          : ctx.db.listRange(key, 0, n - 1).map((i) => i.value.length);
  const per = ELEMENT_OVERHEAD[meta.type];
  const avg = sizes.length === 0 ? 0 : sizes.reduce((a, b) => a + b, 0) / sizes.length;
  return int(base + Math.round(info.size * (avg + (info.compact ? per.compact : per.large))));
}

/** A stream: its sampled entries' bytes scaled to its length, plus its groups' pending entries. */
function streamUsage(ctx: CommandContext, key: Uint8Array, base: number, samples: number): Reply {
  const s = ctx.db.streams.state(key);
  if (!s) return NULL_BULK;
  const sample = ctx.db.streams.range(key, MIN_ID, MAX_ID, false, samples === 0 ? 0 : Math.max(1, samples));
  const bytes = sample.map((e) => e.fields.reduce((n, f) => n + f.length, 0));
  const avg = bytes.length === 0 ? 0 : bytes.reduce((a, b) => a + b, 0) / bytes.length;
  const per = ELEMENT_OVERHEAD.stream.large;
  const pending = ctx.db.streams.groups(key).reduce((n, g) => n + ctx.db.streams.pendingCount(key, g.name), 0);
  return int(base + Math.round(s.length * (avg + per)) + pending * PENDING_ENTRY_BYTES);
}
/** A pending entry in Redis: a radix-tree key in the group's and the consumer's PEL, and its NACK. */
const PENDING_ENTRY_BYTES = 64;

/** `__memoryusage key samples`: MEMORY USAGE's read, routed to the key's partition like any read. */
export const MEMORY_USAGE_READ = "__memoryusage";

const HELP = [
  "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "DOCTOR",
  "    Return memory problems reports.",
  "MALLOC-STATS",
  "    Return internal statistics report from the memory allocator.",
  "PURGE",
  "    Attempt to purge dirty pages for reclamation by the allocator.",
  "STATS",
  "    Return information about the memory usage of the server.",
  "USAGE <key> [SAMPLES <count>]",
  "    Return memory in bytes used by <key> and its value. Nested values are",
  "    sampled up to <count> times (default: 5, 0 means sample all).",
  "HELP",
  "    Prints this help.",
];

function memory(s: SessionApi, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
  const sub = lower(argv[1]!);
  const only = (n: number) => (argv.length === n ? undefined : E.arity(`memory|${sub}`));
  switch (sub) {
    case "usage": {
      if (argv.length < 3) return E.arity("memory|usage");
      let samples = DEFAULT_SAMPLES;
      if (argv.length === 5 && lower(argv[3]!) === "samples") {
        const n = parseInt64(argv[4]!);
        if (n === undefined) return E.notInt;
        if (n < 0n) return E.syntax;
        samples = Number(n);
      } else if (argv.length !== 3) return E.syntax;
      return s.readData([utf8(MEMORY_USAGE_READ), argv[2]!, utf8(String(samples))]);
    }
    case "stats":
      return only(2) ?? s.server.memoryStats();
    case "doctor":
      return only(2) ?? verbatim(NO_ISSUES);
    case "malloc-stats":
      return only(2) ?? verbatim("Stats not supported for the current allocator");
    case "purge":
      return only(2) ?? simple("OK");
    case "help":
      return only(2) ?? array(HELP.map((l) => simple(l)));
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try MEMORY HELP.`);
  }
}

export const MEMORY_COMMANDS = [
  ...define("server", [
    {
      name: "memory",
      arity: -2,
      flags: ["readonly"],
      since: "4.0.0",
      subcommands: subcommands([
        ["doctor", 2],
        ["help", 2],
        ["malloc-stats", 2],
        ["purge", 2],
        ["stats", 2],
        ["usage", -3, 2, "RO"],
      ]),
      summary: "Memory introspection: USAGE of a key (an estimate: see docs/API.md), STATS, DOCTOR.",
      exec: memory,
    },
  ]),
  ...define("generic", [
    {
      name: "touch",
      arity: -2,
      flags: ["readonly", "fast"],
      keys: { first: 1, last: -1, step: 1 },
      since: "3.2.1",
      keyFlags: "RO",
      summary: "Returns the number of existing keys out of those specified (and counts them as accessed).",
      run: (ctx, argv) => int(argv.slice(1).filter((k) => ctx.db.meta(k, ctx.now)).length),
      cluster: { request: "multi_shard", response: "agg_sum" },
    },
    {
      name: MEMORY_USAGE_READ,
      arity: 3,
      flags: ["readonly"],
      keys: { first: 1, last: 1, step: 1 },
      since: "0.1.0",
      summary: "Internal: MEMORY USAGE of one key on its partition.",
      run: (ctx, argv) => usage(ctx, argv[1]!, Number(str(argv[2]!))),
    },
  ]),
];
