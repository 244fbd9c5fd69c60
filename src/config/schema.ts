// Every configuration key, its default, and what makes a value valid. One table drives the TOML
// loader, the FLYDB_* environment variables, the CLI flags, `flydb --help` and CONFIG GET, so they
// cannot drift apart.
import type { LogFormat, LogLevel } from "../log.ts";

export type RoutingStrategy = "key-based" | "round-robin" | "least-loaded" | "locality-aware" | "hybrid";
export type ReadConsistency = "linearizable" | "lease" | "stale";
export type FsyncPolicy = "always" | "everysec" | "no";

export interface Config {
  node_id: string;
  bind_addr: string;
  http_addr: string;
  cluster_addr: string;
  raft_addr: string;
  cluster_peers: string[];
  discovery_enabled: boolean;
  discovery_cluster_id: string;
  discovery_interface: string;
  routing_strategy: RoutingStrategy;
  replication_factor: number;
  partition_count: number;
  databases: number;
  data_dir: string;
  advertise_addr: string;
  zone: string;
  bootstrap: boolean;
  bootstrap_expect: number;
  read_consistency: ReadConsistency;
  fsync: FsyncPolicy;
  requirepass: string;
  cluster_secret: string;
  cluster_secret_accept: string;
  http_auth_token: string;
  protected_mode: boolean;
  aclfile: string;
  tls_port: number;
  tls_cert_file: string;
  tls_key_file: string;
  tls_ca_cert_file: string;
  tls_auth_clients: "no" | "optional" | "yes";
  tls_protocols: string[];
  tls_http: boolean;
  tls_cluster: boolean;
  redis_cluster_mode: boolean;
  /** Milliseconds; written in config as a duration such as "5m" or "90s". */
  dead_node_timeout: number;
  log_level: LogLevel;
  log_format: LogFormat;
  proto_max_bulk_len: number;
  maxclients: number;
  /** Seconds a client may stay idle before the node closes its connection (0: never). */
  timeout: number;
  notify_keyspace_events: string;
  tracking_table_max_keys: number;
  slowlog_log_slower_than: number;
  slowlog_max_len: number;
  latency_monitor_threshold: number;
  busy_reply_threshold: number;
  hash_max_listpack_entries: number;
  hash_max_listpack_value: number;
  set_max_intset_entries: number;
  zset_max_listpack_entries: number;
  zset_max_listpack_value: number;
  list_max_listpack_size: number;
  list_compress_depth: number;
  hll_sparse_max_bytes: number;
  stream_node_max_entries: number;
  stream_node_max_bytes: number;
  /** Redis's "<hard> <soft> <soft seconds>" for clients with pub/sub pushes; see parseOutputLimit. */
  client_output_buffer_limit_pubsub: string;
}

export type ConfigKey = keyof Config;

/** Thrown for any bad key or value; the message is the one line printed before exit code 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Kind = "string" | "addr" | "bool" | "int" | "enum" | "list" | "words" | "duration" | "bytes";

export interface KeySpec {
  readonly kind: Kind;
  readonly help: string;
  /** Default; node_id's default (the host name) is filled in by the loader. */
  readonly def: Config[ConfigKey];
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Extra rule beyond the kind; returns what is allowed when the value breaks it. */
  readonly rule?: (v: never) => string | undefined;
  /** Never printed (CONFIG GET, logs, /cluster/status). */
  readonly secret?: boolean;
}

/** Size suffixes as Redis's memtoull reads them (k = 1000, kb = 1024, …). */
export const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1e6,
  mb: 1024 ** 2,
  g: 1e9,
  gb: 1024 ** 3,
};

/** Unsent pushed bytes past `hard`, or past `soft` for `softSeconds` on end, close the client (0: no limit). */
export interface OutputLimit {
  readonly hard: number;
  readonly soft: number;
  readonly softSeconds: number;
}

/** "32mb 8mb 60" (Redis's client-output-buffer-limit for one class), or undefined when malformed. */
export function parseOutputLimit(text: string): OutputLimit | undefined {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 3) return undefined;
  const sizes = parts.slice(0, 2).map((p) => {
    const m = /^(\d+)([a-z]*)$/i.exec(p);
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    return m && unit ? Number(m[1]) * unit : NaN;
  });
  const softSeconds = /^\d+$/.test(parts[2]!) ? Number(parts[2]) : NaN;
  if (!sizes.every(Number.isSafeInteger) || !Number.isSafeInteger(softSeconds)) return undefined;
  return { hard: sizes[0]!, soft: sizes[1]!, softSeconds };
}

/** Largest integer a number holds exactly: the cap of Redis's long long parameters here. */
const MAX_INT = Number.MAX_SAFE_INTEGER;
const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const SCHEMA: { readonly [K in ConfigKey]: KeySpec } = {
  node_id: {
    kind: "string",
    def: "",
    help: "unique, never reused name of this node (default: the host name)",
    rule: (v: string) =>
      NODE_ID.test(v)
        ? undefined
        : "1-63 characters of letters, digits, '.', '_', '-', starting with a letter or digit",
  },
  bind_addr: { kind: "addr", def: ":6380", help: "Redis protocol listen address [host]:port" },
  http_addr: { kind: "addr", def: ":8080", help: "HTTP API listen address [host]:port" },
  cluster_addr: { kind: "addr", def: ":7946", help: "gossip (SWIM) listen address [host]:port, UDP and TCP" },
  raft_addr: { kind: "addr", def: ":7947", help: "Raft transport listen address [host]:port" },
  cluster_peers: {
    kind: "list",
    def: [],
    help: "gossip addresses of existing members to join (comma or space separated)",
  },
  discovery_enabled: { kind: "bool", def: false, help: "advertise and find nodes with mDNS (_flydb._tcp.local)" },
  discovery_cluster_id: {
    kind: "string",
    def: "flydb",
    help: "cluster id advertised in mDNS; only nodes with the same id are joined",
  },
  discovery_interface: {
    kind: "string",
    def: "",
    help: "network interface name or IPv4 address for mDNS (default: all multicast interfaces)",
  },
  routing_strategy: {
    kind: "enum",
    def: "key-based",
    choices: ["key-based", "round-robin", "least-loaded", "locality-aware", "hybrid"],
    help: "which replica serves a read (writes always go to the partition leader): key-based: the leader; round-robin: the partition's live replicas in turn; least-loaded: the replica with the lowest gossiped load (requests served per second, smoothed); locality-aware: this node when it holds a replica, else one in its zone, else the lowest gossip RTT; hybrid: least-loaded among the replicas of this node's zone (else the nearest), skipping one more than 1000 entries behind. A follower serves under read_consistency like the leader: ReadIndex to the leader, then wait for apply (docs/API.md, Read routing); CONFIG SET routing-strategy changes it on this node, CLIENT ROUTING for one connection's reads",
  },
  replication_factor: {
    kind: "int",
    def: 3,
    min: 1,
    max: 7,
    help: "replicas per partition (capped by the number of nodes)",
  },
  partition_count: {
    kind: "int",
    def: 256,
    min: 1,
    max: 16384,
    help: "partitions (Raft groups) the 16384 slots are split into; fixed when data_dir is created, standalone too",
    rule: (v: number) => (isPowerOfTwo(v) ? undefined : "a power of two between 1 and 16384"),
  },
  databases: {
    kind: "int",
    def: 16,
    min: 1,
    max: 65536,
    help: "number of databases (SELECT 0 to databases-1); give every node of a cluster the same value; start-up only",
  },
  data_dir: {
    kind: "string",
    def: "./data",
    help: "directory for raft.db, data.db and flydb-node.json (which fixes the node id, mode and partition_count of the directory)",
  },
  advertise_addr: {
    kind: "string",
    def: "",
    help: "host or IP other nodes and redirected clients use to reach this node (default: detected)",
  },
  zone: {
    kind: "string",
    def: "",
    help: "failure zone (rack, availability zone), advertised in gossip and mDNS: replicas of a partition are spread across zones, and locality-aware and hybrid reads stay in the zone",
  },
  bootstrap: { kind: "bool", def: false, help: "start a new cluster with this node as its only member" },
  bootstrap_expect: {
    kind: "int",
    def: 0,
    min: 0,
    max: 7,
    help: "form a new cluster once this many discovered nodes see each other, all of them voters from the start (0: off)",
  },
  read_consistency: {
    kind: "enum",
    def: "linearizable",
    choices: ["linearizable", "lease", "stale"],
    help: "linearizable: the leader confirms leadership with a quorum (ReadIndex) per read, and a follower that routing picked asks the leader for that index and answers once it has applied it; lease: the same, but the leader answers from its check-quorum lease without a quorum round; stale: a node that holds a replica of the partition answers from it, without a round trip (it may miss recent writes, also this client's own)",
  },
  fsync: {
    kind: "enum",
    def: "always",
    choices: ["always", "everysec", "no"],
    help: "when the log is fsynced: before every acknowledgement, once a second, or never",
  },
  requirepass: { kind: "string", def: "", secret: true, help: "password clients must AUTH with (empty: none)" },
  cluster_secret: {
    kind: "string",
    def: "",
    secret: true,
    help: "shared secret that authenticates and encrypts gossip and Raft traffic (empty: off)",
  },
  cluster_secret_accept: {
    kind: "string",
    def: "",
    secret: true,
    help: "a second secret accepted from other nodes while cluster_secret is rotated (docs/SECURITY.md): this node seals with cluster_secret and accepts either (empty: none)",
  },
  http_auth_token: {
    kind: "string",
    def: "",
    secret: true,
    help: "the operator's bearer token for /cluster/*, /kv and /backup; an ACL user's token is its password (empty: none)",
  },
  protected_mode: {
    kind: "bool",
    def: true,
    help: "without a password for the default user, refuse RESP clients that are not on loopback (as Redis)",
  },
  aclfile: {
    kind: "string",
    def: "",
    help: "file of ACL users (ACL LOAD/SAVE); empty: users are kept in <data_dir>/users.acl after each change",
  },
  tls_port: {
    kind: "int",
    def: 0,
    min: 0,
    max: 65535,
    help: "RESP over TLS on bind_addr's host at this port (0: off)",
  },
  tls_cert_file: { kind: "string", def: "", help: "PEM certificate (chain) of this node for TLS" },
  tls_key_file: { kind: "string", def: "", help: "PEM private key of tls_cert_file" },
  tls_ca_cert_file: { kind: "string", def: "", help: "PEM CA certificates that client certificates must chain to" },
  tls_auth_clients: {
    kind: "enum",
    def: "yes",
    choices: ["no", "optional", "yes"],
    help: "client certificates on the TLS port: not asked for, checked when given, or required (as Redis)",
  },
  tls_protocols: {
    kind: "words",
    def: ["TLSv1.2", "TLSv1.3"],
    choices: ["TLSv1.2", "TLSv1.3"],
    help: "TLS versions the TLS port and HTTPS accept, as Redis's tls-protocols (TLSv1 and TLSv1.1 are not offered)",
  },
  tls_http: { kind: "bool", def: false, help: "serve the HTTP API over HTTPS with tls_cert_file and tls_key_file" },
  tls_cluster: {
    kind: "bool",
    def: false,
    help: "Raft traffic between nodes over mutual TLS: each node presents tls_cert_file and accepts only peers whose certificate chains to tls_ca_cert_file (as Redis's tls-cluster; gossip stays under cluster_secret)",
  },
  redis_cluster_mode: { kind: "bool", def: false, help: "answer -MOVED like Redis Cluster instead of proxying" },
  dead_node_timeout: {
    kind: "duration",
    def: 300_000,
    min: 1_000,
    help: "how long a node may be dead before its replicas are rebuilt elsewhere (e.g. 5m)",
  },
  log_level: { kind: "enum", def: "info", choices: ["debug", "info", "warn", "error"], help: "log verbosity" },
  log_format: { kind: "enum", def: "text", choices: ["text", "json"], help: "log line format" },
  proto_max_bulk_len: {
    kind: "bytes",
    def: 512 * 1024 * 1024,
    min: 1024 * 1024,
    max: 2 ** 32,
    help: "largest accepted bulk string (e.g. 512mb); in a cluster, a write whose arguments take more than 63 MB together (one node-to-node frame) is refused with -ERR write too large for a cluster",
  },
  maxclients: {
    kind: "int",
    def: 10000,
    min: 1,
    max: 1_000_000,
    help: "maximum simultaneous client connections; one more is answered -ERR max number of clients reached as it connects, and closed (with fewer than 32 file descriptors left the node stops accepting until some close)",
  },
  timeout: {
    kind: "int",
    def: 0,
    min: 0,
    max: 2147483647,
    help: "seconds a client may stay idle before its connection is closed (0: never)",
  },
  notify_keyspace_events: {
    kind: "string",
    def: "",
    help: 'keyspace notification classes, as Redis\'s notify-keyspace-events (e.g. "KEA"; empty: off)',
  },
  tracking_table_max_keys: {
    kind: "int",
    def: 1000000,
    min: 0,
    max: MAX_INT,
    help: "keys the client-tracking table holds before it invalidates the oldest (0: no limit)",
  },
  slowlog_log_slower_than: {
    kind: "int",
    def: 10000,
    min: -1,
    max: MAX_INT,
    help: "microseconds a command must take to enter SLOWLOG (0: every command, -1: none)",
  },
  slowlog_max_len: { kind: "int", def: 128, min: 0, max: MAX_INT, help: "entries SLOWLOG keeps" },
  latency_monitor_threshold: {
    kind: "int",
    def: 0,
    min: 0,
    max: MAX_INT,
    help: "milliseconds a command must take to be a LATENCY event (0: off)",
  },
  busy_reply_threshold: {
    kind: "int",
    def: 5000,
    min: 0,
    max: MAX_INT,
    help:
      "Redis's busy-reply-threshold (alias lua-time-limit): milliseconds a script may run before the node's other" +
      " clients get -BUSY and SCRIPT KILL / FUNCTION KILL may end it (a standalone node's scripts that have not" +
      " written; docs/design/scripting.md)",
  },
  hash_max_listpack_entries: {
    kind: "int",
    def: 512,
    min: 0,
    max: MAX_INT,
    help: "OBJECT ENCODING: a hash with more fields is a hashtable",
  },
  hash_max_listpack_value: {
    kind: "int",
    def: 64,
    min: 0,
    max: MAX_INT,
    help: "OBJECT ENCODING: a hash with a longer field or value is a hashtable",
  },
  set_max_intset_entries: {
    kind: "int",
    def: 512,
    min: 0,
    max: MAX_INT,
    help: "OBJECT ENCODING: a set of integers with more members is a hashtable",
  },
  zset_max_listpack_entries: {
    kind: "int",
    def: 128,
    min: 0,
    max: MAX_INT,
    help: "OBJECT ENCODING: a sorted set with more members is a skiplist",
  },
  stream_node_max_entries: {
    kind: "int",
    def: 100,
    min: 0,
    max: MAX_INT,
    help: "entries per stream node: `MAXLEN ~`/`MINID ~` trimming removes whole nodes (0: no limit)",
  },
  stream_node_max_bytes: {
    kind: "bytes",
    def: 4096,
    min: 0,
    max: MAX_INT,
    help: "approximate bytes per stream node (0: no limit)",
  },
  zset_max_listpack_value: {
    kind: "int",
    def: 64,
    min: 0,
    max: MAX_INT,
    help: "OBJECT ENCODING: a sorted set with a longer member is a skiplist",
  },
  list_max_listpack_size: {
    kind: "int",
    def: -2,
    min: -(2 ** 31),
    max: 2 ** 31 - 1,
    help: "quicklist node size, as Redis's list-max-listpack-size (reported only)",
  },
  list_compress_depth: {
    kind: "int",
    def: 0,
    min: 0,
    max: 2 ** 31 - 1,
    help: "quicklist nodes left uncompressed at each end, as Redis's list-compress-depth (reported only)",
  },
  hll_sparse_max_bytes: {
    kind: "int",
    def: 3000,
    min: 0,
    max: MAX_INT,
    help: "largest sparse HyperLogLog representation in bytes",
  },
  client_output_buffer_limit_pubsub: {
    kind: "string",
    def: "32mb 8mb 60",
    help: '"<hard> <soft> <seconds>": drop a subscriber with more unread than hard, or than soft for that long',
    rule: (v: string) => (parseOutputLimit(v) ? undefined : '"<hard> <soft> <seconds>" such as "32mb 8mb 60"'),
  },
};

export const CONFIG_KEYS = Object.keys(SCHEMA) as ConfigKey[];
