// CONFIG GET/SET/RESETSTAT/REWRITE. Parameters answer under their Redis names (the ones clients and
// Redis's tests use) and under FlyDB's TOML names; a change is this node's alone, as in Redis
// Cluster, where every node has its own configuration (docs/CONFIGURATION.md).
import { array, bulk, err, map, OK, simple, type Reply } from "../resp/reply.ts";
import type { SessionApi } from "./types.ts";
import { ROUTING_STRATEGIES } from "./client-routing.ts";
import { E, globMatch, lower, str, utf8 } from "./util.ts";
import { parseHostPort } from "../net/hostport.ts";

type Kind =
  | { readonly t: "int"; readonly min: number; readonly max: number }
  | { readonly t: "bytes"; readonly min: number; readonly max: number }
  | { readonly t: "bool" }
  | { readonly t: "string" }
  | { readonly t: "events" }
  | { readonly t: "choice"; readonly values: readonly string[] };

/** A Redis parameter FlyDB can change at run time, backed by a configuration key. */
interface Param {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** The configuration key behind it (src/config/schema.ts), which is also a name CONFIG accepts. */
  readonly key: string;
  readonly kind: Kind;
}

const LLONG_MAX = "9223372036854775807";
const int = (min: number, max: number): Kind => ({ t: "int", min, max });

const MUTABLE: readonly Param[] = [
  { name: "maxclients", key: "maxclients", kind: int(1, 4294967295) },
  { name: "timeout", key: "timeout", kind: int(0, 2147483647) },
  { name: "requirepass", key: "requirepass", kind: { t: "string" } },
  { name: "protected-mode", key: "protected_mode", kind: { t: "bool" } },
  { name: "notify-keyspace-events", key: "notify_keyspace_events", kind: { t: "events" } },
  { name: "tracking-table-max-keys", key: "tracking_table_max_keys", kind: int(0, Number.MAX_SAFE_INTEGER) },
  {
    name: "proto-max-bulk-len",
    key: "proto_max_bulk_len",
    kind: { t: "bytes", min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER },
  },
  { name: "slowlog-log-slower-than", key: "slowlog_log_slower_than", kind: int(-1, Number.MAX_SAFE_INTEGER) },
  { name: "slowlog-max-len", key: "slowlog_max_len", kind: int(0, Number.MAX_SAFE_INTEGER) },
  { name: "latency-monitor-threshold", key: "latency_monitor_threshold", kind: int(0, Number.MAX_SAFE_INTEGER) },
  {
    name: "busy-reply-threshold",
    aliases: ["lua-time-limit"],
    key: "busy_reply_threshold",
    kind: int(0, Number.MAX_SAFE_INTEGER),
  },
  {
    name: "hash-max-listpack-entries",
    aliases: ["hash-max-ziplist-entries"],
    key: "hash_max_listpack_entries",
    kind: int(0, Number.MAX_SAFE_INTEGER),
  },
  {
    name: "hash-max-listpack-value",
    aliases: ["hash-max-ziplist-value"],
    key: "hash_max_listpack_value",
    kind: int(0, Number.MAX_SAFE_INTEGER),
  },
  { name: "set-max-intset-entries", key: "set_max_intset_entries", kind: int(0, Number.MAX_SAFE_INTEGER) },
  {
    name: "zset-max-listpack-entries",
    aliases: ["zset-max-ziplist-entries"],
    key: "zset_max_listpack_entries",
    kind: int(0, Number.MAX_SAFE_INTEGER),
  },
  {
    name: "zset-max-listpack-value",
    aliases: ["zset-max-ziplist-value"],
    key: "zset_max_listpack_value",
    kind: int(0, Number.MAX_SAFE_INTEGER),
  },
  {
    name: "list-max-listpack-size",
    aliases: ["list-max-ziplist-size"],
    key: "list_max_listpack_size",
    kind: int(-(2 ** 31), 2 ** 31 - 1),
  },
  { name: "list-compress-depth", key: "list_compress_depth", kind: int(0, 2 ** 31 - 1) },
  { name: "stream-node-max-entries", key: "stream_node_max_entries", kind: int(0, Number.MAX_SAFE_INTEGER) },
  {
    name: "stream-node-max-bytes",
    key: "stream_node_max_bytes",
    kind: { t: "bytes", min: 0, max: Number.MAX_SAFE_INTEGER },
  },
  { name: "hll-sparse-max-bytes", key: "hll_sparse_max_bytes", kind: int(0, Number.MAX_SAFE_INTEGER) },
  {
    // FlyDB's own; the choices of src/config/schema.ts (a layer this one may not import).
    name: "routing-strategy",
    key: "routing_strategy",
    kind: { t: "choice", values: ROUTING_STRATEGIES },
  },
];

/**
 * Redis parameters with a fixed value in FlyDB (how it stores, listens, clusters): CONFIG GET
 * reports them. CONFIG SET refuses them as Redis refuses its immutable ones; those Redis can
 * change at run time still accept the value in force (a client restoring a CONFIG GET * snapshot).
 */
interface Fixed {
  readonly value: (s: SessionApi) => string;
  readonly redisMutable: boolean;
  /** Left out of a pattern's matches, as Redis's hidden (debugging) parameters: only asked by name. */
  readonly hidden?: boolean;
}

const FIXED: Record<string, Fixed> = {
  save: { value: () => "", redisMutable: true },
  appendonly: { value: () => "yes", redisMutable: true },
  appendfsync: { value: (s) => s.server.configValue("fsync") ?? "always", redisMutable: true },
  databases: { value: (s) => s.server.configValue("databases") ?? "16", redisMutable: false },
  port: { value: (s) => String(s.server.port), redisMutable: true },
  maxmemory: { value: () => "0", redisMutable: true },
  "maxmemory-policy": { value: () => "noeviction", redisMutable: true },
  "maxmemory-samples": { value: () => "5", redisMutable: true },
  "maxmemory-clients": { value: () => "0", redisMutable: true },
  bind: { value: (s) => parseHostPort(s.server.configValue("bind_addr") ?? ":0").host, redisMutable: true },
  // Set only by the REPLICAOF command in Redis; FlyDB replicates through Raft, never from a master.
  replicaof: { value: () => "", redisMutable: false },
  slaveof: { value: () => "", redisMutable: false },
  "key-load-delay": { value: () => "0", redisMutable: true, hidden: true },
  "latency-tracking": { value: () => "no", redisMutable: true },
  "cluster-enabled": { value: (s) => (s.cluster ? "yes" : "no"), redisMutable: false },
  daemonize: { value: () => "no", redisMutable: false },
  "client-output-buffer-limit": { value: (s) => outputBufferLimits(s), redisMutable: true },
};

/** Redis's three classes in bytes; only pubsub's is FlyDB's own (client_output_buffer_limit_pubsub). */
function outputBufferLimits(s: SessionApi): string {
  const [hard = "0", soft = "0", seconds = "0"] = (s.server.configValue("client_output_buffer_limit_pubsub") ?? "")
    .trim()
    .split(/\s+/);
  const bytes = (v: string) => String(parseBytes(v) ?? 0);
  return `normal 0 0 0 slave 268435456 67108864 60 pubsub ${bytes(hard)} ${bytes(soft)} ${seconds}`;
}

/** The configuration keys CONFIG SET can change (each must be a key of src/config/schema.ts). */
export const RUNTIME_KEYS: readonly string[] = MUTABLE.map((p) => p.key);

const byName = new Map<string, Param>();
for (const p of MUTABLE) for (const n of [p.name, ...(p.aliases ?? []), p.key]) byName.set(n, p);

/** Redis's notify-keyspace-events classes; "A" stands for every class up to "d". */
const EVENT_CLASSES = "g$lshzxetd";

function parseEvents(v: string): string | undefined {
  const on = new Set<string>();
  for (const c of v) {
    if (c === "A") for (const a of EVENT_CLASSES) on.add(a);
    else if (`${EVENT_CLASSES}KEmn`.includes(c)) on.add(c);
    else return undefined;
  }
  const classes = [...EVENT_CLASSES].every((c) => on.has(c))
    ? "A"
    : [...EVENT_CLASSES].filter((c) => on.has(c)).join("");
  return classes + ["K", "E", "m", "n"].filter((c) => on.has(c)).join("");
}

/** Redis's memory units: k/kb/m/mb/g/gb (1k = 1000, 1kb = 1024). */
function parseBytes(v: string): number | undefined {
  const m = /^(-?\d+)(k|kb|m|mb|g|gb)?$/i.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? "").toLowerCase();
  const mult = { "": 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[unit]!;
  return Number(m[1]) * mult;
}

/** The value to store, or Redis's reason for refusing it. */
function parseValue(p: Param, raw: string): { value: string | number | boolean } | { error: string } {
  const k = p.kind;
  if (k.t === "string") return { value: raw };
  if (k.t === "events") {
    const v = parseEvents(raw);
    return v === undefined ? { error: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'." } : { value: v };
  }
  if (k.t === "choice") {
    const v = lower(utf8(raw));
    return k.values.includes(v) ? { value: v } : { error: `argument must be one of ${k.values.join(", ")}` };
  }
  if (k.t === "bool") {
    const v = lower(utf8(raw));
    return v === "yes" || v === "no" ? { value: v === "yes" } : { error: "argument must be 'yes' or 'no'" };
  }
  const n = k.t === "bytes" ? parseBytes(raw) : /^-?\d+$/.test(raw) ? Number(raw) : undefined;
  if (n === undefined)
    return {
      error: k.t === "bytes" ? "argument must be a memory value" : "argument couldn't be parsed into an integer",
    };
  const shownMax = k.max === Number.MAX_SAFE_INTEGER ? LLONG_MAX : String(k.max);
  if (n < k.min || n > k.max) return { error: `argument must be between ${k.min} and ${shownMax} inclusive` };
  // FlyDB caps what its own schema accepts at start-up (src/config/schema.ts), so CONFIG REWRITE
  // never writes a file the node refuses; Redis's wording for maxclients.
  if (p.key === "maxclients" && n > 1_000_000) {
    return { error: "The operating system is not able to handle the specified number of clients, try with 1000000" };
  }
  if (p.key === "proto_max_bulk_len" && n > 2 ** 32)
    return { error: `argument must be between ${k.min} and ${2 ** 32} inclusive` };
  return { value: n };
}

/** How CONFIG GET shows a secret that is set (src/config/load.ts formatValue): never a value to compare with. */
const SECRET_MASK = "********";

/**
 * A start-up-only key under FlyDB's own name (CONFIG GET * lists them) accepts the value in force,
 * as the fixed Redis parameters do: a client restoring a CONFIG GET * snapshot gets OK.
 */
const ownFixed = (name: string): Fixed => ({ value: (s) => s.server.configValue(name) ?? "", redisMutable: true });

function boolWord(v: string): string {
  const w = v.toLowerCase();
  return w === "true" ? "yes" : w === "false" ? "no" : v;
}

const failed = (arg: string, why: string) =>
  err(`ERR CONFIG SET failed (possibly related to argument '${arg}') - ${why}`);

/**
 * Redis 7 semantics: every pair is checked before any is applied, so a call changes all or nothing;
 * as in Redis every name is checked (unknown, immutable, duplicate) before any value.
 */
function configSet(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length < 4 || argv.length % 2 !== 0) return E.arity("config|set");
  const named: { arg: string; p: Param | undefined; fixed: Fixed | undefined; value: string }[] = [];
  const seen = new Set<string>();
  for (let i = 2; i < argv.length; i += 2) {
    const arg = str(argv[i]!);
    // An alias is a parameter of its own to the duplicate check, as in Redis.
    const name = lower(argv[i]!);
    const p = byName.get(name);
    const fixed = FIXED[name];
    const own = !p && !fixed && s.server.configNames().includes(name);
    if (!p && !fixed && !own) {
      return err(`ERR Unknown option or number of arguments for CONFIG SET - '${arg}'`);
    }
    if (!p && !own && !fixed?.redisMutable) return failed(arg, "can't set immutable config");
    if (seen.has(name)) return failed(arg, "duplicate parameter");
    seen.add(name);
    named.push({ arg, p, fixed: own ? ownFixed(name) : fixed, value: str(argv[i + 1]!) });
  }
  const changes = new Map<string, string | number | boolean>();
  for (const { arg, p, fixed, value } of named) {
    if (!p) {
      if (value !== fixed!.value(s) || value === SECRET_MASK) return failed(arg, "can't set immutable config");
      continue;
    }
    // FlyDB's own names spell booleans true/false, as CONFIG GET shows them under those names.
    const parsed = parseValue(p, p.kind.t === "bool" && arg.toLowerCase() === p.key ? boolWord(value) : value);
    if ("error" in parsed) return failed(arg, parsed.error);
    changes.set(p.key, parsed.value);
  }
  if (changes.size > 0) s.server.configSet(changes);
  return OK;
}

function configGet(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length < 3) return E.arity("config|get");
  const all: [string, () => string][] = [];
  const hidden = new Set<string>();
  for (const [name, f] of Object.entries(FIXED)) {
    all.push([name, () => f.value(s)]);
    if (f.hidden) hidden.add(name);
  }
  for (const p of MUTABLE) {
    // Redis spells its booleans yes/no (FlyDB's own names keep true/false).
    const value =
      p.kind.t === "bool"
        ? () => (s.server.configValue(p.key) === "true" ? "yes" : "no")
        : () => s.server.configValue(p.key) ?? "";
    for (const n of [p.name, ...(p.aliases ?? [])]) all.push([n, value]);
  }
  for (const k of s.server.configNames()) all.push([k, () => s.server.configValue(k) ?? ""]);
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  for (const pattern of argv.slice(2)) {
    for (const [name, value] of all) {
      const matches = hidden.has(name) ? lower(pattern) === name : globMatch(pattern, utf8(name), true);
      if (!seen.has(name) && matches) {
        seen.add(name);
        pairs.push([name, value()]);
      }
    }
  }
  return map(pairs.map(([k, v]) => [bulk(k), bulk(v)] as const));
}

const HELP = [
  "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "REWRITE",
  "    Rewrite the configuration file.",
  "HELP",
  "    Prints this help.",
];

export function config(s: SessionApi, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
  const sub = lower(argv[1]!);
  switch (sub) {
    case "get":
      return configGet(s, argv);
    case "set":
      return configSet(s, argv);
    case "resetstat":
      if (argv.length !== 2) return E.arity("config|resetstat");
      s.server.resetStats();
      return OK;
    case "rewrite":
      if (argv.length !== 2) return E.arity("config|rewrite");
      return s.server.configRewrite();
    case "help":
      return argv.length === 2 ? array(HELP.map((l) => simple(l))) : E.arity("config|help");
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try CONFIG HELP.`);
  }
}
