// The worker thread that writes raft.db: the node's Raft log (SqliteRaftStorage, whose reads stay
// on the event loop's own connection), standalone or cluster member alike. Its commits (and
// their fsyncs) run here so the event loop keeps parsing, applying and answering while a batch is
// being made durable: Redis blocks its loop in fsync, this thread is why FlyDB does not have to.
// Requests are answered strictly in the order they arrive (see log-writer.ts).
import { SqliteRaftStorage } from "./raft-log.ts";
import { type PackedWrites, unpackWrites } from "./raft-write-transfer.ts";
import { type FsyncMode, SYNCHRONOUS_MODES } from "./sqlite-sync.ts";

declare var self: Worker;

/**
 * A batch carrying this many bytes of entries fills more of the WAL than SQLite's autocheckpoint
 * allows (1000 pages of 4 KiB): its commit would copy them into raft.db before answering.
 */
const DEFER_CHECKPOINT_BYTES = 4 * 1024 * 1024;

export type LogRequest =
  | { readonly t: "openRaft"; readonly path: string; readonly fsync: FsyncMode }
  | { readonly t: "saveBatch"; readonly batch: PackedWrites }
  | { readonly t: "dropGroup"; readonly grp: number }
  | { readonly t: "close" };

export type LogResponse =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly error: string };

let raft: SqliteRaftStorage | undefined;
let syncTimer: ReturnType<typeof setInterval> | undefined;
/** A checkpoint is owed once the response to the current request has been posted. */
let checkpointDue = false;

function openedRaft(): SqliteRaftStorage {
  if (!raft) throw new Error("raft.db is not open in the log worker");
  return raft;
}

/**
 * Returns the request's number: the connection's PRAGMA synchronous level for openRaft, seconds
 * the transaction took for saveBatch.
 */
function handle(req: LogRequest): number {
  switch (req.t) {
    case "openRaft":
      raft = new SqliteRaftStorage(req.path, { fsync: req.fsync === "always" ? "always" : "never" });
      if (req.fsync === "everysec") syncTimer = setInterval(() => raft?.sync(), 1000);
      return SYNCHRONOUS_MODES.indexOf(raft.synchronous());
    case "saveBatch": {
      const started = performance.now();
      const writes = unpackWrites(req.batch);
      if (req.batch.bytes.length < DEFER_CHECKPOINT_BYTES) openedRaft().saveBatch(writes);
      else {
        openedRaft().saveBatchDeferringCheckpoint(writes);
        checkpointDue = true;
      }
      return (performance.now() - started) / 1000;
    }
    case "dropGroup":
      openedRaft().dropGroup(req.grp);
      return 0;
    case "close":
      clearInterval(syncTimer);
      // Closing the last connection checkpoints the WAL, fsyncing it: no separate sync needed.
      raft?.close();
      raft = undefined;
      return 0;
  }
}

self.onmessage = (e: MessageEvent<LogRequest>) => {
  let response: LogResponse;
  try {
    response = { ok: true, value: handle(e.data) };
  } catch (err) {
    response = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  postMessage(response);
  if (checkpointDue) {
    // Requests posted meanwhile wait for it, as they would have behind an autocheckpoint.
    checkpointDue = false;
    try {
      raft?.sync();
    } catch {
      // Nothing is lost: the next commit's autocheckpoint retries it, and a failing disk fails that commit.
    }
  }
};
