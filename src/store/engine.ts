// A standalone node's write path: every write is an op appended to a one-member log (raft.db)
// and then applied to the state machine (data.db), etcd's WAL + backend split (DESIGN §4–§5).
// Raft later replaces what is behind propose(); the commands never notice.
import { mkdirSync, renameSync, existsSync } from "node:fs";
import { join } from "node:path";
import { SQLiteError } from "bun:sqlite";
import type { Keyspace, Op } from "../commands/types.ts";
import type { Reply } from "../resp/reply.ts";
import { decodeOp, encodeOp } from "./op-codec.ts";
import { ENTRY_NORMAL, type FsyncMode, type LogEntry, OpLog } from "./oplog.ts";
import { type ApplyFn, StateDb } from "./state.ts";

/**
 * The log group of a standalone node. Negative so it can never be mistaken for the metadata
 * group (0) or a partition's group (p + 1) when a cluster later opens the same data_dir.
 */
export const STANDALONE_GROUP = -1;
/** A one-member log never elects: all its entries carry term 1. */
export const STANDALONE_TERM = 1;
/**
 * The command the expiry sweep proposes: `__expire key…`. Its apply deletes each key with
 * deleteIfExpired(key, op.now) and replies with the number of keys removed (an int).
 */
export const EXPIRE_COMMAND = "__expire";

const REPLAY_CHUNK = 1000;
// Log entries deleted per compaction transaction: one step must not stall the event loop.
const COMPACT_STEP = 10_000;
const EXPIRE_COMMAND_BYTES = new TextEncoder().encode(EXPIRE_COMMAND);

export interface StoreEngineOptions {
  readonly dataDir: string;
  readonly fsync: FsyncMode;
  /** Deterministic: the same op on the same state gives the same writes and reply (DESIGN §4). */
  readonly apply: ApplyFn;
  /** DESIGN §3 partition_count (default 256). */
  readonly partitionCount?: number;
  /** How often data.db is checkpointed and the log compacted (default 10 s; 0: never). */
  readonly compactIntervalMs?: number;
  /** How often expired keys are looked for (default 100 ms, Redis's hz 10; 0: never). */
  readonly expireIntervalMs?: number;
  /** At most this many keys per expiry op (default 500). */
  readonly expireBatch?: number;
  /** The clock the expiry sweep stamps its ops with (default Date.now). */
  readonly clock?: () => number;
  /** Where recoverable trouble is reported (default console.warn). */
  readonly warn?: (message: string) => void;
  /** Called after every group commit, e.g. for a commit latency histogram. */
  readonly onCommit?: (commit: CommitInfo) => void;
}

export interface CommitInfo {
  readonly ops: number;
  /** raft.db append (and fsync) time. */
  readonly logMs: number;
  /** data.db apply time. */
  readonly applyMs: number;
}

export interface StoreStats {
  /** raft.db transactions committed for proposals. */
  readonly logCommits: number;
  readonly lastIndex: number;
  readonly appliedIndex: number;
  /** The last compacted index: entries at or below it are gone from raft.db. */
  readonly compactedIndex: number;
}

interface Pending {
  readonly op: Op;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens data.db; when it is not a readable database and the log still holds every entry from
 * index 1, it is moved aside and rebuilt from the log. With a compacted log it cannot be.
 */
function openState(path: string, partitionCount: number, logComplete: boolean, warn: (message: string) => void): StateDb {
  try {
    return StateDb.open({ path, partitionCount });
  } catch (e) {
    const corrupt = e instanceof SQLiteError && /^SQLITE_(CORRUPT|NOTADB)/.test(e.code ?? "");
    if (!corrupt) throw e;
    if (!logComplete) {
      throw new Error(`${path} is damaged (${e.message}) and raft.db has been compacted, so it cannot be rebuilt`);
    }
    const aside = `${path}.damaged-${Date.now()}`;
    for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    warn(`${path} is damaged (${e.message}); moved it to ${aside} and rebuilding it from raft.db`);
    return StateDb.open({ path, partitionCount });
  }
}

export class StoreEngine {
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private failure: Error | undefined;
  private lastIndex: number;
  private sweepInFlight = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly clock: () => number;
  private readonly expireBatch: number;

  private constructor(
    private readonly log: OpLog,
    private readonly state: StateDb,
    private readonly options: StoreEngineOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.expireBatch = options.expireBatch ?? 500;
    this.lastIndex = this.recover();
    const every = (ms: number, fn: () => void) => {
      if (ms > 0) this.timers.push(setInterval(fn, ms).unref());
    };
    every(options.compactIntervalMs ?? 10_000, () => this.guard(() => this.compactInSteps()));
    every(options.expireIntervalMs ?? 100, () => this.guard(() => this.sweepExpired()));
    if (options.fsync === "everysec") every(1000, () => this.guard(() => this.log.sync()));
  }

  /** Opens raft.db and data.db in dataDir and replays the log into data.db before returning. */
  static open(options: StoreEngineOptions): StoreEngine {
    mkdirSync(options.dataDir, { recursive: true });
    const log = OpLog.open(join(options.dataDir, "raft.db"), options.fsync);
    try {
      log.initGroup(STANDALONE_GROUP, STANDALONE_TERM);
      const logComplete = log.snapshot(STANDALONE_GROUP).idx === 0;
      const state = openState(
        join(options.dataDir, "data.db"),
        options.partitionCount ?? 256,
        logComplete,
        options.warn ?? console.warn,
      );
      try {
        return new StoreEngine(log, state, options);
      } catch (e) {
        state.close();
        throw e;
      }
    } catch (e) {
      log.close();
      throw e;
    }
  }

  /** The applied state, for reads. Writes go through propose(). */
  get keyspace(): Keyspace {
    return this.state.keyspace;
  }

  /**
   * Logs the op, applies it and resolves with apply's reply once both are committed. Ops
   * proposed in one event-loop turn share one log transaction and one apply transaction.
   * Rejects only when the storage itself failed (the engine then refuses further writes).
   */
  propose(op: Op): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: it runs after every socket read of this loop turn.
        setImmediate(() => this.flush());
      }
    });
  }

  stats(): StoreStats {
    return {
      logCommits: this.log.commits,
      lastIndex: this.lastIndex,
      appliedIndex: this.state.appliedIndex(STANDALONE_GROUP),
      compactedIndex: this.log.snapshot(STANDALONE_GROUP).idx,
    };
  }

  /** Set once a storage error stopped the engine; the node should report itself unhealthy. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Checkpoints data.db and, when that made it durable, deletes up to maxEntries of the log
   * entries it had applied before the checkpoint. Returns the number of entries deleted.
   */
  compact(maxEntries = Number.POSITIVE_INFINITY): number {
    if (this.closed || this.failure) return 0;
    const applied = this.state.appliedIndex(STANDALONE_GROUP);
    if (!this.state.checkpoint()) return 0;
    const upTo = Math.min(applied, this.log.snapshot(STANDALONE_GROUP).idx + maxEntries);
    return this.log.compact(STANDALONE_GROUP, upTo, STANDALONE_TERM);
  }

  /** The timer's compaction: bounded steps with the event loop free in between. */
  private compactInSteps(): void {
    if (this.compact(COMPACT_STEP) === COMPACT_STEP) setImmediate(() => this.guard(() => this.compactInSteps()));
  }

  /**
   * Proposes `__expire` for keys whose expiry has passed, so their deletion travels through
   * the log like any write (BUG-CLASSES 11). One sweep op in flight at a time.
   */
  sweepExpired(): void {
    if (this.sweepInFlight || this.closed || this.failure) return;
    const now = this.clock();
    const keys = this.state.keyspace.expired(now, this.expireBatch);
    if (keys.length === 0) return;
    this.sweepInFlight = true;
    this.propose({ cmds: [[EXPIRE_COMMAND_BYTES, ...keys]], now, seed: 0 }).then(
      (reply) => {
        this.sweepInFlight = false;
        // A full batch that removed keys suggests more: go on without waiting for the timer
        // (but never spin on an apply that removes nothing).
        if (keys.length === this.expireBatch && reply.t === "int" && Number(reply.v) > 0) this.sweepExpired();
      },
      () => {
        this.sweepInFlight = false;
      },
    );
  }

  /** Commits what is pending, then closes both databases. */
  close(): void {
    if (this.closed) return;
    if (this.pending.length > 0) this.flush();
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (!this.failure && this.options.fsync === "everysec") this.log.sync();
    this.state.close();
    this.log.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (this.failure || this.closed) {
      for (const p of batch) p.reject(this.failure ?? new Error("store is closed"));
      return;
    }
    const first = this.lastIndex + 1;
    const ops = batch.map((p) => p.op);
    let replies: Reply[];
    const t0 = performance.now();
    let t1 = t0;
    try {
      this.log.append(
        STANDALONE_GROUP,
        ops.map((op, i): LogEntry => ({ idx: first + i, term: STANDALONE_TERM, kind: ENTRY_NORMAL, data: encodeOp(op) })),
      );
      this.lastIndex = first + ops.length - 1;
      t1 = performance.now();
      replies = this.state.applyBatch(STANDALONE_GROUP, first, ops, this.options.apply);
    } catch (e) {
      // Whether the failed commit reached the disk is unknown; only a restart (replaying the
      // log) tells. Refuse everything until then rather than guess.
      this.failure = new Error(`store failed at log index ${first}: ${describe(e)}`);
      for (const p of batch) p.reject(this.failure);
      for (const p of this.pending.splice(0)) p.reject(this.failure);
      return;
    }
    this.options.onCommit?.({ ops: ops.length, logMs: t1 - t0, applyMs: performance.now() - t1 });
    for (let i = 0; i < batch.length; i++) batch[i].resolve(replies[i]);
  }

  /** Brings data.db up to the end of the log; returns the log's last index. */
  private recover(): number {
    const grp = STANDALONE_GROUP;
    const applied = this.state.appliedIndex(grp);
    const compacted = this.log.snapshot(grp).idx;
    if (applied < compacted) {
      throw new Error(
        `data.db has applied the log up to index ${applied}, but raft.db keeps only entries after ${compacted}: ` +
          "the state cannot be rebuilt (was data.db deleted or replaced?)",
      );
    }
    const last = this.log.lastIndex(grp);
    if (applied > last) {
      // raft.db (fsync "no"/"everysec") lost a tail that data.db kept. Those entries are applied;
      // mark them compacted so the next append continues after them without a gap.
      (this.options.warn ?? console.warn)(
        `raft.db ends at index ${last} but data.db has applied ${applied} (raft.db lost its tail; fsync = "${this.options.fsync}"); continuing after ${applied}`,
      );
      this.log.compact(grp, applied, STANDALONE_TERM);
      return applied;
    }
    let next = applied + 1;
    while (next <= last) {
      const entries = this.log.entriesAfter(grp, next - 1, REPLAY_CHUNK);
      if (entries.length === 0) throw new Error(`raft.db has a gap: entries ${next}..${last} are missing`);
      entries.forEach((e, i) => {
        if (e.idx !== next + i) throw new Error(`raft.db has a gap: expected entry ${next + i}, found ${e.idx}`);
        if (e.kind !== ENTRY_NORMAL) throw new Error(`raft.db entry ${e.idx} has kind ${e.kind}, not an op`);
      });
      this.state.applyBatch(grp, next, entries.map((e) => decodeOp(e.data)), this.options.apply);
      next += entries.length;
    }
    return last;
  }

  /** Timer work must never throw out of a timer: a storage error fails the engine instead. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (e) {
      this.failure ??= new Error(`store background work failed: ${describe(e)}`);
    }
  }
}
