// What the RESP sessions and the HTTP API need from the storage side, whether the node stands
// alone (a cluster of one without network: one Raft group for every partition) or is a cluster
// member (multi-raft, routed by partition). Both write through the same replica host.
import { networkInterfaces } from "node:os";
import type { DatabaseKeys, KeyEventsHook, Op } from "./commands/types.ts";
import { COMMANDS } from "./commands/table.ts";
import { lower } from "./commands/util.ts";
import { route } from "./cluster/core/route.ts";
import { groupOf } from "./keyspace/groups.ts";
import type { Backend } from "./commands/session.ts";
import { ConfigError, type Config } from "./config/schema.ts";
import { ClusterNode, type ClusterAddrs } from "./cluster/cluster-node.ts";
import { type BackupSource, clusterBackupSource, standaloneBackupSource } from "./cluster/backup-source.ts";
import { type ForeignClusterNode, startFormation } from "./cluster/formation.ts";
import { admitGrowing, applyStandaloneLog, finishGrowing } from "./cluster/grow.ts";
import { StandaloneHost } from "./cluster/standalone.ts";
import { clusterScriptContext } from "./cluster/script-trial.ts";
import { browse, startAdvertiser, type Advertiser, type DiscoveryLog } from "./discovery/index.ts";
import type { NodeMetrics } from "./http/metrics.ts";
import type { Logger } from "./log.ts";
import { formatHostPort, parseHostPort } from "./net/hostport.ts";
import { readIdentity, writeIdentity } from "./node-identity.ts";
import type { SqliteSynchronous } from "./store/sqlite-sync.ts";
import { wallNow } from "./wall-clock.ts";

export interface DataPlane {
  readonly mode: "standalone" | "cluster";
  readonly read: Backend["read"];
  readonly propose: Backend["propose"];
  /** See Backend.localContext: a standalone node only (a cluster member's copy may be behind its leader's). */
  readonly localContext?: Backend["localContext"];
  /** Live keys this node stores (all of them standalone; its replicas' in a cluster). */
  keyCount(): number;
  /** Live keys with an expiry, for INFO keyspace; a cluster counts the cluster's instead. */
  expiringKeyCount?(): number;
  /** INFO keyspace per database (standalone; a cluster counts through its partitions' leaders). */
  databaseKeys?(): DatabaseKeys[];
  appliedIndex(): number;
  /** PRAGMA synchronous of the raft.db and data.db connections the node writes through. */
  sqliteSynchronous(): SqliteSynchronous;
  ready(): { ready: boolean; reason?: string };
  readonly cluster: ClusterNode | undefined;
  /** Cluster mode: whether this member holds a replica of the one partition `op` writes. */
  readonly replicates?: (op: Op) => boolean;
  /** Other clusters under this cluster's id found on the network (cluster mode; src/cluster/formation.ts). */
  readonly foreignClusters?: () => readonly ForeignClusterNode[];
  /** mDNS packet counters when this node advertises itself (discovery_enabled), for /metrics. */
  readonly discoveryStats?: () => { readonly packets: number; readonly malformedPackets: number };
  stop(graceful: boolean): Promise<void>;
  /** What GET /backup reads (src/http/backup.ts). */
  readonly backup: BackupSource;
  /** SAVE: checkpoints data.db now; absent where the data plane checkpoints on its own only. */
  readonly save?: () => Promise<void>;
}

/**
 * Standalone or cluster member. A data dir remembers what it is, so a cluster member restarted
 * without --peers or --bootstrap rejoins its cluster (and never bootstraps a second one), a
 * cluster member's data is never served under another node id, and no data under another
 * partition count. A standalone data dir started with --bootstrap grows into the founder of a
 * cluster (src/cluster/grow.ts).
 */
export function resolveMode(c: Config): "standalone" | "cluster" {
  const asked =
    c.bootstrap || c.bootstrap_expect > 0 || c.cluster_peers.length > 0 || c.discovery_enabled ? "cluster" : undefined;
  const stored = readIdentity(c.data_dir);
  const id = stored && finishGrowing(c.data_dir, stored);
  if (id) {
    // A standalone node's id is only a label (it defaults to the host name); a cluster member's
    // id is its identity in every Raft group, so it can never change.
    if (id.mode === "cluster" && id.node_id !== c.node_id) {
      throw new ConfigError(
        `data_dir ${c.data_dir} belongs to node ${JSON.stringify(id.node_id)}, not ${JSON.stringify(c.node_id)}; node ids are never reused or changed`,
      );
    }
    if (id.partition_count !== c.partition_count) {
      throw new ConfigError(
        `data_dir ${c.data_dir} was created with partition_count = ${id.partition_count}, not ${c.partition_count}; it cannot change`,
      );
    }
    if (asked === "cluster" && id.mode === "standalone") {
      // Growing into a cluster (src/cluster/grow.ts): flydb-node.json says "cluster" once it founded one.
      admitGrowing(c, id);
      return "cluster";
    }
    return id.mode;
  }
  const mode = asked ?? "standalone";
  writeIdentity(c.data_dir, { node_id: c.node_id, mode, partition_count: c.partition_count });
  return mode;
}

/**
 * A standalone node: a cluster of one with no network (src/cluster/standalone.ts). Opening
 * replays what its log holds beyond data.db before the node listens.
 */
export async function openStandalone(
  config: Config,
  log: Logger,
  metrics: NodeMetrics,
  events?: KeyEventsHook,
): Promise<DataPlane> {
  const host = await StandaloneHost.open(config, log);
  const { replicas } = host;
  // Subscribed only now: nobody could be subscribed to the events of the writes opening replayed.
  if (events) replicas.notifyKeyEvents(events);
  replicas.stats.onStorageCommit((seconds, entries) => {
    metrics.commitLatency.observe(seconds);
    metrics.commitBatch.observe(entries);
  });
  const keyspace = replicas.keyspace;
  return {
    mode: "standalone",
    read: (spec, argv, resp3, db, writeBack) => replicas.runLocal(spec, argv, resp3, db, writeBack),
    localContext: (db, resp3) => {
      const ctx = replicas.localContext(db, resp3);
      return ctx && { ctx };
    },
    propose: (op) => host.propose(op),
    keyCount: () => replicas.keyCount(),
    expiringKeyCount: () => keyspace.countWithExpiry(wallNow()),
    databaseKeys: () => {
      const now = wallNow();
      const out: DatabaseKeys[] = [];
      for (let i = 0, ks = keyspace.database(0); ks; ks = keyspace.database(++i)) {
        const keys = ks.count(now);
        if (keys > 0) out.push({ db: i, keys, expires: ks.countWithExpiry(now) });
      }
      return out;
    },
    appliedIndex: () => host.appliedIndex(),
    sqliteSynchronous: () => replicas.synchronous(),
    ready: () => host.ready(),
    cluster: undefined,
    backup: standaloneBackupSource(config, replicas),
    stop: () => host.stop(),
    save: async () => host.save(),
  };
}

/** The address other nodes and redirected clients should use to reach this host. */
export function advertiseHost(config: Config): string {
  if (config.advertise_addr !== "") return config.advertise_addr;
  for (const addr of [config.raft_addr, config.cluster_addr, config.bind_addr]) {
    const { host } = parseHostPort(addr, "");
    if (host !== "" && host !== "0.0.0.0" && host !== "::") return host;
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/**
 * A cluster member: the cluster node, the formation loop (bootstrap_expect, auto-join, metadata
 * checks), and with discovery_enabled the mDNS advertiser for the node's whole life. `onFatal`
 * is called when this node must not serve the cluster it found (the caller exits with status 2).
 */
export async function openCluster(
  config: Config,
  log: Logger,
  version: string,
  ports: { resp: number; http: number },
  onFatal: (message: string) => void,
): Promise<DataPlane> {
  await applyStandaloneLog(config, log);
  const host = advertiseHost(config);
  const raft = parseHostPort(config.raft_addr);
  const gossip = parseHostPort(config.cluster_addr);
  const addrs: ClusterAddrs = {
    resp: formatHostPort(host, ports.resp),
    http: formatHostPort(host, ports.http),
    raft: formatHostPort(host, raft.port),
    gossip: formatHostPort(host, gossip.port),
  };
  const bind = { raft, gossip: formatHostPort(gossip.host, gossip.port) };
  const node = await ClusterNode.start(config, log, addrs, bind, version);
  const discoveryLog: DiscoveryLog = (level, msg, fields) =>
    log[level === "warn" && isLateUnicastRefusal(fields) ? "debug" : level](msg, fields);
  const iface = config.discovery_interface || undefined;
  let advertiser: Advertiser | undefined;
  if (config.discovery_enabled) {
    try {
      advertiser = await startAdvertiser({
        nodeId: config.node_id,
        clusterId: config.discovery_cluster_id,
        version,
        zone: config.zone,
        ports: { resp: ports.resp, http: ports.http, gossip: gossip.port, raft: raft.port },
        interface: iface,
        // The node id, unique in a cluster, names the mDNS host too: nodes sharing a host name
        // (containers, network namespaces) never have to resolve a conflict.
        host: config.node_id,
        log: discoveryLog,
      });
    } catch (e) {
      await node.stop(false);
      throw e;
    }
  }
  const formation = startFormation({
    config,
    log,
    node,
    onFatal,
    browse: config.discovery_enabled
      ? (stopWhen) =>
          browse({
            timeoutMs: BROWSE_MS,
            clusterId: config.discovery_cluster_id,
            interface: iface,
            log: discoveryLog,
            stopWhen: (nodes) => stopWhen(nodes.length),
          })
      : undefined,
  });
  return {
    mode: "cluster",
    read: (spec, argv, resp3, db, _writeBack, routing) => node.read(spec, argv, resp3, db, routing),
    propose: (op) => node.propose(op),
    localContext: (db, resp3, argv) =>
      clusterScriptContext(node.replicas, node.self, config.partition_count, db, resp3, argv),
    keyCount: () => node.keyCount(),
    appliedIndex: () => node.appliedIndex(),
    sqliteSynchronous: () => node.sqliteSynchronous(),
    ready: () => node.ready(),
    cluster: node,
    replicates: (op) => {
      const grp = opGroup(op, node.meta().partitionCount || config.partition_count);
      return grp !== undefined && node.replicas.raft.has(grp);
    },
    backup: clusterBackupSource(config, node),
    foreignClusters: () => formation.foreignClusters(),
    discoveryStats: advertiser ? () => advertiser.stats() : undefined,
    async stop(graceful) {
      formation.stop();
      await advertiser?.stop().catch((e: unknown) => log.warn("mDNS goodbye failed", { error: String(e) }));
      await formation.done;
      await node.stop(graceful);
    },
  };
}

/**
 * A browse's one-shot query socket closes as soon as it has seen enough; answers still on their
 * way then bounce (ICMP port unreachable) and surface as ECONNREFUSED on the responder's socket.
 * Harmless and frequent while forming, so not worth a warning.
 */
function isLateUnicastRefusal(fields: Record<string, unknown> | undefined): boolean {
  return typeof fields?.error === "string" && fields.error.includes("ECONNREFUSED");
}

/** One discovery browse; rounds repeat with back-off until the node holds cluster state. */
const BROWSE_MS = 1_000;

/** The Raft group of the one partition `op` writes; undefined when it writes none or several. */
function opGroup(op: Op, partitionCount: number): number | undefined {
  let partition: number | undefined;
  for (const argv of op.cmds) {
    const spec = COMMANDS.get(lower(argv[0]!));
    if (!spec || spec.name === "select") continue;
    const r = route(spec, argv, partitionCount);
    if (r.kind === "keyless") continue;
    if (r.kind !== "partition" || (partition !== undefined && partition !== r.partition)) return undefined;
    partition = r.partition;
  }
  return partition === undefined ? undefined : groupOf(partition);
}
