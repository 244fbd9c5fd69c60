// The session records of exactly-once cluster writes (keyspace/sessions.ts) in data.db: one
// row per (group, node, session), written in the transaction of the apply that changed it, so a
// restart or a snapshot of the partition carries them along with the rows they describe.
import type { Database, Statement } from "bun:sqlite";
import { Packr } from "msgpackr";
import { GroupSessions, sessionKey, type SessionRecord } from "../keyspace/sessions.ts";
import type { Reply } from "../resp/reply.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });

export const SESSIONS_DDL = `CREATE TABLE IF NOT EXISTS proposal_sessions (
  grp INTEGER NOT NULL, node TEXT NOT NULL, session INTEGER NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (grp, node, session)) WITHOUT ROWID`;

/** A row as a partition snapshot carries it: [node, session, record]. */
export type SessionRow = [string, number, Uint8Array];

type Encoded = [number, number, [number, Reply][]];

const encode = (r: SessionRecord<Reply>): Uint8Array => packr.pack([r.ack, r.now, [...r.replies]] satisfies Encoded);

function decode(data: Uint8Array): SessionRecord<Reply> {
  const [ack, now, replies] = packr.unpack(data) as Encoded;
  return { ack, now, replies: new Map(replies) };
}

function splitKey(key: string): [string, number] {
  const i = key.indexOf(":");
  return [key.slice(i + 1), Number(key.slice(0, i))];
}

/** Each group's records, loaded on first use and kept equal to the rows (see forget()). */
export class SessionStore {
  private readonly groups = new Map<number, GroupSessions<Reply>>();
  private readonly select: Statement;
  private readonly upsert: Statement;
  private readonly remove: Statement;

  constructor(db: Database) {
    this.select = db.prepare("SELECT node, session, record FROM proposal_sessions WHERE grp = ?");
    this.upsert = db.prepare(
      "INSERT INTO proposal_sessions (grp, node, session, record) VALUES (?, ?, ?, ?) ON CONFLICT (grp, node, session) DO UPDATE SET record = excluded.record",
    );
    this.remove = db.prepare("DELETE FROM proposal_sessions WHERE grp = ? AND node = ? AND session = ?");
  }

  of(grp: number): GroupSessions<Reply> {
    let g = this.groups.get(grp);
    if (!g) {
      const rows = this.select.values(grp) as SessionRow[];
      g = new GroupSessions(
        new Map(rows.map(([node, session, record]) => [sessionKey(node, session), decode(record)])),
      );
      this.groups.set(grp, g);
    }
    return g;
  }

  /** Writes what changed in grp's records; call inside the transaction of the apply. */
  persist(grp: number): void {
    const g = this.groups.get(grp);
    if (!g) return;
    const { written, removed } = g.takeChanges();
    for (const [key, rec] of written) this.upsert.run(grp, ...splitKey(key), encode(rec));
    for (const key of removed) this.remove.run(grp, ...splitKey(key));
  }

  /** Drops cached records (the rows changed under them, or a transaction rolled back). */
  forget(grp?: number): void {
    if (grp === undefined) this.groups.clear();
    else this.groups.delete(grp);
  }

  close(): void {
    for (const s of [this.select, this.upsert, this.remove]) s.finalize();
  }
}

export function exportSessions(db: Database, grp: number): SessionRow[] {
  return db.query("SELECT node, session, record FROM proposal_sessions WHERE grp = ?").values(grp) as SessionRow[];
}

/** Replaces grp's rows; call inside the snapshot install's transaction. */
export function importSessions(db: Database, grp: number, rows: readonly SessionRow[]): void {
  db.run("DELETE FROM proposal_sessions WHERE grp = ?", [grp]);
  const insert = db.prepare("INSERT INTO proposal_sessions (grp, node, session, record) VALUES (?, ?, ?, ?)");
  for (const [node, session, record] of rows) insert.run(grp, node, session, record);
  insert.finalize();
}

/**
 * The session number of this incarnation: above every earlier one of this data dir and at least
 * the wall clock, so neither a restart nor a wiped data dir (same node id, clock moved on) reuses
 * one. Stored and checkpointed (fsynced) before the node proposes anything.
 */
export function nextSession(db: Database, now: number): number {
  const row = db.query<{ value: number }, []>("SELECT value FROM settings WHERE name = 'proposal_session'").get();
  const session = Math.max((row?.value ?? 0) + 1, now);
  db.run(
    "INSERT INTO settings (name, value) VALUES ('proposal_session', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    [session],
  );
  db.run("PRAGMA wal_checkpoint(FULL)");
  return session;
}
