// A cluster member's raft.db: the multi-raft host's saves (and group drops) are written by the log
// worker (log-worker.ts), in the order they were made, so the event loop keeps serving while a
// batch is fsynced; reads run on this thread's own connection, which WAL lets run beside the
// worker's commits. A read sees only what the worker has committed, so this class remembers
// which groups still have writes queued (see load()).
import type { PersistedGroup } from "../raft/storage.ts";
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT_META } from "../raft/storage.ts";
import type { GroupWrite } from "../raft/types.ts";
import { LogWriter } from "./log-writer.ts";
import type { FsyncMode, SynchronousMode } from "./sqlite-sync.ts";
import { SqliteRaftStorage } from "./raft-log.ts";

export interface WorkerRaftStorageOptions {
  /** Called after every saveBatch transaction with its duration and the entries it wrote (metrics). */
  readonly onCommit?: (seconds: number, entries: number) => void;
  /** A write that saveBatch's caller does not await (a group drop) failed; later writes are refused. */
  readonly onError?: (error: Error) => void;
}

/** Writes of one group queued in the worker and not yet committed. */
interface Queued {
  count: number;
  /** The last of them drops the group. */
  dropped: boolean;
}

/** A HostStorage (src/cluster/core/multiraft.ts) whose saveBatch is asynchronous. */
export class WorkerRaftStorage {
  private readonly queued = new Map<number, Queued>();
  private failure: Error | undefined;

  private constructor(
    private readonly reader: SqliteRaftStorage,
    private readonly writer: LogWriter,
    private readonly opts: WorkerRaftStorageOptions,
  ) {}

  static async open(path: string, fsync: FsyncMode, opts: WorkerRaftStorageOptions = {}): Promise<WorkerRaftStorage> {
    const reader = new SqliteRaftStorage(path, { fsync: fsync === "always" ? "always" : "never" });
    try {
      return new WorkerRaftStorage(reader, await LogWriter.openRaft(path, fsync), opts);
    } catch (e) {
      reader.close();
      throw e;
    }
  }

  /**
   * What the group will hold once its queued writes commit: a group whose last queued write drops
   * it is empty. One with other writes queued is never loaded (the host loads a group only when
   * it opens it, and it writes only groups it holds): that is refused rather than answered stale.
   */
  load(grp: number): PersistedGroup {
    const q = this.queued.get(grp);
    if (q?.dropped) return { hardState: EMPTY_HARD_STATE, snapshot: EMPTY_SNAPSHOT_META, entries: [] };
    if (q) throw new Error(`raft group ${grp}: cannot load it while ${q.count} write(s) of it are being saved`);
    return this.reader.load(grp);
  }

  snapshotData(grp: number): Uint8Array {
    return this.queued.get(grp)?.dropped ? new Uint8Array(0) : this.reader.snapshotData(grp);
  }

  groups(): number[] {
    return this.reader.groups();
  }

  /** PRAGMA synchronous of the worker's connection, the one that writes raft.db (for /metrics). */
  synchronous(): SynchronousMode {
    return this.writer.synchronous;
  }

  /** One transaction in the worker; resolves once it is durable (per the fsync mode). */
  async saveBatch(writes: readonly GroupWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const seconds = await this.queue(
      writes.map((w) => w.grp),
      false,
      () => this.writer.saveBatch(writes),
    );
    this.opts.onCommit?.(
      seconds,
      writes.reduce((n, w) => n + (w.entries?.length ?? 0), 0),
    );
  }

  /**
   * Saves on this thread's connection, returning once durable: for founding writes a group must
   * hold before the host opens it. Refused for a group with writes queued in the worker, which
   * this one could overtake; other groups' writes are independent of it.
   */
  saveNow(writes: readonly GroupWrite[]): void {
    if (this.failure) throw this.failure;
    const busy = writes.filter((w) => this.queued.has(w.grp)).map((w) => w.grp);
    if (busy.length > 0) throw new Error(`raft groups ${busy.join(", ")}: writes of them are still being saved`);
    this.reader.saveBatch(writes);
  }

  /**
   * Runs `write` on this thread's connection (a founding that must rewrite raft.db in one
   * transaction, src/cluster/grow.ts). Refused while anything is queued in the worker, which it
   * could overtake.
   */
  writeNow<T>(write: (direct: SqliteRaftStorage) => T): T {
    if (this.failure) throw this.failure;
    const busy = [...this.queued.keys()];
    if (busy.length > 0) throw new Error(`raft groups ${busy.join(", ")}: writes of them are still being saved`);
    return write(this.reader);
  }

  /** Forgets a group, after every write queued before; a failure goes to onError. */
  dropGroup(grp: number): void {
    this.queue([grp], true, () => this.writer.dropGroup(grp)).catch((e: unknown) => this.opts.onError?.(e as Error));
  }

  /** Waits for every queued write, then closes both connections. */
  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      this.reader.close();
    }
  }

  private async queue(grps: readonly number[], drop: boolean, write: () => Promise<number>): Promise<number> {
    if (this.failure) throw this.failure;
    for (const grp of grps) {
      const q = this.queued.get(grp) ?? { count: 0, dropped: false };
      q.count++;
      q.dropped = drop;
      this.queued.set(grp, q);
    }
    try {
      return await write();
    } catch (e) {
      // Whether the failed write reached the disk is unknown: nothing may be written after it.
      this.failure ??= new Error(`raft.db write failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      throw this.failure;
    } finally {
      for (const grp of grps) {
        const q = this.queued.get(grp)!;
        if (--q.count === 0) this.queued.delete(grp);
      }
    }
  }
}
