// A cluster member (DESIGN §3–§9): Raft groups on SQLite, the transport, gossip, and the
// controller that admits members, places partitions and moves replicas. The RESP session talks
// to it through `read` and `propose`, which route every command to its partition's leader.
import { join } from "node:path";
import { COMMANDS } from "../commands/table.ts";
import type { ClusterNodeRef, ClusterView, CommandSpec, Op, SlotRange } from "../commands/types.ts";
import { lower, utf8 } from "../commands/util.ts";
import type { Config } from "../config/schema.ts";
import { GossipNode, type MemberView } from "../gossip/index.ts";
import { deriveClusterKey, FrameCipher } from "../gossip/cipher.ts";
import type { Logger } from "../log.ts";
import { array, err, int, OK, type Reply } from "../resp/reply.ts";
import { bootstrapWrite, isEmptyGroup } from "../raft/storage.ts";
import type { GroupWrite, NodeId } from "../raft/types.ts";
import { encodeOp } from "../store/op-codec.ts";
import { nextSession } from "../store/proposal-sessions.ts";
import { WorkerRaftStorage } from "../store/worker-raft-storage.ts";
import { StateDb } from "../store/state.ts";
import { PeerUnreachable, RequestTimeout, Transport } from "../transport/transport.ts";
import { drainingOf, groupOf, metaVoters, partitionOfGroup, placeableMembers, type MemberInfo, type MetaOp, type MetaResult, type MetaState } from "./core/meta.ts";
import type { GroupReport } from "./core/group-view.ts";
import { raftMessagesOf } from "./core/heartbeats.ts";
import { MultiRaft, NotLeader, ProposalDropped } from "./core/multiraft.ts";
import { place, type PartitionMap } from "./core/placement.ts";
import { recordBootstrap } from "../node-identity.ts";
import { nextStep } from "./core/reconcile.ts";
import { route, SPLITTABLE } from "./core/route.ts";
import { partitionOf, SLOT_COUNT } from "./core/slot.ts";
import { keylessRead, keylessWrite, keyspaceTotals, type PartitionRunner } from "./fanout.ts";
import { RaftStats } from "./raft-stats.ts";
import { proposalKey, ProposalIds, type ProposalId } from "./core/sessions.ts";
import { ClusterStateMachine, encodeMetaOp, META_GROUP } from "./state-machine.ts";

/** Raft tick: election timeout 11–20 ticks (0.55–1 s), heartbeat every 2 ticks (100 ms). */
export const TICK_MS = 50;
const CONTROL_MS = 500;
const COMPACT_MS = 10_000;
const COMPACT_AFTER_ENTRIES = 2_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** A write attempt without an answer by then is sent again (same id) until REQUEST_TIMEOUT_MS. */
const WRITE_ATTEMPT_MS = 1_000;
const ORPHAN_MS = 10_000;
const MAX_META_VOTERS = 5;

export interface ClusterAddrs {
  readonly resp: string;
  readonly http: string;
  readonly raft: string;
  readonly gossip: string;
}

type Routed =
  | { readonly t: "op"; readonly grp: number; readonly op: Op; readonly id?: ProposalId }
  | { readonly t: "read"; readonly grp: number; readonly argv: readonly Uint8Array[]; readonly resp3?: boolean }
  | { readonly t: "meta"; readonly grp: typeof META_GROUP; readonly op: MetaOp };

/** `claim`: the sender (as the transport's handshake names it) asks this node to promise to found a cluster with it (src/cluster/formation.ts). */
type Forward = Routed | { readonly t: "groups" } | { readonly t: "formation"; readonly claim?: boolean };

/** `dropped`: the proposal was replaced by another leader's entry, so it was not applied. */
type ForwardResult = { readonly reply: Reply } | { readonly notLeader: NodeId | null } | { readonly dropped: string };

/** What a member reports of each group it hosts (for /cluster/status and the leave drain). */
export interface GroupStatus extends GroupReport {
  readonly applied: number;
}

const TRYAGAIN = (why: string): Reply => err(`TRYAGAIN ${why}`);

export class ClusterNode {
  readonly host: MultiRaft;
  readonly machine: ClusterStateMachine;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  /** Last known leader per group, learned from NotLeader answers; saves a hop next time. */
  private readonly leaderHints = new Map<number, NodeId>();
  /** Since when a hosted partition group outside this node's map entry has had no leader. */
  private readonly orphanSince = new Map<number, number>();
  /** When gossip first reported a member dead, for dead_node_timeout. */
  private readonly deadSince = new Map<NodeId, number>();
  private stopped = false;
  readonly view: ClusterView;
  readonly raftStats = new RaftStats();
  /** Keyless commands reach every partition's leader through this (fanout.ts). */
  private readonly partitions: PartitionRunner;
  /** Answers other nodes' formation probes and claims (set by src/cluster/formation.ts). */
  formationProbe: ((claim: string | undefined) => unknown) | undefined;
  /** Ids of the writes this node proposes, in this incarnation's session. */
  private readonly ids: ProposalIds;
  /** Writes proposed here as leader and not yet settled, by proposal id: a copy waits for them. */
  private readonly pendingWrites = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly addrs: ClusterAddrs,
    private readonly version: string,
    private readonly storage: WorkerRaftStorage,
    private readonly state: StateDb,
    readonly transport: Transport,
    readonly gossip: GossipNode,
  ) {
    this.machine = new ClusterStateMachine(state, this.raftStats.writeCopies);
    this.ids = new ProposalIds(config.node_id, nextSession(state.db, Date.now()));
    this.view = this.makeView();
    this.partitions = {
      partitionCount: config.partition_count,
      read: (p, argv) => this.forward({ t: "read", grp: groupOf(p), argv }),
      write: (p, op) => this.forward({ t: "op", grp: groupOf(p), op }),
    };
    this.host = new MultiRaft({
      nodeId: config.node_id,
      storage,
      stateMachine: this.machine,
      random: Math.random,
      // setImmediate, not a microtask: proposals from every connection read in this event-loop
      // turn must share one storage transaction (one fsync), as in the standalone store.
      schedule: setImmediate,
      raft: { electionTicks: 10, heartbeatTicks: 2, readMode: config.read_consistency === "lease" ? "lease" : "safe" },
      // Idle groups go quiet; their followers wake when gossip stops calling the leader alive or
      // the transport loses its connection to it. Not with lease reads: a quiet leader's clock stops.
      quiesce: config.read_consistency === "lease" ? undefined : { alive: (id) => this.alive(id) },
      send: (m) => {
        const addr = this.raftAddrOf(m.to);
        if (addr) this.transport.send(m.to, addr, m);
      },
      onFailure: (e) => {
        if (this.stopped) return;
        this.log.error("the Raft host stopped: this node no longer serves its groups", { error: e.message });
      },
      onLeaderChange: (grp, leader, term) => {
        if (leader) this.leaderHints.set(grp, leader);
        this.raftStats.leader(grp, leader, term);
        this.log.debug("leader change", { grp, leader, term });
      },
    });
  }

  static async start(config: Config, log: Logger, addrs: ClusterAddrs, bind: { raft: { host: string; port: number }; gossip: string }, version: string): Promise<ClusterNode> {
    let node: ClusterNode | undefined;
    const storage = await WorkerRaftStorage.open(join(config.data_dir, "raft.db"), config.fsync, {
      onCommit: (seconds, entries) => node?.raftStats.storageCommitted(seconds, entries),
      onError: (e) => log.error("raft.db write failed", { error: e.message }),
    });
    const state = StateDb.open({ path: join(config.data_dir, "data.db"), partitionCount: config.partition_count });
    const clusterId = config.discovery_cluster_id;
    const sealer = config.cluster_secret ? new FrameCipher(deriveClusterKey(config.cluster_secret, "transport"), `flydb-transport/${clusterId}`) : undefined;
    const transport = Transport.listen({
      nodeId: config.node_id,
      clusterId,
      host: bind.raft.host,
      port: bind.raft.port,
      sealer,
      onMessage: (from, m) => node?.onMessage(from, m),
      onPeerLost: (peer) => node?.host.wakeNode(peer),
      onRequest: async (from, body) => {
        if (!node) throw new Error("node is starting");
        return node.onRequest(from, body as Forward);
      },
      onError: (what, e) => log.debug(`transport: ${what}`, { error: String(e) }),
    });
    const gossip = new GossipNode({
      nodeId: config.node_id,
      clusterId,
      bindAddr: bind.gossip,
      advertiseAddr: addrs.gossip,
      meta: { respAddr: addrs.resp, httpAddr: addrs.http, raftAddr: addrs.raft, zone: config.zone, version },
      seeds: config.cluster_peers,
      secret: config.cluster_secret || undefined,
    });
    node = new ClusterNode(config, log, addrs, version, storage, state, transport, gossip);
    await gossip.start();
    node.openExisting();
    node.timers.push(setInterval(() => node!.host.tick(), TICK_MS));
    node.timers.push(setInterval(() => node!.control(), CONTROL_MS));
    node.timers.push(setInterval(() => node!.compact(), COMPACT_MS));
    return node;
  }

  private get self(): NodeId {
    return this.config.node_id;
  }

  private get meta(): MetaState {
    return this.machine.meta;
  }

  /** Reopens the groups this node held before a restart; bootstraps a new cluster when asked. */
  private openExisting(): void {
    // Group -1 is a standalone node's log: a data dir that ran standalone holds no cluster groups.
    const groups = this.storage.groups().filter((g) => g >= 0 && !isEmptyGroup(this.storage.load(g)));
    if (groups.length === 0 && this.config.bootstrap) return this.bootstrapNew([this.selfInfo()]);
    if (groups.length === 0) this.log.info("waiting to be admitted to a cluster", { peers: this.config.cluster_peers.join(",") });
    for (const g of groups) this.host.open(g);
  }

  /**
   * Founds a new cluster whose members are `founders` (this node among them; one for --bootstrap,
   * `bootstrap_expect` for discovery). Group 0 starts with the founders as voters (up to five, the
   * rest learners) and, committed at index 2, the founding metadata: settings, the founders as
   * members and a partition map over all of them. Only this node writes it; the other founders
   * learn it from the leader's messages. Every founder then founds the partitions that map gives
   * it (`foundPartitions`). Only on an empty Raft state, and once per data dir (flydb-node.json).
   */
  bootstrapNew(founders: readonly MemberInfo[]): void {
    if (this.host.groupIds().length > 0) throw new Error(`node ${this.self} already holds cluster state; it never bootstraps again`);
    const ids = founders.map((m) => m.id).sort();
    if (!ids.includes(this.self)) throw new Error(`node ${this.self} cannot bootstrap a cluster it is not a founder of (${ids.join(", ")})`);
    const map = place({ members: founders.map((m) => ({ id: m.id, zone: m.zone })), partitionCount: this.config.partition_count, replicationFactor: this.config.replication_factor });
    const init: MetaOp = {
      t: "init",
      clusterId: this.config.discovery_cluster_id,
      partitionCount: this.config.partition_count,
      replicationFactor: this.config.replication_factor,
      members: founders,
      map,
    };
    recordBootstrap(this.config.data_dir, new Date());
    const meta = bootstrapWrite(META_GROUP, ids.slice(0, MAX_META_VOTERS), { learners: ids.slice(MAX_META_VOTERS), data: [encodeMetaOp(init)] });
    const own = this.partitionFoundings(map);
    this.storage.saveNow([meta, ...own]);
    this.log.info("bootstrapped a new cluster", { cluster_id: this.config.discovery_cluster_id, partitions: this.config.partition_count, founders: ids.join(",") });
    for (const w of [meta, ...own]) this.host.open(w.grp);
  }

  /** The founding writes of the partitions `map` (the founding map) gives this node that it does not hold yet. */
  private partitionFoundings(map: PartitionMap): GroupWrite[] {
    const writes: GroupWrite[] = [];
    map.forEach((replicas, p) => {
      const g = groupOf(p);
      if (replicas.includes(this.self) && !this.host.has(g) && isEmptyGroup(this.storage.load(g))) writes.push(bootstrapWrite(g, replicas));
    });
    return writes;
  }

  /**
   * A founder opens the partitions of the founding map (map version 1, exactly the init entry's
   * map, so every replica writes the same conf at index 1). A replica that a leader reached first
   * already holds the group, and one that never gets here learns it from the leader's messages.
   */
  private foundPartitions(): void {
    if (this.meta.mapVersion !== 1) return;
    const writes = this.partitionFoundings(this.meta.map);
    if (writes.length === 0) return;
    this.storage.saveNow(writes);
    for (const w of writes) this.host.open(w.grp);
  }

  /** This node as a member of the metadata. */
  selfInfo(): MemberInfo {
    return { id: this.self, zone: this.config.zone, addrs: this.addrs, version: this.version };
  }

  private raftAddrOf(id: NodeId): string | undefined {
    return this.meta.members[id]?.addrs.raft ?? this.gossip.member(id)?.meta.raftAddr;
  }

  private onMessage(from: NodeId, x: unknown): void {
    const r = raftMessagesOf(x);
    if ("problem" in r) {
      this.log.debug("dropped a malformed message on the Raft port", { from, problem: r.problem });
      return;
    }
    for (const m of r.messages) {
      // A replica being added learns of its group from the leader's first message.
      if (!this.host.has(m.grp)) {
        if (m.grp < 0 || m.grp > this.config.partition_count) continue;
        this.host.open(m.grp);
      }
      this.host.step(m, r.quiet.has(m.grp));
    }
  }

  private async onRequest(from: NodeId, body: Forward): Promise<unknown> {
    if (body.t === "groups") return this.groupStatuses();
    if (body.t === "formation") {
      if (!this.formationProbe) throw new Error("node is starting");
      return this.formationProbe(body.claim === true ? from : undefined);
    }
    return this.runHere(body);
  }

  /** Runs a forwarded op or read if this node leads the group; otherwise names the leader. */
  private async runHere(f: Routed): Promise<ForwardResult> {
    const s = this.host.status(f.grp);
    if (s?.role !== "leader") return { notLeader: s?.leader ?? null };
    try {
      if (f.t === "meta") {
        const r = (await this.host.propose(META_GROUP, encodeMetaOp(f.op))) as MetaResult;
        return { reply: r.ok ? OK : err(`ERR ${r.error}`) };
      }
      if (f.t === "op") {
        const started = performance.now();
        const reply = (await this.proposeOnce(f.grp, f.op, f.id)) as Reply;
        this.raftStats.committed((performance.now() - started) / 1000);
        return { reply };
      }
      // "lease" goes through the same barrier: Raft in lease mode answers it without a round trip
      // while the leader's lease holds (check-quorum on).
      if (this.config.read_consistency !== "stale") await this.host.readBarrier(f.grp);
      const spec = COMMANDS.get(lower(f.argv[0]!))!;
      return { reply: spec.run!({ db: this.state.keyspace, now: Date.now(), random: Math.random, resp3: f.resp3 === true }, f.argv) };
    } catch (e) {
      if (e instanceof NotLeader) {
        if (f.t !== "read") this.raftStats.proposals.notLeader++;
        return { notLeader: e.leader };
      }
      if (e instanceof ProposalDropped) {
        this.raftStats.proposals.dropped++;
        if (f.t === "meta") return { reply: TRYAGAIN("the write was dropped by a leader change and not applied; retry") };
        return { dropped: e.message };
      }
      throw e;
    }
  }

  /**
   * Proposes a write, unless a copy of it (same id) is still pending in this leader's log: then
   * the copy waits for that one rather than logging the write again (a slow commit, not a lost
   * write). Once it settles, a later copy is proposed and apply answers it from the session record.
   */
  private proposeOnce(grp: number, op: Op, id: ProposalId | undefined): Promise<unknown> {
    if (!id) return this.host.propose(grp, encodeOp(op));
    const key = proposalKey(id);
    const pending = this.pendingWrites.get(key);
    if (pending) return pending;
    const proposed = this.host.propose(grp, encodeOp(op, id));
    this.pendingWrites.set(key, proposed);
    proposed.then(
      () => this.pendingWrites.delete(key),
      () => this.pendingWrites.delete(key),
    );
    return proposed;
  }

  private alive(id: NodeId): boolean {
    return id === this.self || this.gossip.member(id)?.state === "alive";
  }

  /** Who to ask next: the leader this node knows of, then the partition's live replicas in map order. */
  private pickTarget(grp: number, tried: ReadonlySet<NodeId>): NodeId | undefined {
    const candidates = [this.host.leaderOf(grp), this.leaderHints.get(grp), ...(this.meta.map[partitionOfGroup(grp)] ?? [])];
    return candidates.find((id): id is NodeId => id != null && !tried.has(id) && this.alive(id));
  }

  /** Sends a read or write to the group's leader; a data write gets its proposal id here. */
  private async forward(f: Routed): Promise<Reply> {
    if (f.t !== "op") return this.deliver(f);
    const id = this.ids.next(f.grp);
    try {
      return await this.deliver({ ...f, id });
    } finally {
      this.ids.settle(f.grp, id.seq);
    }
  }

  /**
   * Sends to the group's leader, following redirects and skipping unreachable replicas, until
   * REQUEST_TIMEOUT_MS. A data write that got no answer (timeout, connection lost, proposal
   * dropped) is sent again with the same id, to whichever node leads then: apply answers a copy
   * of a write that did commit from its session record. Only when the deadline passes after an
   * unanswered attempt is the outcome unknown, and the client is told so. A metadata write has
   * no id and is not sent again once it may have reached a node.
   */
  private async deliver(f: Routed): Promise<Reply> {
    const p = f.grp === META_GROUP ? "metadata" : partitionOfGroup(f.grp);
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    const tried = new Set<NodeId>();
    let next: NodeId | undefined;
    /** Why an earlier attempt of this write may have been applied. */
    let unknown: string | undefined;
    while (Date.now() < deadline && !this.stopped) {
      const target = next ?? this.pickTarget(f.grp, tried);
      next = undefined;
      if (!target) {
        // Everyone was asked and nobody leads: an election is running. Ask again shortly.
        await Bun.sleep(TICK_MS);
        tried.clear();
        continue;
      }
      tried.add(target);
      const attemptMs = Math.max(1, f.t === "op" ? Math.min(WRITE_ATTEMPT_MS, deadline - Date.now()) : deadline - Date.now());
      let r: ForwardResult;
      try {
        if (target === this.self) {
          r = await this.local(f, attemptMs);
        } else {
          const addr = this.raftAddrOf(target);
          if (!addr) continue;
          r = (await this.transport.request(target, addr, f, attemptMs)) as ForwardResult;
        }
      } catch (e) {
        if (e instanceof PeerUnreachable || f.t === "read") continue; // nothing changed: asking another replica is safe
        if (f.t === "meta") return TRYAGAIN(`no reply from ${target}, the leader of partition ${p}; the write may or may not have been applied`);
        unknown = (e as Error).message;
        this.raftStats.writeResends++;
        continue;
      }
      if ("reply" in r) {
        this.leaderHints.set(f.grp, target);
        return r.reply;
      }
      if ("dropped" in r) {
        this.raftStats.writeResends++;
        await Bun.sleep(TICK_MS / 2); // a leader change is under way
        continue;
      }
      this.leaderHints.delete(f.grp);
      if (r.notLeader !== null && !tried.has(r.notLeader)) next = r.notLeader;
      else await Bun.sleep(TICK_MS / 2);
    }
    if (unknown !== undefined) {
      return TRYAGAIN(`no answer from the leader of partition ${p} within ${REQUEST_TIMEOUT_MS} ms (last: ${unknown}); the write may or may not have been applied`);
    }
    return err(`CLUSTERDOWN partition ${p} has no reachable leader within ${REQUEST_TIMEOUT_MS} ms`);
  }

  /** runHere on this node, giving up on a write after attemptMs as a remote request would. */
  private local(f: Routed, attemptMs: number): Promise<ForwardResult> {
    if (f.t !== "op") return this.runHere(f);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestTimeout(`the proposal was not applied here within ${attemptMs} ms`)), attemptMs);
    });
    return Promise.race([this.runHere(f), expired]).finally(() => clearTimeout(timer));
  }

  /** Backend.read for sessions. */
  read(spec: CommandSpec, argv: readonly Uint8Array[], resp3 = false): Promise<Reply> | Reply {
    const r = route(spec, argv, this.config.partition_count);
    switch (r.kind) {
      case "keyless":
        return (
          keylessRead(this.partitions, spec, argv, Math.random) ??
          // A command that takes keys but was given none (OBJECT HELP) reads no data: answer here.
          (spec.firstKey > 0
            ? spec.run!({ db: this.state.keyspace, now: Date.now(), random: Math.random, resp3 }, argv)
            : err(`ERR ${spec.name.toUpperCase()} is not supported in cluster mode yet; FlyDB routes commands by key`))
        );
      case "crossslot":
        return err("CROSSSLOT Keys in request don't hash to the same slot");
      case "partition":
        return this.readPartition(r.partition, spec, argv, resp3);
      case "split":
        return this.merge(spec.name, r.parts.map((part) => ({ positions: part.positions, reply: this.readPartition(part.partition, spec, part.argv, resp3) })));
    }
  }

  /** "stale" reads are served by any replica, this one when it holds the partition; others by the leader. */
  private readPartition(p: number, spec: CommandSpec, argv: readonly Uint8Array[], resp3: boolean): Promise<Reply> | Reply {
    const grp = groupOf(p);
    if (this.config.read_consistency === "stale" && this.host.has(grp)) {
      return spec.run!({ db: this.state.keyspace, now: Date.now(), random: Math.random, resp3 }, argv);
    }
    return this.forward({ t: "read", grp, argv, resp3 });
  }

  /** Backend.propose for sessions: the op goes to the leader of its keys' partition. */
  propose(op: Op): Promise<Reply> {
    const argv = op.cmds[0]!;
    const spec = COMMANDS.get(lower(argv[0]!));
    if (!spec) return Promise.resolve(err("ERR unknown command"));
    const routes = op.cmds.map((c) => route(COMMANDS.get(lower(c[0]!))!, c, this.config.partition_count));
    // A transaction is one op on one partition: never split, even with a single command.
    if (op.cmds.length > 1 || op.multi) {
      const parts = new Set(routes.map((r) => (r.kind === "partition" ? r.partition : -1)));
      if (parts.size !== 1 || parts.has(-1)) return Promise.resolve(err("CROSSSLOT Keys in request don't hash to the same slot"));
      return this.forward({ t: "op", grp: groupOf([...parts][0]!), op });
    }
    const r = routes[0]!;
    switch (r.kind) {
      case "keyless":
        return keylessWrite(this.partitions, op) ?? Promise.resolve(err(`ERR ${spec.name.toUpperCase()} is not supported in cluster mode yet; FlyDB routes commands by key`));
      case "crossslot":
        return Promise.resolve(err("CROSSSLOT Keys in request don't hash to the same slot"));
      case "partition":
        return this.forward({ t: "op", grp: groupOf(r.partition), op });
      case "split":
        return Promise.resolve(
          this.merge(spec.name, r.parts.map((part) => ({ positions: part.positions, reply: this.forward({ t: "op", grp: groupOf(part.partition), op: { ...op, cmds: [part.argv] } }) }))),
        );
    }
  }

  /** Recombines the replies of a command split per partition (MGET, DEL, MSET, …). */
  private async merge(name: string, parts: { positions: readonly number[]; reply: Promise<Reply> | Reply }[]): Promise<Reply> {
    const replies = await Promise.all(parts.map((p) => p.reply));
    const failed = replies.find((r) => r.t === "error");
    if (failed) return failed;
    const how = SPLITTABLE[name];
    if (how === "sum") return int(replies.reduce((n, r) => n + Number(r.t === "int" ? r.v : 0), 0));
    if (how === "ok") return OK;
    const total = parts.reduce((n, p) => n + p.positions.length, 0);
    const out: Reply[] = new Array(total);
    parts.forEach((p, i) => {
      const r = replies[i]!;
      if (r.t === "array") p.positions.forEach((pos, j) => (out[pos] = r.v[j]!));
    });
    return array(out);
  }

  /** Every CONTROL_MS: admit and remove members, place partitions, move replicas, expire keys. */
  private control(): void {
    if (this.stopped) return;
    try {
      this.foundPartitions();
      if (this.host.status(META_GROUP)?.role === "leader") this.controlMeta();
      const led = this.host.groupIds().filter((grp) => grp !== META_GROUP && this.host.status(grp)?.role === "leader");
      // One query for expired keys per round, not one per led partition: each is a query over the
      // whole keyspace (an idle node leading ~85 of 256 partitions spent 7% of its CPU time on them).
      const expired = led.length > 0 ? this.expiredByGroup() : new Map<number, Uint8Array[]>();
      for (const grp of led) this.controlPartition(grp, expired.get(grp) ?? []);
      this.dropRemovedReplicas();
    } catch (e) {
      this.log.warn("control loop error", { error: (e as Error).message });
    }
  }

  private proposeMeta(op: MetaOp): void {
    this.host.propose(META_GROUP, encodeMetaOp(op)).catch((e: unknown) => this.log.debug("metadata proposal failed", { op: op.t, error: String(e) }));
  }

  private memberInfo(v: MemberView | undefined, id: NodeId): MemberInfo | undefined {
    if (id === this.self) return this.selfInfo();
    if (!v) return undefined;
    return { id, zone: v.meta.zone, addrs: { resp: v.meta.respAddr, http: v.meta.httpAddr, raft: v.meta.raftAddr, gossip: v.addr }, version: v.meta.version };
  }

  private controlMeta(): void {
    const meta = this.meta;
    if (meta.clusterId === "") return; // the founding metadata (entry 2) is not applied yet
    const now = Date.now();
    const views = new Map(this.gossip.members().map((v) => [v.id, v]));
    // Admit alive members (gossip only admits our cluster id) and keep their addresses current.
    for (const id of [this.self, ...views.keys()]) {
      const v = views.get(id);
      if (id !== this.self && v?.state !== "alive") continue;
      const info = this.memberInfo(v, id)!;
      const known = meta.members[id];
      if (!known || JSON.stringify(known) !== JSON.stringify(info)) {
        this.proposeMeta({ t: "member", member: info });
        return; // one change per round keeps proposals ordered
      }
    }
    for (const id of Object.keys(meta.members)) {
      if (id === this.self) continue;
      const state = views.get(id)?.state ?? "dead";
      if (state === "alive" || state === "suspect") {
        this.deadSince.delete(id);
        continue;
      }
      const since = this.deadSince.get(id) ?? now;
      this.deadSince.set(id, since);
      if (state === "left" || now - since >= this.config.dead_node_timeout) {
        this.log.info("removing member", { member: id, state, dead_ms: now - since });
        this.proposeMeta({ t: "remove", id });
        return;
      }
    }
    const members = placeableMembers(meta).map((m) => ({ id: m.id, zone: m.zone }));
    const target = place({ members, partitionCount: meta.partitionCount, replicationFactor: meta.replicationFactor, current: meta.map });
    if (JSON.stringify(target) !== JSON.stringify(meta.map)) {
      this.proposeMeta({ t: "map", map: target, ifVersion: meta.mapVersion });
      return;
    }
    // Group 0's voters: up to five members, the rest follow as learners (DESIGN §3).
    const ids = Object.keys(meta.members).sort();
    const voters = metaVoters(meta, this.self, MAX_META_VOTERS);
    this.reconcile(META_GROUP, [...voters, ...ids.filter((i) => !voters.includes(i))], voters);
  }

  private controlPartition(grp: number, expired: Uint8Array[]): void {
    const target = this.meta.map[partitionOfGroup(grp)];
    if (target && target.length > 0) this.reconcile(grp, target, target);
    this.expire(grp, expired);
  }

  /** Takes the next membership step of a group this node leads. `voters` ⊆ `replicas`. */
  private reconcile(grp: number, replicas: readonly NodeId[], voters: readonly NodeId[]): void {
    const s = this.host.status(grp)!;
    const match = new Map(this.host.progress(grp).map((p) => [p.id, p.match]));
    // Learners beyond the voter target stay learners: reconcile them as extra members only.
    const alive = new Set([...s.conf.voters, ...s.conf.learners].filter((id) => this.alive(id)));
    const step = nextStep({ self: this.self, conf: s.conf, lastIndex: s.lastIndex, match, alive }, voters);
    const extra = replicas.filter((r) => !voters.includes(r) && !s.conf.learners.includes(r) && !s.conf.voters.includes(r));
    if (!step && extra.length > 0) {
      this.host.proposeConfChange(grp, { type: "addLearner", node: extra[0]! }).catch(() => {});
      return;
    }
    if (!step) return;
    if ("transferTo" in step) {
      this.host.transferLeader(grp, step.transferTo);
      return;
    }
    // Learners of group 0 that are not voter targets are wanted: do not remove them. A draining
    // voter is the exception: removed, it comes back as a learner (Raft has no demotion).
    const node = step.change.node;
    if (step.change.type === "removeNode" && replicas.includes(node) && !(s.conf.voters.includes(node) && drainingOf(this.meta).includes(node))) return;
    this.host.proposeConfChange(grp, step.change).catch((e: unknown) => this.log.debug("membership change refused", { grp, error: String(e) }));
  }

  /**
   * A replica removed from a group gets no more messages, so it never learns of its removal from
   * the log: it only stops hearing a leader. Once the map no longer lists this node for the
   * partition and no leader has been heard for ORPHAN_MS, the group and its rows are dropped
   * (instead of campaigning forever; pre-vote keeps such a node from disrupting the group).
   */
  private dropRemovedReplicas(): void {
    const now = Date.now();
    for (const grp of this.host.groupIds()) {
      const replicas = grp === META_GROUP ? undefined : this.meta.map[partitionOfGroup(grp)];
      const s = this.host.status(grp)!;
      if (!replicas || replicas.includes(this.self) || s.leader !== null) {
        this.orphanSince.delete(grp);
        // A removed replica that went quiet would trust its old leader forever: let it time out.
        if (replicas && !replicas.includes(this.self)) this.host.wake(grp);
        continue;
      }
      const since = this.orphanSince.get(grp) ?? now;
      this.orphanSince.set(grp, since);
      if (now - since < ORPHAN_MS) continue;
      this.log.info("dropping a replica this node no longer holds", { grp, partition: partitionOfGroup(grp) });
      this.host.close(grp);
      this.storage.dropGroup(grp);
      this.machine.drop(grp);
      this.orphanSince.delete(grp);
    }
  }

  /** Up to 200 expired keys of this node's replicas, by group. */
  private expiredByGroup(): Map<number, Uint8Array[]> {
    const out = new Map<number, Uint8Array[]>();
    for (const k of this.state.keyspace.expired(Date.now(), 200)) {
      const grp = groupOf(this.state.keyspace.partOf(k));
      const keys = out.get(grp);
      if (keys) keys.push(k);
      else out.set(grp, [k]);
    }
    return out;
  }

  /** Active expiry in a cluster: the partition leader proposes deletes (they travel through the log). */
  private expire(grp: number, expired: Uint8Array[]): void {
    if (expired.length === 0) return;
    const op: Op = { cmds: [[utf8("__expire"), ...expired]], now: Date.now(), seed: 0 };
    this.host.propose(grp, encodeOp(op)).catch(() => {});
  }

  private compact(): void {
    for (const grp of this.host.groupIds()) {
      const s = this.host.status(grp);
      if (!s || s.applied - s.snapshotIndex < COMPACT_AFTER_ENTRIES) continue;
      this.host.compact(grp, s.applied, this.machine.snapshotData(grp));
    }
  }

  /** The partition leader this node believes in: its own Raft view, a learned hint, else the preferred replica. */
  private believedLeader(p: number): NodeId | undefined {
    const grp = groupOf(p);
    const known = this.host.leaderOf(grp) ?? this.leaderHints.get(grp);
    if (known && this.alive(known)) return known;
    const replicas = this.meta.map[p] ?? [];
    return replicas.find((id) => this.alive(id)) ?? replicas[0];
  }

  private respRef(id: NodeId): ClusterNodeRef {
    const addr = this.meta.members[id]?.addrs.resp ?? "";
    const i = addr.lastIndexOf(":");
    return { id, host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
  }

  /** The cluster as Redis Cluster clients see it (CLUSTER SLOTS/NODES, -MOVED). */
  private makeView(): ClusterView {
    return {
    myId: this.config.node_id,
    slots: () => {
      const meta = this.meta;
      const per = SLOT_COUNT / meta.partitionCount;
      const out: SlotRange[] = [];
      for (let p = 0; p < meta.partitionCount; p++) {
        const master = this.believedLeader(p);
        if (!master) continue;
        const replicas = (meta.map[p] ?? []).filter((id) => id !== master).map((id) => this.respRef(id));
        const prev = out[out.length - 1];
        // Neighbouring partitions with the same leader and replicas read as one range.
        if (prev && prev.end === p * per - 1 && prev.master.id === master && JSON.stringify(prev.replicas) === JSON.stringify(replicas)) {
          out[out.length - 1] = { ...prev, end: (p + 1) * per - 1 };
        } else {
          out.push({ start: p * per, end: (p + 1) * per - 1, master: this.respRef(master), replicas });
        }
      }
      return out;
    },
    members: () => Object.keys(this.meta.members).map((id) => ({ ...this.respRef(id), alive: this.alive(id) })),
    redirect: (slot) => {
      const p = partitionOf(slot, this.meta.partitionCount || this.config.partition_count);
      const leader = this.believedLeader(p);
      if (!leader || leader === this.self) return undefined;
      return this.meta.members[leader]?.addrs.resp;
    },
    state: () => (this.ready().ready ? "ok" : "fail"),
    };
  }

  /** Marks this node as leaving (or not) through the metadata leader; see POST /cluster/leave. */
  setDraining(draining: boolean): Promise<Reply> {
    return this.forward({ t: "meta", grp: META_GROUP, op: { t: "drain", id: this.self, draining } });
  }

  /** Live keys and keys with an expiry over the whole cluster, for INFO keyspace. */
  keyspaceTotals(): ReturnType<typeof keyspaceTotals> {
    return keyspaceTotals(this.partitions);
  }

  /** Live keys stored on this node: the rows of every partition it holds a replica of. */
  keyCount(): number {
    return this.state.keyspace.count(Date.now());
  }

  groupStatuses(): GroupStatus[] {
    return this.host.groupIds().map((grp) => {
      const s = this.host.status(grp)!;
      return { grp, role: s.role, leader: s.leader, term: s.term, voters: s.conf.voters, learners: s.conf.learners, applied: s.applied };
    });
  }

  /** Joined (a member in the metadata) and every group hosted here has a leader. */
  ready(): { ready: boolean; reason?: string } {
    if (!(this.self in this.meta.members)) return { ready: false, reason: "not yet admitted to a cluster" };
    // A replica moved away while this node was down hosts nothing but stays open until
    // dropRemovedReplicas gives up on it (ORPHAN_MS): only the partitions the map gives this node count.
    const hosted = this.groupStatuses().filter((g) => g.grp === META_GROUP || (this.meta.map[partitionOfGroup(g.grp)] ?? []).includes(this.self));
    const leaderless = hosted.filter((g) => g.leader === null).map((g) => g.grp);
    if (leaderless.length > 0) return { ready: false, reason: `groups without a leader: ${leaderless.slice(0, 10).join(", ")}` };
    return { ready: true };
  }

  /** Group statuses of every member (for /cluster/status), each asked over the transport. */
  async clusterGroups(): Promise<Map<NodeId, GroupStatus[]>> {
    const out = new Map<NodeId, GroupStatus[]>([[this.self, this.groupStatuses()]]);
    await Promise.all(
      Object.values(this.meta.members)
        .filter((m) => m.id !== this.self)
        .map(async (m) => {
          try {
            out.set(m.id, (await this.transport.request(m.id, m.addrs.raft, { t: "groups" }, 1000)) as GroupStatus[]);
          } catch {
            // unreachable members simply contribute nothing
          }
        }),
    );
    return out;
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (graceful) await this.gossip.leave().catch(() => {});
    else await this.gossip.stop();
    this.transport.close();
    await this.storage.close();
    this.machine.close();
    this.state.close();
  }
}
