// A standalone node's write path: every write is an op appended to a one-member log (raft.db)
// and then applied to the state machine (data.db), etcd's WAL + backend split (docs/design/storage.md).
// A cluster member puts the multi-raft host behind the same propose() (src/data-plane.ts); the
// commands never notice.
//
// raft.db is written by a worker thread (log-writer.ts): while it commits and fsyncs one batch,
// this thread goes on parsing and queueing the next, and applies and answers a batch only once
// it is durable, so a read never sees a write that a crash could take back. One append is in
// flight at a time; what queues meanwhile is the next group commit.
import { mkdirSync, renameSync, existsSync } from "node:fs";
import { join } from "node:path";
import { SQLiteError } from "bun:sqlite";
import type { Op } from "../commands/types.ts";
import { STANDALONE_GROUP } from "../keyspace/groups.ts";
import type { Reply } from "../resp/reply.ts";
import { decodeOp, encodeOp } from "./op-codec.ts";
import { LogWriter } from "./log-writer.ts";
import { ENTRY_NORMAL, type FsyncMode, OpLog } from "./oplog.ts";
import { type ApplyFn, type SqliteKeyspace, StateDb } from "./state.ts";
import type { SqliteSynchronous } from "./sqlite-sync.ts";

/** A one-member log never elects: all its entries carry term 1. */
export const STANDALONE_TERM = 1;
/**
 * The command the expiry sweep proposes: `__expire key…`. Its apply deletes each key with
 * deleteIfExpired(key, op.now) and replies with the number of keys removed (an int).
 */
export const EXPIRE_COMMAND = "__expire";

const REPLAY_CHUNK = 1000;
// data.db commits at most this often by default: its writes are already durable in raft.db (a
// crash only replays them), and one commit for many batches writes each touched page once, not
// once per batch (random-key SETs dirty about two pages each).
const STATE_COMMIT_MS = 1000;
// Log entries deleted per compaction transaction: one step must not stall the event loop.
const COMPACT_STEP = 10_000;
const EXPIRE_COMMAND_BYTES = new TextEncoder().encode(EXPIRE_COMMAND);

export interface StoreEngineOptions {
  readonly dataDir: string;
  readonly fsync: FsyncMode;
  /** Deterministic: the same op on the same state gives the same writes and reply. */
  readonly apply: ApplyFn;
  /** The configured partition_count (default 256). */
  readonly partitionCount?: number;
  /** The configured databases (default 16). */
  readonly databases?: number;
  /** How often data.db is checkpointed and the log compacted (default 10 s; 0: never). */
  readonly compactIntervalMs?: number;
  /** How long applied batches wait for their data.db commit (default 1 s). */
  readonly stateCommitMs?: number;
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
function openState(
  path: string,
  options: StoreEngineOptions,
  logComplete: boolean,
  warn: (message: string) => void,
): StateDb {
  const partitionCount = options.partitionCount ?? 256;
  const open = () => StateDb.open({ path, partitionCount, databases: options.databases });
  try {
    return open();
  } catch (e) {
    const corrupt = e instanceof SQLiteError && /^SQLITE_(CORRUPT|NOTADB)/.test(e.code ?? "");
    if (!corrupt) throw e;
    if (!logComplete) {
      throw new Error(`${path} is damaged (${e.message}) and raft.db has been compacted, so it cannot be rebuilt`);
    }
    const aside = `${path}.damaged-${Date.now()}`;
    for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    warn(`${path} is damaged (${e.message}); moved it to ${aside} and rebuilding it from raft.db`);
    return open();
  }
}

/** What recovery leaves behind in raft.db, for the engine that appends after it. */
interface LogPosition {
  readonly lastIndex: number;
  readonly compactedIndex: number;
}

/**
 * Brings data.db up to the end of the log (on this thread, before the worker takes raft.db);
 * returns where the log ends.
 */
function recover(log: OpLog, state: StateDb, options: StoreEngineOptions): LogPosition {
  const grp = STANDALONE_GROUP;
  const applied = state.appliedIndex(grp);
  const compacted = log.snapshot(grp).idx;
  if (applied < compacted) {
    throw new Error(
      `data.db has applied the log up to index ${applied}, but raft.db keeps only entries after ${compacted}: ` +
        "the state cannot be rebuilt (was data.db deleted or replaced?)",
    );
  }
  const last = log.lastIndex(grp);
  if (applied > last) {
    // raft.db (fsync "no"/"everysec") lost a tail that data.db kept. Those entries are applied;
    // mark them compacted so the next append continues after them without a gap.
    (options.warn ?? console.warn)(
      `raft.db ends at index ${last} but data.db has applied ${applied} (raft.db lost its tail; fsync = "${options.fsync}"); continuing after ${applied}`,
    );
    log.compact(grp, applied, STANDALONE_TERM);
    return { lastIndex: applied, compactedIndex: applied };
  }
  let next = applied + 1;
  while (next <= last) {
    const entries = log.entriesAfter(grp, next - 1, REPLAY_CHUNK);
    if (entries.length === 0) throw new Error(`raft.db has a gap: entries ${next}..${last} are missing`);
    entries.forEach((e, i) => {
      if (e.idx !== next + i) throw new Error(`raft.db has a gap: expected entry ${next + i}, found ${e.idx}`);
      if (e.kind !== ENTRY_NORMAL) throw new Error(`raft.db entry ${e.idx} has kind ${e.kind}, not an op`);
    });
    state.applyBatch(
      grp,
      next,
      entries.map((e) => decodeOp(e.data)),
      options.apply,
    );
    next += entries.length;
  }
  return { lastIndex: last, compactedIndex: compacted };
}

export class StoreEngine {
  private pending: Pending[] = [];
  private flushScheduled = false;
  /** The append in flight, if any; its completion sends what queued meanwhile. */
  private appending: Promise<void> | undefined;
  private closed = false;
  private failure: Error | undefined;
  /** The last index handed to the log (durable once its append resolves). */
  private lastIndex: number;
  private compactedIndex: number;
  private logCommits = 0;
  private stateCommitTimer: ReturnType<typeof setTimeout> | undefined;
  private sweepInFlight = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly clock: () => number;
  private readonly expireBatch: number;

  private constructor(
    private readonly log: LogWriter,
    private readonly state: StateDb,
    private readonly options: StoreEngineOptions,
    position: LogPosition,
  ) {
    this.clock = options.clock ?? Date.now;
    this.expireBatch = options.expireBatch ?? 500;
    this.lastIndex = position.lastIndex;
    this.compactedIndex = position.compactedIndex;
    const every = (ms: number, fn: () => void) => {
      if (ms > 0) this.timers.push(setInterval(fn, ms).unref());
    };
    every(options.compactIntervalMs ?? 10_000, () => this.compactInSteps());
    every(options.expireIntervalMs ?? 100, () => this.guard(() => this.sweepExpired()));
  }

  /**
   * Opens raft.db and data.db in dataDir, replays the log into data.db, then hands raft.db to
   * the log worker. Refused when another process holds raft.db.
   */
  static async open(options: StoreEngineOptions): Promise<StoreEngine> {
    mkdirSync(options.dataDir, { recursive: true });
    const logPath = join(options.dataDir, "raft.db");
    const { state, position } = StoreEngine.openRecovered(logPath, options);
    try {
      return new StoreEngine(await LogWriter.open(logPath, options.fsync), state, options, position);
    } catch (e) {
      state.close();
      throw e;
    }
  }

  private static openRecovered(
    logPath: string,
    options: StoreEngineOptions,
  ): { state: StateDb; position: LogPosition } {
    const log = OpLog.open(logPath, options.fsync);
    try {
      log.initGroup(STANDALONE_GROUP, STANDALONE_TERM);
      const logComplete = log.snapshot(STANDALONE_GROUP).idx === 0;
      const state = openState(join(options.dataDir, "data.db"), options, logComplete, options.warn ?? console.warn);
      try {
        return { state, position: recover(log, state, options) };
      } catch (e) {
        state.close();
        throw e;
      }
    } finally {
      log.close();
    }
  }

  /** The applied state, for reads. Writes go through propose(). */
  get keyspace(): SqliteKeyspace {
    return this.state.keyspace;
  }

  /**
   * Logs the op, applies it once it is durable and resolves with apply's reply. Ops proposed
   * while the previous append is in flight share the next log transaction. Rejects only when
   * the storage itself failed (the engine then refuses further writes).
   */
  propose(op: Op): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushScheduled && !this.appending) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: it runs after every socket read of this loop turn.
        setImmediate(() => this.flush());
      }
    });
  }

  stats(): StoreStats {
    return {
      logCommits: this.logCommits,
      lastIndex: this.lastIndex,
      appliedIndex: this.state.appliedIndex(STANDALONE_GROUP),
      compactedIndex: this.compactedIndex,
    };
  }

  /** Set once a storage error stopped the engine; the node should report itself unhealthy. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Commits and checkpoints data.db and, when that made it durable, deletes up to maxEntries of
   * the log entries it had applied. Resolves with the number of entries deleted.
   */
  async compact(maxEntries = Number.POSITIVE_INFINITY): Promise<number> {
    if (this.closed || this.failure) return 0;
    this.state.commitTransaction();
    const applied = this.state.appliedIndex(STANDALONE_GROUP);
    if (!this.state.checkpoint()) return 0;
    const upTo = Math.min(applied, this.compactedIndex + maxEntries);
    if (upTo <= this.compactedIndex) return 0;
    const deleted = await this.log.compact(STANDALONE_GROUP, upTo, STANDALONE_TERM);
    this.compactedIndex = Math.max(this.compactedIndex, upTo);
    return deleted;
  }

  /** The timer's compaction: bounded steps with the event loop free in between. */
  private compactInSteps(): void {
    this.compact(COMPACT_STEP).then(
      (deleted) => {
        if (deleted === COMPACT_STEP) setImmediate(() => this.compactInSteps());
      },
      (e: unknown) => this.fail(new Error(`store compaction failed: ${describe(e)}`)),
    );
  }

  /**
   * Proposes `__expire` for keys whose expiry has passed, so their deletion travels through
   * the log like any write and every replica decides with the op's clock. One sweep op in flight at a time.
   */
  sweepExpired(): void {
    if (this.sweepInFlight || this.closed || this.failure) return;
    const now = this.clock();
    const expired = this.state.keyspace.expiredEverywhere(now, this.expireBatch);
    if (expired.length === 0) return;
    const byDb = new Map<number, Uint8Array[]>();
    for (const { db, key } of expired) byDb.set(db, [...(byDb.get(db) ?? []), key]);
    this.sweepInFlight = true;
    const ops = [...byDb].map(([db, keys]) =>
      this.propose({ cmds: [[EXPIRE_COMMAND_BYTES, ...keys]], now, seed: 0, ...(db !== 0 ? { db } : {}) }),
    );
    Promise.all(ops).then(
      (replies) => {
        this.sweepInFlight = false;
        // A full batch that removed keys suggests more: go on without waiting for the timer
        // (but never spin on an apply that removes nothing).
        const removed = replies.some((r) => r.t === "int" && Number(r.v) > 0);
        if (expired.length === this.expireBatch && removed) this.sweepExpired();
      },
      () => {
        this.sweepInFlight = false;
      },
    );
  }

  /** PRAGMA synchronous of the connections that write raft.db (the log worker's) and data.db. */
  synchronous(): SqliteSynchronous {
    return { raft: this.log.synchronous, data: this.state.synchronous() };
  }

  /** Refuses new proposals, answers every accepted one, commits data.db and closes both databases. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    while (!this.failure && (this.appending || this.pending.length > 0)) {
      if (!this.appending) this.flush();
      await this.appending;
    }
    clearTimeout(this.stateCommitTimer);
    if (!this.failure) this.state.commitTransaction();
    this.state.close();
    await this.log.close();
  }

  /** Sends everything pending to the log as one append, unless an append is in flight. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.appending || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const first = this.lastIndex + 1;
    this.lastIndex += batch.length;
    const started = performance.now();
    this.appending = this.log
      .append(
        STANDALONE_GROUP,
        first,
        STANDALONE_TERM,
        ENTRY_NORMAL,
        batch.map((p) => encodeOp(p.op)),
      )
      .then(
        (commits) => {
          this.logCommits = commits;
          this.appending = undefined;
          const logMs = performance.now() - started;
          // What queued during this commit goes to the worker before this batch is applied, so
          // its fsync overlaps the apply and the replies.
          this.flush();
          this.applyDurable(batch, first, logMs);
        },
        (e: unknown) => {
          this.appending = undefined;
          // Whether the failed commit reached the disk is unknown; only a restart (replaying the
          // log) tells. Refuse everything until then rather than guess.
          this.fail(new Error(`store failed at log index ${first}: ${describe(e)}`), batch);
        },
      );
  }

  private applyDurable(batch: readonly Pending[], first: number, logMs: number): void {
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const started = performance.now();
    let replies: Reply[];
    try {
      this.state.openTransaction();
      replies = this.state.applyBatch(
        STANDALONE_GROUP,
        first,
        batch.map((p) => p.op),
        this.options.apply,
      );
    } catch (e) {
      this.fail(new Error(`store failed applying log index ${first}: ${describe(e)}`), batch);
      return;
    }
    this.stateCommitTimer ??= setTimeout(() => {
      this.stateCommitTimer = undefined;
      this.guard(() => this.state.commitTransaction());
    }, this.options.stateCommitMs ?? STATE_COMMIT_MS).unref();
    this.options.onCommit?.({ ops: batch.length, logMs, applyMs: performance.now() - started });
    for (let i = 0; i < batch.length; i++) batch[i].resolve(replies[i]);
  }

  /** Stops the engine: the given batch and everything pending are refused with the error. */
  private fail(error: Error, batch: readonly Pending[] = []): void {
    this.failure ??= error;
    for (const p of batch) p.reject(this.failure);
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  /** Timer work must never throw out of a timer: a storage error fails the engine instead. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (e) {
      this.fail(new Error(`store background work failed: ${describe(e)}`));
    }
  }
}
