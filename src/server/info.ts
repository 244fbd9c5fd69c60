// INFO text in Redis's layout ("# Section" headers, key:value lines, CRLF), so tools that parse
// Redis INFO (redis-cli --stat, exporters, client libraries) read FlyDB's too.
import { REDIS_COMPAT_VERSION } from "../commands/connection.ts";
import type { DatabaseKeys } from "../commands/types.ts";

export interface InfoSource {
  version: string;
  nodeId: string;
  port: number;
  startedAt: number;
  configFile: string;
  fsync: string;
  connectedClients: number;
  totalConnections: number;
  totalCommands: number;
  rejectedConnections: number;
  keys: number;
  /** Keys with an expiry (INFO keyspace `expires`). */
  expires?: number;
  /** INFO keyspace per database (non-empty ones); absent: database 0 has `keys` and `expires`. */
  dbs?: readonly DatabaseKeys[];
  /** Set when the keyspace could not be counted (a cluster partition did not answer). */
  keyspaceError?: string;
  dataDir: string;
  appliedIndex: number;
}

/** Redis's `dbN:keys=…,expires=…,avg_ttl=…` lines, for databases that have keys (FlyDB keeps no TTL average). */
function keyspaceLines(src: InfoSource): [string, string][] {
  if (src.keyspaceError !== undefined) return [["keyspace_error", src.keyspaceError]];
  const dbs = src.dbs ?? [{ db: 0, keys: src.keys, expires: src.expires ?? 0 }];
  return dbs.filter((d) => d.keys > 0).map((d) => [`db${d.db}`, `keys=${d.keys},expires=${d.expires},avg_ttl=0`]);
}

const SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "keyspace"] as const;

export function renderInfo(src: InfoSource, section: string | undefined, now: number): string {
  const mem = process.memoryUsage();
  const uptime = Math.floor((now - src.startedAt) / 1000);
  const body: Record<(typeof SECTIONS)[number], [string, string | number][]> = {
    server: [
      ["redis_version", REDIS_COMPAT_VERSION],
      ["flydb_version", src.version],
      ["redis_mode", "standalone"],
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
      ["blocked_clients", 0],
    ],
    memory: [
      ["used_memory", mem.heapUsed],
      ["used_memory_rss", mem.rss],
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
    ],
    replication: [
      ["role", "master"],
      ["connected_slaves", 0],
    ],
    keyspace: keyspaceLines(src),
  };
  const wanted = section === undefined || section === "default" || section === "all" || section === "everything" ? SECTIONS : SECTIONS.filter((s) => s === section);
  return wanted
    .map((s) => [`# ${s[0]!.toUpperCase()}${s.slice(1)}`, ...body[s].map(([k, v]) => `${k}:${v}`)].join("\r\n"))
    .join("\r\n\r\n") + "\r\n";
}
