// Prometheus metrics of one node. prom-client bundles cleanly into the compiled binary;
// each node gets its own registry so tests can run several in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RaftStats } from "../cluster/raft-stats.ts";
import type { ReadStats } from "../cluster/read-stats.ts";
import type { GossipCounters } from "../gossip/node.ts";
import { SYNCHRONOUS_MODES, type SqliteSynchronous } from "../store/sqlite-sync.ts";
import type { TransportStats } from "../transport/transport.ts";
import { CommandStats, LATENCY_BUCKETS } from "./command-stats.ts";

export class NodeMetrics {
  readonly registry = new Registry();
  readonly commands = new CommandStats();
  readonly connectedClients = new Gauge({
    name: "flydb_connected_clients",
    help: "Client connections open now",
    registers: [this.registry],
  });
  readonly connectionsTotal = new Counter({
    name: "flydb_connections_received_total",
    help: "Client connections accepted since start",
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: "flydb_protocol_errors_total",
    help: "Connections closed for a malformed RESP stream",
    registers: [this.registry],
  });
  readonly keys: Gauge;
  readonly commitLatency = new Histogram({
    name: "flydb_sqlite_commit_duration_seconds",
    help: "Duration of one group-commit transaction on the log database (including fsync)",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly commitBatch = new Histogram({
    name: "flydb_sqlite_commit_batch_ops",
    help: "Ops (log entries) written per group-commit transaction",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });

  /** The whole exposition: prom-client's registry plus the per-command series. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + this.commands.exposition();
  }

  readonly contentType = this.registry.contentType;

  /** keyCount is read at scrape time rather than maintained on every write. */
  constructor(keyCount: () => number) {
    this.keys = new Gauge({
      name: "flydb_keys",
      help: "Live keys in the keyspace",
      registers: [this.registry],
      collect() {
        this.set(keyCount());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: "flydb_process_" });
  }
}

/**
 * flydb_sqlite_synchronous: the PRAGMA synchronous each database's writing connection reports,
 * read from the open connections at scrape time rather than from the fsync setting.
 */
export function registerSqliteSynchronous(m: NodeMetrics, read: () => SqliteSynchronous): void {
  new Gauge({
    name: "flydb_sqlite_synchronous",
    help: "PRAGMA synchronous of the open connection writing each database (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA)",
    labelNames: ["db"],
    registers: [m.registry],
    collect() {
      const modes = read();
      this.set({ db: "raft" }, SYNCHRONOUS_MODES.indexOf(modes.raft));
      this.set({ db: "data" }, SYNCHRONOUS_MODES.indexOf(modes.data));
    },
  });
}

/** What the cluster series read at scrape time; ClusterNode.clusterMetricsSource provides it. */
export interface ClusterMetricsSource {
  readonly raft: RaftStats;
  groups(): readonly { readonly role: string; readonly commit: number; readonly applied: number }[];
  /** Groups hosted here that are quiet (idle: not ticking, not heartbeating). */
  quietGroups(): number;
  gossipMembers(): readonly { readonly state: string }[];
  gossipCounters(): GossipCounters;
  transport(): TransportStats;
  /** Routed reads, sent and served, by routing strategy (src/cluster/read-stats.ts). */
  readonly reads: ReadStats;
}

/** Counters keyed `a\u0000b` (src/cluster/read-stats.ts), exported with two labels. */
function mirrorPairs(
  registry: Registry,
  name: string,
  help: string,
  labels: [string, string],
  read: () => ReadonlyMap<string, number>,
): void {
  new Counter({
    name,
    help,
    labelNames: labels,
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of read()) {
        const [a, b] = k.split("\u0000");
        this.labels(a!, b!).inc(v);
      }
    },
  });
}

/** Counters kept elsewhere as plain numbers: exported as they are at scrape time. */
function mirrorCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function mirrorLabelled(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Record<string, number>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of Object.entries(read())) this.labels(k).inc(v);
    },
  });
}

const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;

/**
 * Raft, gossip and transport series of a cluster member (docs/design/cluster.md). Raft is aggregated over the
 * node's groups or labelled by role only: per-group labels would be hundreds of series per metric.
 */
export function registerClusterMetrics(m: NodeMetrics, src: ClusterMetricsSource): void {
  const registry = m.registry;
  mirrorPairs(
    registry,
    "flydb_reads_served_total",
    "Routed reads this node served, by the routing strategy that chose it and its role in the partition",
    ["strategy", "role"],
    () => src.reads.servedBy,
  );
  mirrorPairs(
    registry,
    "flydb_reads_routed_total",
    "Reads this node's clients made, by routing strategy and the member chosen to serve them (retries included)",
    ["strategy", "target"],
    () => src.reads.sentTo,
  );
  new Gauge({
    name: "flydb_raft_groups",
    help: "Raft groups hosted on this node, by this node's role in them",
    labelNames: ["role"],
    registers: [registry],
    collect() {
      this.reset();
      const roles: Record<string, number> = { leader: 0, follower: 0, candidate: 0 };
      for (const g of src.groups()) roles[g.role] = (roles[g.role] ?? 0) + 1;
      for (const [role, n] of Object.entries(roles)) this.labels(role).set(n);
    },
  });
  new Gauge({
    name: "flydb_raft_quiet_groups",
    help: "Raft groups hosted on this node that are quiet: idle, neither ticking nor heartbeating",
    registers: [registry],
    collect() {
      this.set(src.quietGroups());
    },
  });
  new Gauge({
    name: "flydb_raft_apply_lag_entries",
    help: "Committed but not yet applied entries, summed over this node's groups",
    registers: [registry],
    collect() {
      this.set(src.groups().reduce((n, g) => n + Math.max(0, g.commit - g.applied), 0));
    },
  });
  new Gauge({
    name: "flydb_raft_apply_lag_max_entries",
    help: "Committed but not yet applied entries of this node's most lagging group",
    registers: [registry],
    collect() {
      this.set(src.groups().reduce((n, g) => Math.max(n, g.commit - g.applied), 0));
    },
  });
  mirrorCounter(
    registry,
    "flydb_raft_elections_total",
    "Term changes observed by this node's replicas (an election in that group)",
    () => src.raft.elections,
  );
  mirrorCounter(
    registry,
    "flydb_raft_leader_changes_total",
    "Times a group's known leader moved to another node, as seen by this node",
    () => src.raft.leaderChanges,
  );
  mirrorLabelled(
    registry,
    "flydb_raft_proposals_total",
    "Proposals this node made as leader, by outcome",
    "outcome",
    () => ({
      applied: src.raft.proposals.applied,
      dropped: src.raft.proposals.dropped,
      not_leader: src.raft.proposals.notLeader,
    }),
  );
  mirrorCounter(
    registry,
    "flydb_raft_write_resends_total",
    "Writes this node sent again with the same proposal id after an attempt got no answer or was dropped",
    () => src.raft.writeResends,
  );
  mirrorLabelled(
    registry,
    "flydb_raft_write_copies_total",
    "Copies of an applied write (same proposal id) this node's replicas met: answered from the session record, or refused as settled",
    "outcome",
    () => ({
      duplicate: src.raft.writeCopies.duplicate,
      stale: src.raft.writeCopies.stale,
    }),
  );
  const commit = new Histogram({
    name: "flydb_raft_commit_duration_seconds",
    help: "Time from proposing a write on the partition leader to its being applied there",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  src.raft.onCommitLatency((s) => commit.observe(s));
  // A member's raft.db transactions feed the same histograms as a standalone node's log commits.
  src.raft.onStorageCommit((seconds, entries) => {
    m.commitLatency.observe(seconds);
    m.commitBatch.observe(entries);
  });

  new Gauge({
    name: "flydb_gossip_members",
    help: "Members known to gossip (this node included), by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.reset();
      const counts: Record<string, number> = Object.fromEntries(MEMBER_STATES.map((s) => [s, 0]));
      for (const v of src.gossipMembers()) counts[v.state] = (counts[v.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.labels(state).set(n);
    },
  });
  mirrorLabelled(
    registry,
    "flydb_gossip_packets_dropped_total",
    "Gossip packets dropped, by reason",
    "reason",
    () => src.gossipCounters().dropped,
  );
  mirrorLabelled(registry, "flydb_gossip_bytes_total", "Gossip bytes sent and received", "direction", () => {
    const c = src.gossipCounters();
    return { in: c.bytesIn, out: c.bytesOut };
  });
  mirrorCounter(
    registry,
    "flydb_gossip_send_errors_total",
    "Gossip sends that failed",
    () => src.gossipCounters().sendErrors,
  );

  mirrorLabelled(
    registry,
    "flydb_transport_bytes_total",
    "Bytes on node-to-node transport connections",
    "direction",
    () => {
      const t = src.transport();
      return { in: t.bytesReceived, out: t.bytesSent };
    },
  );
  mirrorLabelled(
    registry,
    "flydb_transport_frames_total",
    "Frames on node-to-node transport connections",
    "direction",
    () => {
      const t = src.transport();
      return { in: t.framesReceived, out: t.framesSent };
    },
  );
  mirrorCounter(
    registry,
    "flydb_transport_reconnects_total",
    "Transport connections re-dialled after a failure",
    () => src.transport().reconnects,
  );
  mirrorCounter(
    registry,
    "flydb_transport_frames_rejected_total",
    "Transport frames dropped: undecodable, unauthenticated, wrong cluster or oversized",
    () => src.transport().rejected,
  );
}

/** Nodes seen on the link that hold another cluster under this cluster's id (src/cluster/foreign-clusters.ts). */
export function registerForeignClusterMetric(m: NodeMetrics, read: () => number): void {
  new Gauge({
    name: "flydb_cluster_foreign_nodes",
    help: "Nodes found on the network holding another cluster with this cluster_id (clusters founded apart; never merged)",
    registers: [m.registry],
    collect() {
      this.set(read());
    },
  });
}

/** mDNS counters of the node's discovery advertiser (and browser, when it runs). */
export function registerDiscoveryMetrics(
  m: NodeMetrics,
  stats: () => { readonly packets: number; readonly malformedPackets: number },
): void {
  mirrorCounter(m.registry, "flydb_discovery_packets_total", "mDNS packets received", () => stats().packets);
  mirrorCounter(
    m.registry,
    "flydb_discovery_packets_malformed_total",
    "mDNS packets dropped as malformed",
    () => stats().malformedPackets,
  );
}
