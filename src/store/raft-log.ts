// RaftStorage on SQLite (`raft.db`, docs/design/storage.md). Lives outside src/raft because it does I/O.
// One saveBatch is one transaction for any number of groups, so a multi-raft host commits (and,
// with fsync = "always", fsyncs) everything produced in one turn at once, before any message
// that must wait for it leaves the node. A cluster member runs its writes in the log worker
// (worker-raft-storage.ts, log-worker.ts) and keeps an instance here for reads.
import { Database } from "bun:sqlite";
import type { Statement } from "bun:sqlite";
import type { PersistedGroup, RaftStorage } from "../raft/storage.ts";
import { EMPTY_HARD_STATE } from "../raft/storage.ts";
import { decodeConf, encodeConf } from "../raft/conf.ts";
import { synchronousOf, type SynchronousMode } from "./sqlite-sync.ts";
import type { Entry, EntryKind, GroupWrite } from "../raft/types.ts";

export const RAFT_SCHEMA = `
CREATE TABLE IF NOT EXISTS raft_log (grp INTEGER NOT NULL, idx INTEGER NOT NULL, term INTEGER NOT NULL, kind INTEGER NOT NULL, data BLOB, PRIMARY KEY (grp, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS raft_state (grp INTEGER PRIMARY KEY, term INTEGER NOT NULL DEFAULT 0, vote TEXT, commit_idx INTEGER NOT NULL DEFAULT 0, snap_idx INTEGER NOT NULL DEFAULT 0, snap_term INTEGER NOT NULL DEFAULT 0, conf BLOB);
CREATE TABLE IF NOT EXISTS raft_snapshot (grp INTEGER PRIMARY KEY, data BLOB NOT NULL);
`;

/**
 * raft.db files written before raft_snapshot existed keep each snapshot in raft_state.snap_data,
 * where every hard-state upsert (each turn that commits anything) read the whole blob back (and
 * rewrote it when the row changed size, e.g. a vote): after a compaction, a whole partition per
 * group and turn. Moves them out, once.
 */
function moveSnapshotsOutOfState(db: Database): void {
  const columns = db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('raft_state')").all();
  if (!columns.some((c) => c.name === "snap_data")) return;
  db.transaction(() => {
    db.run(
      "INSERT OR REPLACE INTO raft_snapshot (grp, data) SELECT grp, snap_data FROM raft_state WHERE snap_data IS NOT NULL",
    );
    db.run("ALTER TABLE raft_state DROP COLUMN snap_data");
  })();
}

/** SQLite's default wal_autocheckpoint, set explicitly so that saveBatchDeferringCheckpoint can restore it. */
const AUTOCHECKPOINT_PAGES = 1000;

export interface RaftLogOptions {
  /** "always" (default): synchronous=FULL, every saveBatch is durable when it returns. */
  readonly fsync?: "always" | "never";
}

interface StateRow {
  term: number;
  vote: string | null;
  commit_idx: number;
  snap_idx: number;
  snap_term: number;
  conf: Uint8Array | null;
}

interface LogRow {
  idx: number;
  term: number;
  kind: number;
  data: Uint8Array | null;
}

export class SqliteRaftStorage implements RaftStorage {
  readonly db: Database;
  private readonly q: {
    state: Statement<StateRow, [number]>;
    snapData: Statement<{ snap_data: Uint8Array | null }, [number]>;
    entries: Statement<LogRow, [number, number]>;
    groups: Statement<{ grp: number }, []>;
    putHardState: Statement<unknown, [number, number, string | null, number]>;
    putSnapshot: Statement<unknown, [number, number, number, Uint8Array]>;
    putSnapData: Statement<unknown, [number, Uint8Array]>;
    deleteUpTo: Statement<unknown, [number, number]>;
    deleteFrom: Statement<unknown, [number, number]>;
    deleteAll: Statement<unknown, [number]>;
    deleteState: Statement<unknown, [number]>;
    deleteSnapData: Statement<unknown, [number]>;
    insert: Statement<unknown, [number, number, number, number, Uint8Array | null]>;
  };
  private readonly tx: (writes: readonly GroupWrite[]) => void;

  constructor(path: string, opts: RaftLogOptions = {}) {
    this.db = new Database(path, { create: true, strict: true });
    // A cluster member writes through the log worker's connection and, rarely, this one
    // (WorkerRaftStorage.saveNow): the second writer waits for the first instead of failing.
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`PRAGMA synchronous = ${(opts.fsync ?? "always") === "always" ? "FULL" : "NORMAL"}`);
    this.db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.db.exec(RAFT_SCHEMA);
    moveSnapshotsOutOfState(this.db);
    this.q = {
      state: this.db.query("SELECT term, vote, commit_idx, snap_idx, snap_term, conf FROM raft_state WHERE grp = ?"),
      snapData: this.db.query("SELECT data AS snap_data FROM raft_snapshot WHERE grp = ?"),
      entries: this.db.query("SELECT idx, term, kind, data FROM raft_log WHERE grp = ? AND idx > ? ORDER BY idx"),
      groups: this.db.query("SELECT grp FROM raft_state UNION SELECT DISTINCT grp FROM raft_log ORDER BY grp"),
      putHardState: this.db.query(
        `INSERT INTO raft_state (grp, term, vote, commit_idx) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (grp) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_idx = excluded.commit_idx`,
      ),
      putSnapshot: this.db.query(
        `INSERT INTO raft_state (grp, snap_idx, snap_term, conf) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (grp) DO UPDATE SET snap_idx = excluded.snap_idx, snap_term = excluded.snap_term,
           conf = excluded.conf`,
      ),
      putSnapData: this.db.query("INSERT OR REPLACE INTO raft_snapshot (grp, data) VALUES (?, ?)"),
      deleteUpTo: this.db.query("DELETE FROM raft_log WHERE grp = ? AND idx <= ?"),
      deleteFrom: this.db.query("DELETE FROM raft_log WHERE grp = ? AND idx >= ?"),
      deleteAll: this.db.query("DELETE FROM raft_log WHERE grp = ?"),
      deleteState: this.db.query("DELETE FROM raft_state WHERE grp = ?"),
      deleteSnapData: this.db.query("DELETE FROM raft_snapshot WHERE grp = ?"),
      insert: this.db.query("INSERT INTO raft_log (grp, idx, term, kind, data) VALUES (?, ?, ?, ?, ?)"),
    };
    this.tx = this.db.transaction((writes: readonly GroupWrite[]) => this.writeBatch(writes));
  }

  load(grp: number): PersistedGroup {
    const s = this.q.state.get(grp);
    const snapIndex = s?.snap_idx ?? 0;
    const entries: Entry[] = this.q.entries.all(grp, snapIndex).map((r) => ({
      index: r.idx,
      term: r.term,
      kind: r.kind as EntryKind,
      data: r.data,
    }));
    return {
      hardState: s ? { term: s.term, vote: s.vote, commit: s.commit_idx } : EMPTY_HARD_STATE,
      snapshot: { index: snapIndex, term: s?.snap_term ?? 0, conf: decodeConf(s?.conf ?? null) },
      entries,
    };
  }

  snapshotData(grp: number): Uint8Array {
    return this.q.snapData.get(grp)?.snap_data ?? new Uint8Array(0);
  }

  /** Groups that have any stored state (what a restarting multi-raft host must re-open). */
  groups(): number[] {
    return this.q.groups.all().map((r) => r.grp);
  }

  saveBatch(writes: readonly GroupWrite[]): void {
    if (writes.length > 0) this.tx(writes);
  }

  /**
   * saveBatch without the checkpoint SQLite would run inside the commit (once the WAL holds over
   * AUTOCHECKPOINT_PAGES pages, after the commit's fsync): the caller runs sync() once it has
   * answered. A batch of many megabytes (a large value) is durable, and answered, without waiting
   * for its pages to be copied a second time, into raft.db.
   */
  saveBatchDeferringCheckpoint(writes: readonly GroupWrite[]): void {
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    try {
      this.saveBatch(writes);
    } finally {
      this.db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    }
  }

  /** The statements of saveBatch without its transaction, for a host that wraps more in one. */
  writeBatch(writes: readonly GroupWrite[]): void {
    for (const w of writes) {
      if (w.snapshot) {
        const m = w.snapshot.meta;
        if (w.discardLog) this.q.deleteAll.run(w.grp);
        else this.q.deleteUpTo.run(w.grp, m.index);
        this.q.putSnapshot.run(w.grp, m.index, m.term, encodeConf(m.conf));
        this.q.putSnapData.run(w.grp, w.snapshot.data);
      }
      if (w.entries && w.entries.length > 0) {
        this.q.deleteFrom.run(w.grp, w.entries[0].index);
        for (const e of w.entries) this.q.insert.run(w.grp, e.index, e.term, e.kind, e.data);
      }
      if (w.hardState) this.q.putHardState.run(w.grp, w.hardState.term, w.hardState.vote, w.hardState.commit);
    }
  }

  /** Forgets a group entirely (this node no longer holds a replica of it). */
  dropGroup(grp: number): void {
    this.db.transaction(() => {
      this.q.deleteAll.run(grp);
      this.q.deleteState.run(grp);
      this.q.deleteSnapData.run(grp);
    })();
  }

  /**
   * Makes every commit so far durable (a checkpoint fsyncs the WAL): fsync = "everysec", and the
   * checkpoint saveBatchDeferringCheckpoint left out.
   */
  sync(): void {
    this.db.run("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /** The PRAGMA synchronous of the connection that writes raft.db (for /metrics). */
  synchronous(): SynchronousMode {
    return synchronousOf(this.db);
  }

  close(): void {
    this.db.close();
  }
}
