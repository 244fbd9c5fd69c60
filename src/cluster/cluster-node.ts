// A cluster member, wired: its replicas (replica-host.ts), network (Raft transport, gossip), request
// router (router.ts), membership and placement controller (controller.ts), Redis Cluster view
// (redis-view.ts), status (status.ts) and event log (event-log.ts). Here: start and stop, the timers,
// Raft intake, the request server and founding. Other modules see it through the narrow interfaces
// they declare (FormationHost, Drainable, ...), which it satisfies structurally, importing no layer above.
import type { ClusterView, KeyEventsHook, Op } from "../commands/types.ts";
import type { Config } from "../config/schema.ts";
import { deriveClusterKey } from "../gossip/cipher.ts";
import { GossipNode, type MemberView } from "../gossip/index.ts";
import type { Logger } from "../log.ts";
import type { NodeId } from "../raft/types.ts";
import type { Reply } from "../resp/reply.ts";
import type { SqliteSynchronous } from "../store/sqlite-sync.ts";
import { transportSecurity } from "../transport/cluster-tls.ts";
import { PeerUnreachable, Transport } from "../transport/transport.ts";
import { Controller, peerViews } from "./controller.ts";
import { foundCluster, foundPartitions, type Founder } from "./founding.ts";
import { raftMessagesOf } from "./core/heartbeats.ts";
import type { KnownNode } from "./core/formation.ts";
import type { MemberInfo, MetaState } from "./core/meta.ts";
import { dataDirId } from "../node-identity.ts";
import { isClusterGroup } from "../keyspace/groups.ts";
import { ProposalIds } from "../keyspace/sessions.ts";
import type { RaftStats } from "./raft-stats.ts";
import { isPublished, type Published, PubSubRelay } from "./pubsub-relay.ts";
import { ClusterEventLogger } from "./event-log.ts";
import { clusterMetricsSource } from "./metrics-source.ts";
import { redisClusterView } from "./redis-view.ts";
import { holdsClusterState, ReplicaHost } from "./replica-host.ts";
import { type Routed, Router } from "./router.ts";
import { ReadRouting } from "./read-routing.ts";
import { type GroupStatus, MemberStatus } from "./status.ts";

const CONTROL_MS = 500;

export interface ClusterAddrs {
  readonly resp: string;
  readonly http: string;
  readonly raft: string;
  readonly gossip: string;
}

/**
 * What the request server answers. `claim`: the sender (as the transport's handshake names it)
 * asks this node to promise to found a cluster with it (src/cluster/formation.ts).
 */
type Request = Routed | { readonly t: "groups" } | { readonly t: "formation"; readonly claim?: boolean } | Published;

export class ClusterNode {
  private readonly founder: Founder;
  private readonly router: Router;
  /** How reads pick a replica: routing_strategy, with the load, zones and RTTs it needs. */
  private readonly reads: ReadRouting;
  private readonly controller: Controller;
  private readonly status: MemberStatus;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  readonly self: NodeId;
  private stopped = false;
  /**
   * Whether a Raft message may open a group this node does not host. Not while this node holds no
   * cluster state until formation has seen its id new to the cluster (FormationHost.acceptGroups):
   * a wiped member's empty vote record must never answer a vote request.
   */
  private groupsAccepted = false;
  /** Answers other nodes' formation probes and claims (src/cluster/formation.ts registers it). */
  private formationProbe: ((claim: string | undefined) => unknown) | undefined;
  /** The cluster as Redis Cluster clients see it (CLUSTER SLOTS/NODES, -MOVED). */
  readonly view: ClusterView;
  readonly raftStats: RaftStats;
  /** How this node's sessions publish beyond it, and what other members publish here. */
  readonly pubsub: PubSubRelay;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly addrs: ClusterAddrs,
    private readonly version: string,
    private readonly dataDirId: string,
    readonly transport: Transport,
    readonly gossip: GossipNode,
    readonly replicas: ReplicaHost,
  ) {
    const self = config.node_id;
    this.self = self;
    this.founder = { config, log, replicas: this.replicas };
    const raft = this.replicas.raft;
    this.raftStats = this.replicas.stats;
    const meta = () => this.replicas.meta();
    this.reads = ReadRouting.forNode(config, meta, this.gossip, raft);
    this.router = new Router({
      self,
      partitionCount: config.partition_count,
      readConsistency: config.read_consistency,
      raft,
      stats: this.raftStats,
      ids: new ProposalIds(self, this.replicas.newProposalSession()),
      runLocal: (spec, argv, resp3, db) => this.replicas.runLocal(spec, argv, resp3, db),
      meta,
      alive: (id) => this.alive(id),
      request: (to, body, timeoutMs) => this.request(to, body, timeoutMs),
      stopped: () => this.stopped,
      ...this.reads.routerDeps(),
    });
    this.controller = new Controller({
      self,
      deadNodeTimeout: config.dead_node_timeout,
      log,
      raft,
      meta,
      selfInfo: () => this.selfInfo(),
      peers: () => peerViews(this.gossip.members()),
      alive: (id) => this.alive(id),
      dropGroup: (grp) => this.replicas.dropGroup(grp),
      foundPartitions: () => foundPartitions(this.founder),
    });
    this.status = new MemberStatus({
      self,
      raft,
      meta,
      alive: (id) => this.alive(id),
      askGroups: async (m) =>
        (await this.transport.request(m.id, m.addrs.raft, { t: "groups" }, 1000)) as GroupStatus[],
    });
    this.view = redisClusterView({
      self,
      partitionCount: config.partition_count,
      meta,
      believedLeader: (p) => this.router.believedLeader(p),
      alive: (id) => this.alive(id),
      ready: () => this.ready().ready,
    });
    this.pubsub = new PubSubRelay({
      self,
      members: () => this.gossip.members(),
      send: (to, addr, body) => this.transport.send(to, addr, body),
      request: (to, body, timeoutMs) => this.request(to, body, timeoutMs),
      partitionCount: () => this.meta().partitionCount || config.partition_count,
      believedLeader: (p) => this.router.believedLeader(p),
    });
  }

  static async start(
    config: Config,
    log: Logger,
    addrs: ClusterAddrs,
    bind: { raft: { host: string; port: number }; gossip: string },
    version: string,
  ): Promise<ClusterNode> {
    let node: ClusterNode | undefined;
    const clusterId = config.discovery_cluster_id;
    const dataDir = dataDirId(config.data_dir, !holdsClusterState(config.data_dir));
    const transport = Transport.listen({
      nodeId: config.node_id,
      clusterId,
      host: bind.raft.host,
      port: bind.raft.port,
      ...transportSecurity(config, (secret) => deriveClusterKey(secret, "transport")),
      onRefused: (line) => log.warn(`transport: ${line}`),
      onMessage: (from, m) => node?.onMessage(from, m),
      onPeerLost: (peer) => node?.replicas.raft.wakeNode(peer),
      onRequest: async (from, body) => {
        if (!node) throw new Error("node is starting");
        return node.onRequest(from, body as Request);
      },
      onError: (what, e) => log.debug(`transport: ${what}`, { error: String(e) }),
    });
    const gossip = new GossipNode({
      nodeId: config.node_id,
      clusterId,
      bindAddr: bind.gossip,
      advertiseAddr: addrs.gossip,
      meta: {
        respAddr: addrs.resp,
        httpAddr: addrs.http,
        raftAddr: addrs.raft,
        zone: config.zone,
        version,
        dataDirId: dataDir,
      },
      seeds: config.cluster_peers,
      secret: config.cluster_secret || undefined,
      acceptSecrets: config.cluster_secret_accept === "" ? [] : [config.cluster_secret_accept],
      onRefused: (line) => log.warn(`gossip: ${line}`),
    });
    // A member back from the dead (a healed partition) is dialled afresh: see Transport.redial.
    gossip.on("joined", (e) => transport.redial(e.member.id));
    // The replicas' callbacks run only once groups open (openExisting below), when `node` is set.
    const replicas = await ReplicaHost.open({
      config,
      log,
      send: (m) => {
        const addr = node?.raftAddrOf(m.to);
        if (addr) transport.send(m.to, addr, m);
      },
      alive: (id) => node?.alive(id) ?? false,
      onLeader: (grp, leader) => node?.router.learnLeader(grp, leader),
    });
    node = new ClusterNode(config, log, addrs, version, dataDir, transport, gossip, replicas);
    await gossip.start();
    node.openExisting();
    node.replicas.start();
    node.timers.push(setInterval(() => node!.stopped || node!.controller.tick(Date.now()), CONTROL_MS));
    node.timers.push(node.reads.sampleEvery());
    const events = new ClusterEventLogger({ config, log, replicas, gossip, router: node.router });
    node.timers.push(setInterval(() => events.observe(Date.now()), 4 * CONTROL_MS));
    return node;
  }

  /** Keyspace notifications of the partitions this node replicates (src/pubsub/keyspace-events.ts). */
  notifyKeyEvents(events: KeyEventsHook): void {
    this.replicas.notifyKeyEvents(events);
  }

  meta(): MetaState {
    return this.replicas.meta();
  }

  /** Reopens the groups this node held before a restart; bootstraps a new cluster when asked. */
  private openExisting(): void {
    if (this.replicas.reopen() > 0) return;
    if (this.config.bootstrap) this.bootstrapNew([this.selfInfo()]);
    else this.log.info("waiting to be admitted to a cluster", { peers: this.config.cluster_peers.join(",") });
  }

  /** Whether this node holds any cluster state (a group of a cluster it founded or joined). */
  holdsState(): boolean {
    return this.replicas.holdsGroups();
  }

  /** Node ids the cluster may still count a vote of: metadata members and the voters of hosted groups. */
  identities(): readonly KnownNode[] {
    return this.status.identities();
  }

  acceptGroups(): void {
    this.groupsAccepted = true;
  }

  /** Founds a new cluster whose members are `founders`, this node among them (founding.ts). */
  bootstrapNew(founders: readonly MemberInfo[]): void {
    foundCluster(this.founder, founders);
  }

  /** This node as a member of the metadata. */
  selfInfo(): MemberInfo {
    const { zone } = this.config;
    return { id: this.self, zone, addrs: this.addrs, version: this.version, dataDirId: this.dataDirId };
  }

  private onMessage(from: NodeId, x: unknown): void {
    if (isPublished(x)) return void this.pubsub.deliver(x);
    const r = raftMessagesOf(x);
    if ("problem" in r) {
      this.log.debug("dropped a malformed message on the Raft port", { from, problem: r.problem });
      return;
    }
    const raft = this.replicas.raft;
    for (const m of r.messages) {
      // A replica being added learns of its group from the leader's first message.
      if (!raft.has(m.grp)) {
        if (!isClusterGroup(m.grp, this.config.partition_count)) continue;
        if (!this.groupsAccepted && !this.holdsState()) continue;
        raft.open(m.grp);
      }
      raft.step(m, r.quiet.has(m.grp));
    }
  }

  private async onRequest(from: NodeId, body: Request): Promise<unknown> {
    if (body.t === "groups") return this.groupStatuses();
    if (body.t === "publish") return isPublished(body) ? this.pubsub.deliver(body) : 0;
    if (body.t === "formation") {
      if (!this.formationProbe) throw new Error("node is starting");
      return this.formationProbe(body.claim === true ? from : undefined);
    }
    return this.router.serve(body);
  }

  // The network: who is up, where a member's Raft port is, and requests to it.

  private raftAddrOf(id: NodeId): string | undefined {
    return this.meta().members[id]?.addrs.raft ?? this.gossip.member(id)?.meta.raftAddr;
  }

  /** Whether gossip sees a member up (this node always is). */
  alive(id: NodeId): boolean {
    return id === this.self || this.gossip.member(id)?.state === "alive";
  }

  private request(to: NodeId, body: Request, timeoutMs: number): Promise<unknown> {
    const addr = this.raftAddrOf(to);
    if (!addr) return Promise.reject(new PeerUnreachable(`no Raft address known for ${to}`));
    return this.transport.request(to, addr, body, timeoutMs);
  }

  /** Every member gossip knows, this node included. */
  gossipMembers(): readonly MemberView[] {
    return this.gossip.members();
  }

  /** The address other members gossip with this node at. */
  get gossipAddr(): string {
    return this.gossip.addr;
  }

  /** Push-pull with more gossip addresses (POST /cluster/join, formation). */
  join(seeds: readonly string[]): void {
    this.gossip.join(seeds);
  }

  /** Asks another node's formation state, or claims it as a founder (src/cluster/formation.ts). */
  askFormation(nodeId: NodeId, raftAddr: string, claim: boolean, timeoutMs: number): Promise<unknown> {
    return this.transport.request(nodeId, raftAddr, { t: "formation", claim }, timeoutMs);
  }

  /** How this node answers formation probes and claims; until registered, it answers "starting". */
  answerFormationProbes(answer: (claim: string | undefined) => unknown): void {
    this.formationProbe = answer;
  }

  // The data plane: routed reads and writes.

  /** Backend.read for sessions. */
  read(...args: Parameters<Router["read"]>): ReturnType<Router["read"]> {
    return this.router.read(...args);
  }

  /** Backend.propose for sessions. */
  propose(op: Op): Promise<Reply> {
    return this.router.propose(op);
  }

  /** Marks this node as leaving (or not) through the metadata leader; see POST /cluster/leave. */
  setDraining(draining: boolean): Promise<Reply> {
    return this.router.setDraining(draining);
  }

  /** See Router.setAclUsers; the users are in meta().aclUsers once applied. */
  setAclUsers(users: readonly string[], ifVersion: number): Promise<Reply> {
    return this.router.setAclUsers(users, ifVersion);
  }

  /**
   * Removes another member from the metadata; see POST /cluster/remove (remove.ts). Retires its
   * data dir id and the one gossip shows for the id (a refused start's, which is never alive here:
   * remove.ts refuses an alive node), so neither is admitted again (core/meta.ts `retired`).
   */
  removeMember(id: NodeId): Promise<Reply> {
    const seen = this.gossip.member(id)?.meta.dataDirId;
    return this.router.removeMember(id, seen === undefined ? [] : [seen]);
  }

  /** Live keys and keys with an expiry over the whole cluster, for INFO keyspace. */
  keyspaceTotals(): ReturnType<Router["keyspaceTotals"]> {
    return this.router.keyspaceTotals();
  }

  // Status.

  /** Live keys stored on this node: the rows of every partition it holds a replica of. */
  keyCount(): number {
    return this.replicas.keyCount();
  }

  appliedIndex(): number {
    return this.status.appliedIndex();
  }

  groupStatuses(): GroupStatus[] {
    return this.status.groupStatuses();
  }

  ready(): { ready: boolean; reason?: string } {
    return this.status.ready();
  }

  clusterGroups(): Promise<Map<NodeId, GroupStatus[]>> {
    return this.status.clusterGroups();
  }

  /** PRAGMA synchronous of this member's raft.db and data.db connections. */
  sqliteSynchronous(): SqliteSynchronous {
    return this.replicas.synchronous();
  }

  /** What the cluster series of /metrics read at scrape time (ClusterMetricsSource in src/http/metrics.ts). */
  clusterMetricsSource(): ReturnType<typeof clusterMetricsSource> {
    return clusterMetricsSource(this.raftStats, this.replicas.raft, this.gossip, this.transport, this.reads.stats);
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.replicas.stop();
    if (graceful) await this.gossip.leave().catch(() => {});
    else await this.gossip.stop();
    this.transport.close();
    await this.replicas.close();
  }
}
