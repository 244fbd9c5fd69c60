// The op log in raft.db, on the schema the Raft storage shares (docs/design/storage.md). It only ever
// takes sequential appends at the tail and deletes at the head, which is what keeps fsynced group
// commits cheap: random-key upserts in the same fsynced transaction cost several times more.
import { Database, SQLiteError, type Statement } from "bun:sqlite";
import { synchronousOf, type SynchronousMode } from "./sqlite-sync.ts";

export type FsyncMode = "always" | "everysec" | "no";

/** Entry kinds; an op proposed by a client is a normal entry (etcd's EntryNormal = 0). */
export const ENTRY_NORMAL = 0;

export interface LogEntry {
  readonly idx: number;
  readonly term: number;
  readonly kind: number;
  readonly data: Uint8Array;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS raft_log (grp INTEGER NOT NULL, idx INTEGER NOT NULL, term INTEGER NOT NULL,
     kind INTEGER NOT NULL, data BLOB, PRIMARY KEY (grp, idx)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS raft_state (grp INTEGER PRIMARY KEY, term INTEGER NOT NULL DEFAULT 0, vote TEXT,
     commit_idx INTEGER NOT NULL DEFAULT 0, snap_idx INTEGER NOT NULL DEFAULT 0, snap_term INTEGER NOT NULL DEFAULT 0,
     conf BLOB, snap_data BLOB)`,
];

export class OpLog {
  /** raft.db transactions committed by append (group commit makes this far below entries). */
  commits = 0;
  private readonly statements: Statement[] = [];
  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;
  private readonly insertEntry: Statement;
  private readonly selectLast: Statement;
  private readonly selectSnapshot: Statement;
  private readonly selectRange: Statement;
  private readonly selectTerm: Statement;
  private readonly deleteUpTo: Statement;
  private readonly putSnapshot: Statement;
  private readonly initState: Statement;

  private constructor(private readonly db: Database) {
    const prepare = (sql: string): Statement => {
      const s = db.prepare(sql);
      this.statements.push(s);
      return s;
    };
    this.begin = prepare("BEGIN IMMEDIATE");
    this.commit = prepare("COMMIT");
    this.rollback = prepare("ROLLBACK");
    this.insertEntry = prepare("INSERT INTO raft_log (grp, idx, term, kind, data) VALUES (?, ?, ?, ?, ?)");
    this.selectLast = prepare("SELECT max(idx) AS idx FROM raft_log WHERE grp = ?");
    this.selectSnapshot = prepare("SELECT snap_idx, snap_term FROM raft_state WHERE grp = ?");
    this.selectRange = prepare(
      "SELECT idx, term, kind, data FROM raft_log WHERE grp = ? AND idx > ? ORDER BY idx LIMIT ?",
    );
    this.selectTerm = prepare("SELECT term FROM raft_log WHERE grp = ? AND idx = ?");
    this.deleteUpTo = prepare("DELETE FROM raft_log WHERE grp = ? AND idx <= ?");
    this.putSnapshot = prepare(
      `INSERT INTO raft_state (grp, snap_idx, snap_term) VALUES (?, ?, ?)
       ON CONFLICT (grp) DO UPDATE SET snap_idx = excluded.snap_idx, snap_term = excluded.snap_term`,
    );
    this.initState = prepare("INSERT OR IGNORE INTO raft_state (grp, term) VALUES (?, ?)");
  }

  /**
   * WAL with synchronous=FULL for fsync "always": every commit is fsynced before it returns, so
   * an acknowledged entry survives kill -9 and power loss. "everysec" and "no" use NORMAL
   * (commits survive kill -9 but not power loss); the caller runs sync() once a second for
   * "everysec".
   */
  static open(path: string, fsync: FsyncMode): OpLog {
    const db = new Database(path, { create: true, strict: true });
    try {
      // Held from the first write until close: a second process on the same data_dir (a
      // second node, a second start by hand) is refused instead of interleaving its appends.
      db.run("PRAGMA locking_mode = EXCLUSIVE");
      db.run("PRAGMA journal_mode = WAL");
      db.run(`PRAGMA synchronous = ${fsync === "always" ? "FULL" : "NORMAL"}`);
      db.transaction(() => {
        for (const statement of SCHEMA) db.run(statement);
      })();
      return new OpLog(db);
    } catch (e) {
      db.close();
      if (e instanceof SQLiteError && e.code?.startsWith("SQLITE_BUSY")) {
        throw new Error(`${path} is in use by another process (or another store in this one)`);
      }
      throw e;
    }
  }

  /** Creates the group's hard state row (at the given term) unless it exists. */
  initGroup(grp: number, term: number): void {
    this.initState.run(grp, term);
  }

  /** Appends consecutive entries in one transaction (one fsync with fsync = "always"). */
  append(grp: number, entries: readonly LogEntry[]): void {
    this.begin.run();
    try {
      for (const e of entries) this.insertEntry.run(grp, e.idx, e.term, e.kind, e.data);
      this.commit.run();
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      throw e;
    }
    this.commits++;
  }

  /** The index and term of the last entry compacted away (0, 0 when nothing was). */
  snapshot(grp: number): { idx: number; term: number } {
    const row = this.selectSnapshot.get(grp) as { snap_idx: number; snap_term: number } | null;
    return { idx: row?.snap_idx ?? 0, term: row?.snap_term ?? 0 };
  }

  /** The index of the last entry, counting compacted ones. */
  lastIndex(grp: number): number {
    const row = this.selectLast.get(grp) as { idx: number | null };
    return Math.max(row.idx ?? 0, this.snapshot(grp).idx);
  }

  /** Up to limit entries with idx > after, in order. */
  entriesAfter(grp: number, after: number, limit: number): LogEntry[] {
    return this.selectRange.all(grp, after, limit) as LogEntry[];
  }

  /**
   * Deletes the entries at or below upTo and records upTo as the compaction point, in one
   * transaction. The caller guarantees everything up to upTo is durably applied elsewhere.
   */
  compact(grp: number, upTo: number, termIfAbsent: number): number {
    const snap = this.snapshot(grp);
    if (upTo <= snap.idx) return 0;
    const term = (this.selectTerm.get(grp, upTo) as { term: number } | null)?.term ?? termIfAbsent;
    this.begin.run();
    try {
      const deleted = this.deleteUpTo.run(grp, upTo).changes;
      this.putSnapshot.run(grp, upTo, term);
      this.commit.run();
      return deleted;
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      throw e;
    }
  }

  /** The connection's PRAGMA synchronous: what a commit waits for (flydb_sqlite_synchronous). */
  synchronous(): SynchronousMode {
    return synchronousOf(this.db);
  }

  /** Makes every commit so far durable (a checkpoint fsyncs the WAL): fsync = "everysec". */
  sync(): void {
    this.db.run("PRAGMA wal_checkpoint(PASSIVE)");
  }

  close(): void {
    for (const s of this.statements) s.finalize();
    this.db.close();
  }
}
