// INFO text in Redis's layout ("# Section" headers, key:value lines, CRLF), so tools that parse
// Redis INFO (redis-cli --stat, exporters, client libraries) read FlyDB's too.
import { REDIS_COMPAT_VERSION } from "../commands/connection.ts";
import { cachedScripts } from "../commands/scripting.ts";
import type { DatabaseKeys } from "../commands/types.ts";
import type { TrackingStats } from "../pubsub/tracking.ts";
import type { CommandStats } from "./command-stats.ts";

export interface InfoSource {
  version: string;
  nodeId: string;
  port: number;
  startedAt: number;
  configFile: string;
  fsync: string;
  connectedClients: number;
  /** Clients waiting in a blocking command (src/commands/blocking.ts). */
  blockedClients: number;
  totalConnections: number;
  totalCommands: number;
  rejectedConnections: number;
  /** Keys deleted as expired by this node's state machine (every replica counts its own deletions). */
  expiredKeys: number;
  keys: number;
  /** Keys with an expiry (INFO keyspace `expires`). */
  expires?: number;
  /** INFO keyspace per database (non-empty ones); absent: database 0 has `keys` and `expires`. */
  dbs?: readonly DatabaseKeys[];
  /** Set when the keyspace could not be counted (a cluster partition did not answer). */
  keyspaceError?: string;
  dataDir: string;
  appliedIndex: number;
  commandStats: CommandStats;
  /** A member of a FlyDB cluster: `redis_mode:cluster`, `cluster_enabled:1`. */
  cluster: boolean;
  maxclients: number;
  /** Client tracking (src/pubsub/tracking.ts); absent: nobody tracks. */
  tracking?: TrackingStats;
}

/** Redis's `dbN:keys=…,expires=…,avg_ttl=…` lines, for databases that have keys (FlyDB keeps no TTL average). */
function keyspaceLines(src: InfoSource): [string, string][] {
  if (src.keyspaceError !== undefined) return [["keyspace_error", src.keyspaceError]];
  const dbs = src.dbs ?? [{ db: 0, keys: src.keys, expires: src.expires ?? 0 }];
  return dbs.filter((d) => d.keys > 0).map((d) => [`db${d.db}`, `keys=${d.keys},expires=${d.expires},avg_ttl=0`]);
}

const SECTIONS = [
  "server",
  "clients",
  "memory",
  "persistence",
  "stats",
  "replication",
  "cpu",
  "modules",
  "errorstats",
  "commandstats",
  "cluster",
  "keyspace",
] as const;
type Section = (typeof SECTIONS)[number];
/** Redis's INFO without arguments (and "default"): everything but commandstats and modules. */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== "commandstats" && s !== "modules");

export function renderInfo(src: InfoSource, section: string | undefined, now: number): string {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const uptime = Math.floor((now - src.startedAt) / 1000);
  const body: Record<Section, [string, string | number][]> = {
    server: [
      ["redis_version", REDIS_COMPAT_VERSION],
      ["flydb_version", src.version],
      ["redis_mode", src.cluster ? "cluster" : "standalone"],
      ["os", `${process.platform} ${process.arch}`],
      ["arch_bits", 64],
      ["process_id", process.pid],
      ["run_id", src.nodeId],
      ["tcp_port", src.port],
      ["uptime_in_seconds", uptime],
      ["uptime_in_days", Math.floor(uptime / 86400)],
      ["executable", process.execPath],
      ["config_file", src.configFile],
    ],
    clients: [
      ["connected_clients", src.connectedClients],
      ["maxclients", src.maxclients],
      ["blocked_clients", src.blockedClients],
      ["tracking_clients", src.tracking?.clients ?? 0],
    ],
    memory: [
      ["used_memory", mem.heapUsed],
      ["used_memory_human", `${(mem.heapUsed / 1024 / 1024).toFixed(2)}M`],
      ["used_memory_rss", mem.rss],
      ["used_memory_peak", mem.heapTotal],
      ["used_memory_lua", 0],
      ["number_of_cached_scripts", cachedScripts()],
      ["mem_fragmentation_ratio", (mem.rss / Math.max(mem.heapUsed, 1)).toFixed(2)],
      ["maxmemory", 0],
      ["maxmemory_policy", "noeviction"],
    ],
    persistence: [
      ["loading", 0],
      ["storage_engine", "sqlite"],
      ["data_dir", src.dataDir],
      ["aof_enabled", 1],
      ["appendfsync", src.fsync],
      ["applied_index", src.appliedIndex],
    ],
    stats: [
      ["total_connections_received", src.totalConnections],
      ["total_commands_processed", src.totalCommands],
      ["rejected_connections", src.rejectedConnections],
      ["expired_keys", src.expiredKeys],
      // Redis's sampling of its expiry cycle; FlyDB's sweep takes whatever the expiry index lists.
      ["expired_stale_perc", "0.00"],
      ["expired_time_cap_reached_count", 0],
      ["expire_cycle_cpu_milliseconds", 0],
      ["evicted_keys", 0],
      ["keyspace_hits", 0],
      ["keyspace_misses", 0],
      ["pubsub_channels", 0],
      ["tracking_total_keys", src.tracking?.keys ?? 0],
      ["tracking_total_items", src.tracking?.items ?? 0],
      ["tracking_total_prefixes", src.tracking?.prefixes ?? 0],
      ["total_error_replies", src.commandStats.totalErrors],
    ],
    replication: [
      ["role", "master"],
      ["connected_slaves", 0],
      ["master_repl_offset", 0],
    ],
    cpu: [
      ["used_cpu_sys", (cpu.system / 1e6).toFixed(6)],
      ["used_cpu_user", (cpu.user / 1e6).toFixed(6)],
      ["used_cpu_sys_children", "0.000000"],
      ["used_cpu_user_children", "0.000000"],
    ],
    modules: [],
    errorstats: src.commandStats.errorLines(),
    commandstats: src.commandStats.commandLines(),
    cluster: [["cluster_enabled", src.cluster ? 1 : 0]],
    keyspace: keyspaceLines(src),
  };
  const asked = new Set<string>();
  for (const name of section?.split(" ") ?? ["default"]) {
    const group =
      name === "default"
        ? DEFAULT_SECTIONS
        : name === "all"
          ? SECTIONS.filter((s) => s !== "modules")
          : name === "everything"
            ? SECTIONS
            : [name];
    for (const s of group) asked.add(s);
  }
  const wanted = SECTIONS.filter((s) => asked.has(s));
  if (wanted.length === 0) return "";
  return `${wanted
    .map((s) => [`# ${s[0]!.toUpperCase()}${s.slice(1)}`, ...body[s].map(([k, v]) => `${k}:${v}`)].join("\r\n"))
    .join("\r\n\r\n")}\r\n`;
}
