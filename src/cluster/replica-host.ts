// The replicas a node hosts: the Raft groups (MultiRaft) on SQLite (raft.db for the logs,
// data.db for the state machine), with the timers that drive them (ticks, log compaction,
// active expiry). raft.db is written by the log worker (src/store/worker-raft-storage.ts), so the
// event loop keeps serving while a turn's writes are fsynced. It needs no network: messages leave
// through `send`, and `alive` says who gossip sees up; a cluster member wires both to its transport
// and gossip. A standalone node hosts one group holding every partition's rows (standalone-group.ts).
import { join } from "node:path";
import type { CommandContext, CommandSpec, KeyEventsHook, Op, WriteBack } from "../commands/types.ts";
import { lower, utf8 } from "../commands/util.ts";
import { COMMANDS } from "../commands/table.ts";
import { EXPIRE_COMMAND } from "../commands/keys.ts";
import { route } from "./core/route.ts";
import { runRead } from "../commands/apply.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Reply } from "../resp/reply.ts";
import { isEmptyGroup } from "../raft/storage.ts";
import type { GroupWrite, Message, NodeId } from "../raft/types.ts";
import { encodeOp } from "../store/op-codec.ts";
import { nextSession } from "../store/proposal-sessions.ts";
import { WorkerRaftStorage } from "../store/worker-raft-storage.ts";
import { SqliteRaftStorage } from "../store/raft-log.ts";
import type { SqliteSynchronous } from "../store/sqlite-sync.ts";
import { exportPartition } from "../store/partition-snapshot.ts";
import { STANDALONE_PART } from "../store/function-libraries.ts";
import { type SqliteKeyspace, StateDb } from "../store/state.ts";
import type { HeartbeatBatch } from "./core/heartbeats.ts";
import { groupOf, META_GROUP, STANDALONE_GROUP } from "../keyspace/groups.ts";
import type { MetaState } from "./core/meta.ts";
import { MultiRaft } from "./core/multiraft.ts";
import { RaftStats } from "./raft-stats.ts";
import { ClusterStateMachine } from "./state-machine.ts";
import { saveFounding } from "./grow.ts";
import { openStandaloneState, prepareStandaloneGroup } from "./standalone-group.ts";
import { wallNow } from "../wall-clock.ts";

/** Raft tick: election timeout 11–20 ticks (0.55–1 s), heartbeat every 2 ticks (100 ms). */
export const TICK_MS = 50;
const COMPACT_MS = 10_000;
/** How often data.db's transaction, open across turns, commits (ClusterStateMachine.transaction). */
const STATE_COMMIT_MS = 1_000;
const COMPACT_AFTER_ENTRIES = 2_000;
const EXPIRE_MS = 500;
const EXPIRE = utf8(EXPIRE_COMMAND);
/** Expired keys proposed for deletion per round, over all the partitions this node leads. */
const EXPIRE_BATCH = 200;

export interface ReplicaHostOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Sends a Raft message (or a heartbeat batch) to another member. */
  send(m: Message | HeartbeatBatch): void;
  /** Whether gossip sees a member up: idle groups go quiet only while it does. */
  alive(id: NodeId): boolean;
  /** A group's leader changed to `leader` (never called with "unknown"). */
  onLeader?(grp: number, leader: NodeId): void;
  /**
   * A standalone node: one group, STANDALONE_GROUP, of which this node is the only voter, holds
   * every partition's rows, and a command may touch keys of several slots.
   */
  readonly standalone?: boolean;
}

/** raft.db: every group's log, hard state and snapshot, written by the log worker. */
function openRaftStorage(config: Config, log: Logger, stats: RaftStats): Promise<WorkerRaftStorage> {
  return WorkerRaftStorage.open(join(config.data_dir, "raft.db"), config.fsync, {
    onCommit: (seconds, entries) => stats.storageCommitted(seconds, entries),
    onError: (e) => log.error("raft.db write failed", { error: e.message }),
  });
}

/** The cluster groups raft.db holds state of (a data dir that ran standalone holds a standalone log). */
function heldGroups(storage: Pick<SqliteRaftStorage, "groups" | "load">): number[] {
  return storage.groups().filter((g) => g !== STANDALONE_GROUP && !isEmptyGroup(storage.load(g)));
}

/**
 * Whether the data dir's raft.db holds state of any cluster group, asked before the node starts.
 * Without it the node has no vote record, whatever flydb-node.json says (raft.db lost or wiped).
 */
export function holdsClusterState(dataDir: string): boolean {
  const storage = new SqliteRaftStorage(join(dataDir, "raft.db"));
  try {
    return heldGroups(storage).length > 0;
  } finally {
    storage.close();
  }
}

export class ReplicaHost {
  /** The groups hosted here; the router, controller and status take the slice they need. */
  readonly raft: MultiRaft;
  private readonly state: StateDb;
  private readonly machine: ClusterStateMachine;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private stopped = false;

  /** Keyspace notifications: the partition ops applied here report their events to `events`. */
  notifyKeyEvents(events: KeyEventsHook): void {
    this.machine.keyEvents = events;
  }

  static async open(opts: ReplicaHostOptions): Promise<ReplicaHost> {
    const stats = new RaftStats();
    const storage = await openRaftStorage(opts.config, opts.log, stats);
    try {
      return new ReplicaHost(opts, stats, storage);
    } catch (e) {
      await storage.close();
      throw e;
    }
  }

  private constructor(
    private readonly opts: ReplicaHostOptions,
    readonly stats: RaftStats,
    private readonly storage: WorkerRaftStorage,
  ) {
    const { config } = opts;
    const path = join(config.data_dir, "data.db");
    const open = () =>
      StateDb.open({
        path,
        partitionCount: config.partition_count,
        databases: config.databases,
        clustered: opts.standalone !== true,
        exclusive: opts.standalone === true,
      });
    this.state = opts.standalone
      ? openStandaloneState(
          path,
          open,
          () => storage.load(STANDALONE_GROUP).snapshot.index === 0,
          (m) => opts.log.warn(m),
        )
      : open();
    this.machine = new ClusterStateMachine(this.state, this.stats.writeCopies);
    const lease = config.read_consistency === "lease";
    this.raft = new MultiRaft({
      nodeId: config.node_id,
      storage: this.storage,
      stateMachine: this.machine,
      random: Math.random,
      // setImmediate, not a microtask: proposals from every connection read in this event-loop
      // turn must share one storage transaction (one fsync), as in the standalone store.
      schedule: setImmediate,
      // The lease is measured on the monotonic clock, so a pause (SIGSTOP, GC) that skipped ticks counts.
      raft: {
        electionTicks: 10,
        heartbeatTicks: 2,
        readMode: lease ? "lease" : "safe",
        clock: () => performance.now() / TICK_MS,
      },
      // Idle groups go quiet; their followers wake when gossip stops calling the leader alive or
      // the transport loses its connection to it. Not with lease reads: a quiet leader's clock stops.
      quiesce: lease ? undefined : { alive: (id) => opts.alive(id) },
      send: (m) => opts.send(m),
      onFailure: (e) => {
        if (this.stopped) return;
        opts.log.error("the Raft host stopped: this node no longer serves its groups", { error: e.message });
      },
      onLeaderChange: (grp, leader, term) => {
        if (leader) opts.onLeader?.(grp, leader);
        this.stats.leader(grp, leader, term);
        opts.log.debug("leader change", { grp, leader, term });
      },
    });
  }

  /** Starts the timers. */
  start(): void {
    this.timers.push(setInterval(() => this.raft.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.compact(), COMPACT_MS));
    this.timers.push(setInterval(() => this.expire(), EXPIRE_MS));
    this.timers.push(setInterval(() => this.commitState(), STATE_COMMIT_MS));
  }

  private commitState(): void {
    try {
      this.machine.commit();
    } catch (e) {
      this.opts.log.warn("data.db commit failed", { error: (e as Error).message });
    }
  }

  /** The cluster's metadata as applied here (group 0). */
  meta(): MetaState {
    return this.machine.meta;
  }

  /** A new proposal session for this incarnation's writes (store/proposal-sessions.ts). */
  newProposalSession(): number {
    this.machine.commit(); // its own write must be durable at once
    return nextSession(this.state.db, Date.now());
  }

  /**
   * Runs a read-only command on this node's rows of database `db`. Without the reading
   * connection's `writeBack` (a cluster member's reads), the write a read asks for is proposed here.
   */
  runLocal(spec: CommandSpec, argv: readonly Uint8Array[], resp3: boolean, db: number, writeBack?: WriteBack): Reply {
    const scriptCall = this.machine.keyEvents?.applying?.(undefined);
    writeBack ??= this.opts.standalone ? undefined : (a) => this.writeBackAsLeader(a, db);
    const ks = this.state.keyspace.database(db);
    const expired: Uint8Array[] = [];
    if (ks) ks.expiredReads = expired;
    try {
      return runRead(this.state.keyspace, spec, argv, db, {
        now: this.now(),
        random: Math.random,
        resp3,
        writeBack,
        scriptCall,
      });
    } finally {
      if (ks) ks.expiredReads = undefined;
      // Lazy expiry, skipped under CLIENT PAUSE as the active one is.
      if (expired.length > 0 && !this.machine.keyEvents?.expiryPaused?.()) writeBack?.([EXPIRE, ...expired]);
    }
  }

  /**
   * A context for reading this node's own rows of database `db` over several event-loop turns (a
   * script's trial, src/commands/busy-script.ts); undefined when `db` is out of range.
   */
  localContext(db: number, resp3: boolean): CommandContext | undefined {
    const ks = this.state.keyspace.database(db);
    return ks && { db: ks, now: this.now(), random: Math.random, resp3 };
  }

  /**
   * A read's write (PFCOUNT's cached cardinality, which apply recomputes, so it is right whenever it
   * lands), proposed when this node leads the key's group: it then served the read as the leader.
   * Not ordered with the reading connection's later commands; they may find the cache still stale.
   */
  private writeBackAsLeader(argv: readonly Uint8Array[], db: number): void {
    const spec = COMMANDS.get(lower(argv[0]!));
    const r = spec && route(spec, argv, this.opts.config.partition_count);
    if (r?.kind !== "partition" || this.raft.status(groupOf(r.partition))?.role !== "leader") return;
    const op: Op = { cmds: [argv], now: this.now(), seed: 0, ...(db !== 0 ? { db } : {}) };
    this.raft.propose(groupOf(r.partition), encodeOp(op)).catch(() => {});
  }

  /**
   * Partition `part`'s rows at this replica's applied index, once a ReadIndex round (MultiRaft.readBarrier)
   * showed that index covers every write acknowledged before the call: a backup's section
   * (src/store/backup-file.ts). Undefined when this node holds no replica of the partition.
   */
  async partitionSnapshot(part: number): Promise<{ index: number; data: Uint8Array } | undefined> {
    const grp = this.opts.standalone ? STANDALONE_GROUP : groupOf(part);
    if (!this.raft.status(grp)) return undefined;
    await this.raft.readBarrier(grp);
    // One synchronous turn: no apply runs between reading the index and the rows.
    const data = this.opts.standalone
      ? exportPartition(this.state, part, grp, undefined, STANDALONE_PART)
      : this.machine.snapshotData(grp);
    return { index: this.state.appliedIndex(grp), data };
  }

  /** The applied rows, for a standalone node's INFO keyspace; writes go through the Raft groups. */
  get keyspace(): SqliteKeyspace {
    return this.state.keyspace;
  }

  /**
   * The time TTLs are decided at: this node's clock, but never behind the newest op time applied
   * here. A key a leader saw expired stays expired on a new leader whose clock is behind, once any
   * later op of the old leader's (its active expiry's delete, within EXPIRE_MS) has applied; before
   * that, only if the clocks differ by less than the election timeout (docs/design/cluster.md).
   */
  private now(): number {
    return Math.max(wallNow(), this.machine.latestOpTime);
  }

  /** Live keys stored on this node: the rows of every partition it holds a replica of. */
  keyCount(): number {
    return this.state.keyspace.countEverywhere(this.now());
  }

  /** PRAGMA synchronous of the connections that write raft.db and data.db (for /metrics). */
  synchronous(): SqliteSynchronous {
    return { raft: this.storage.synchronous(), data: this.state.synchronous() };
  }

  /** Reopens the groups held before a restart (a standalone node: its group, founded if new); how many. */
  reopen(): number {
    if (this.opts.standalone) {
      const { config, log } = this.opts;
      const applied = this.state.appliedIndex(STANDALONE_GROUP);
      this.storage.writeNow((direct) =>
        prepareStandaloneGroup(direct, config.node_id, applied, (m) => log.warn(m, { data_dir: config.data_dir })),
      );
      this.raft.open(STANDALONE_GROUP);
      return 1;
    }
    const groups = heldGroups(this.storage);
    for (const g of groups) this.raft.open(g);
    return groups.length;
  }

  /** Whether this node holds any group (of a cluster it founded or joined). */
  holdsGroups(): boolean {
    return this.raft.groupIds().length > 0;
  }

  /** Whether a group could be founded here: not hosted, nothing stored. */
  canFound(grp: number): boolean {
    return !this.raft.has(grp) && isEmptyGroup(this.storage.load(grp));
  }

  /**
   * Stores the founding writes of new groups in one transaction and opens them. A data dir that
   * ran standalone founds its groups from its rows (grow.ts).
   */
  found(writes: readonly GroupWrite[]): void {
    this.machine.commit(); // a founding from standalone rows checkpoints data.db first
    saveFounding(this.opts.config.data_dir, this.storage, this.state, writes);
    for (const w of writes) this.raft.open(w.grp);
  }

  /** Closes a group whose replica moved away and forgets its log and rows. */
  dropGroup(grp: number): void {
    this.raft.close(grp);
    this.storage.dropGroup(grp);
    this.machine.drop(grp);
    // raft.db forgets the group: its rows must not come back with a rolled-back transaction.
    this.machine.commit();
  }

  private compact(): void {
    if (this.opts.standalone) return void this.compactStandalone();
    for (const grp of this.raft.groupIds()) {
      const s = this.raft.status(grp);
      if (!s || s.applied - s.snapshotIndex < COMPACT_AFTER_ENTRIES) continue;
      this.raft.compact(grp, s.applied, this.machine.snapshotData(grp));
    }
  }

  /**
   * The standalone group's state is data.db itself, not a snapshot in raft.db: its log is cut only
   * up to what a checkpoint made durable in data.db. `always`: SAVE, whatever the log's length.
   */
  compactStandalone(always = false): boolean {
    const s = this.raft.status(STANDALONE_GROUP);
    if (!s || (!always && s.applied - s.snapshotIndex < COMPACT_AFTER_ENTRIES)) return false;
    // An applied index read inside an open transaction is not durable yet: commit it first.
    this.state.commitTransaction();
    const applied = this.state.appliedIndex(STANDALONE_GROUP);
    if (!this.state.checkpoint()) return false;
    if (applied > s.snapshotIndex) this.raft.compact(STANDALONE_GROUP, applied, new Uint8Array(0));
    return true;
  }

  /** Active expiry: each partition's leader proposes the deletes (they travel through the log). */
  private expire(): void {
    if (this.machine.keyEvents?.expiryPaused?.()) return;
    try {
      const led = new Set(
        this.raft.groupIds().filter((grp) => grp !== META_GROUP && this.raft.status(grp)?.role === "leader"),
      );
      const groupOfPart = this.opts.standalone ? () => STANDALONE_GROUP : groupOf;
      if (led.size === 0) return;
      // One query for expired keys per round, not one per led partition: each is a query over the
      // whole keyspace (an idle node leading ~85 of 256 partitions spent 7% of its CPU time on them).
      const now = this.now();
      const batches = new Map<string, { grp: number; db: number; keys: Uint8Array[] }>();
      for (const { db, part, key } of this.state.keyspace.expiredEverywhere(now, EXPIRE_BATCH)) {
        const grp = groupOfPart(part);
        const batch = batches.get(`${grp}/${db}`);
        if (batch) batch.keys.push(key);
        else batches.set(`${grp}/${db}`, { grp, db, keys: [key] });
      }
      for (const { grp, db, keys } of batches.values()) {
        if (!led.has(grp)) continue;
        const op: Op = { cmds: [[EXPIRE, ...keys]], now, seed: 0, ...(db !== 0 ? { db } : {}) };
        this.raft.propose(grp, encodeOp(op)).catch(() => {});
      }
    } catch (e) {
      this.opts.log.warn("expiry round failed", { error: (e as Error).message });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** Closes the databases once the worker has written everything queued; after `stop`. */
  async close(): Promise<void> {
    await this.storage.close();
    this.machine.close();
    this.state.close();
  }
}
