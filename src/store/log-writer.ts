// The event loop's handle on the log worker (log-worker.ts): each call is one request, answered
// in order, so a FIFO of callbacks is all the bookkeeping there is.
import type { FsyncMode } from "./oplog.ts";
import type { LogRequest, LogResponse } from "./log-worker.ts";
import type { GroupWrite } from "../raft/types.ts";
import { packWrites, transferables } from "./raft-write-transfer.ts";
import { SYNCHRONOUS_MODES, type SynchronousMode } from "./sqlite-sync.ts";

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

  /** Starts the worker and opens raft.db in it as a standalone op log (refused when another process holds it). */
  static open(path: string, fsync: FsyncMode): Promise<LogWriter> {
    return LogWriter.start({ t: "open", path, fsync });
  }

  /** Starts the worker and opens raft.db in it as a cluster member's Raft log (SqliteRaftStorage). */
  static openRaft(path: string, fsync: FsyncMode): Promise<LogWriter> {
    return LogWriter.start({ t: "openRaft", path, fsync });
  }

  private static async start(open: LogRequest): Promise<LogWriter> {
    const writer = new LogWriter(new Worker(new URL("./log-worker.ts", import.meta.url).href));
    try {
      writer.synchronous = SYNCHRONOUS_MODES[await writer.call(open)]!;
    } catch (e) {
      writer.worker.terminate();
      throw e;
    }
    return writer;
  }

  /** Appends consecutive entries in one raft.db transaction; resolves with the commit count once durable. */
  append(grp: number, first: number, term: number, kind: number, data: readonly Uint8Array[]): Promise<number> {
    // One buffer, transferred: Bun's structured clone of an array of small Uint8Arrays costs
    // tens of microseconds per element, more than the append itself.
    const lengths = data.map((d) => d.length);
    const bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const d of data) {
      bytes.set(d, at);
      at += d.length;
    }
    return this.call({ t: "append", grp, first, term, kind, bytes, lengths }, [bytes.buffer]);
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

  /** Deletes entries up to upTo (see OpLog.compact); resolves with how many were deleted. */
  compact(grp: number, upTo: number, term: number): Promise<number> {
    return this.call({ t: "compact", grp, upTo, term });
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
