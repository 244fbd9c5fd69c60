// The event loop's handle on the log worker (log-worker.ts): each call is one request, answered
// in order, so a FIFO of callbacks is all the bookkeeping there is.
import type { LogRequest, LogResponse } from "./log-worker.ts";
import type { GroupWrite } from "../raft/types.ts";
import { packWrites, transferables } from "./raft-write-transfer.ts";
import { type FsyncMode, SYNCHRONOUS_MODES, type SynchronousMode } from "./sqlite-sync.ts";

interface Waiter {
  readonly resolve: (value: number) => void;
  readonly reject: (error: Error) => void;
}

export class LogWriter {
  private readonly waiting: Waiter[] = [];
  private dead: Error | undefined;
  /** PRAGMA synchronous of the worker's raft.db connection, as it reported on opening. */
  synchronous!: SynchronousMode;

  private constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<LogResponse>) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (e.data.ok) w.resolve(e.data.value);
      else w.reject(new Error(e.data.error));
    };
    worker.onerror = (e: ErrorEvent) => this.fail(new Error(`raft.db log worker crashed: ${e.message}`));
  }

  /** Starts the worker and opens raft.db in it as the node's Raft log (SqliteRaftStorage). */
  static async openRaft(path: string, fsync: FsyncMode): Promise<LogWriter> {
    const writer = new LogWriter(new Worker(new URL("./log-worker.ts", import.meta.url).href));
    try {
      writer.synchronous = SYNCHRONOUS_MODES[await writer.call({ t: "openRaft", path, fsync })]!;
    } catch (e) {
      writer.worker.terminate();
      throw e;
    }
    return writer;
  }

  /** SqliteRaftStorage.saveBatch in the worker; resolves with the seconds its transaction took, once durable. */
  saveBatch(writes: readonly GroupWrite[]): Promise<number> {
    const batch = packWrites(writes);
    return this.call({ t: "saveBatch", batch }, transferables(batch));
  }

  /** SqliteRaftStorage.dropGroup in the worker, after every write sent before it. */
  dropGroup(grp: number): Promise<number> {
    return this.call({ t: "dropGroup", grp });
  }

  /** Answers every request sent before it, closes raft.db and stops the worker. */
  async close(): Promise<void> {
    if (this.dead) return;
    try {
      await this.call({ t: "close" });
    } finally {
      this.fail(new Error("raft.db log is closed"));
    }
  }

  private call(req: LogRequest, transfer: ArrayBuffer[] = []): Promise<number> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  private fail(error: Error): void {
    this.dead ??= error;
    this.worker.terminate();
    for (const w of this.waiting.splice(0)) w.reject(error);
  }
}
