import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../src/store/raft-log.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import { Raft } from "../../src/raft/raft.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { EntryKind } from "../../src/raft/types.ts";
import type { Entry } from "../../src/raft/types.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-raftlog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `raft-${++n}.db`);
const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);
const ent = (index: number, term: number, t: string): Entry => ({
  index,
  term,
  kind: EntryKind.Normal,
  data: bytes(t),
});

describe("SqliteRaftStorage", () => {
  test("sync (fsync = everysec's once-a-second call) moves committed batches out of the WAL into raft.db", () => {
    const path = freshPath();
    const s = new SqliteRaftStorage(path, { fsync: "never" });
    s.saveBatch([bootstrapWrite(1, ["a"]), { grp: 1, entries: [ent(2, 1, "x")] }]);
    const inFile = () => {
      copyFileSync(path, `${path}.copy`); // the database file alone, without its WAL
      const copy = new SqliteRaftStorage(`${path}.copy`, { fsync: "never" });
      const entries = copy.load(1).entries.map((e) => e.index);
      copy.close();
      rmSync(`${path}.copy`);
      for (const suffix of ["-wal", "-shm"]) rmSync(`${path}.copy${suffix}`, { force: true });
      return entries;
    };
    expect(inFile()).toEqual([]);
    s.sync();
    expect(inFile()).toEqual([1, 2]);
    s.close();
  });

  test("uses WAL and synchronous=FULL with fsync=always, NORMAL otherwise", () => {
    const a = new SqliteRaftStorage(freshPath(), { fsync: "always" });
    expect(a.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(a.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 });
    a.close();
    const b = new SqliteRaftStorage(freshPath(), { fsync: "never" });
    expect(b.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 });
    b.close();
  });

  test("round-trips entries, hard state, snapshot and membership across reopen", () => {
    const path = freshPath();
    const s = new SqliteRaftStorage(path);
    expect(s.load(9)).toEqual({
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: { index: 0, term: 0, conf: { voters: [], learners: [] } },
      entries: [],
    });
    s.saveBatch([bootstrapWrite(9, ["x", "y"])]);
    s.saveBatch([
      {
        grp: 9,
        entries: [ent(2, 2, "a"), ent(3, 2, "b"), { index: 4, term: 2, kind: EntryKind.Noop, data: null }],
        hardState: { term: 2, vote: "y", commit: 3 },
      },
    ]);
    s.close();
    const r = new SqliteRaftStorage(path);
    const p = r.load(9);
    expect(p.hardState).toEqual({ term: 2, vote: "y", commit: 3 });
    expect(p.entries.map((e) => [e.index, e.term, e.kind, text(e.data)])).toEqual([
      [1, 1, EntryKind.ConfChange, '{"voters":["x","y"],"learners":[]}'],
      [2, 2, 0, "a"],
      [3, 2, 0, "b"],
      [4, 2, 2, null],
    ]);
    expect(r.groups()).toEqual([9]);
    r.saveBatch([bootstrapWrite(4, ["x"])]);
    expect(r.groups()).toEqual([4, 9]);
    r.dropGroup(9);
    expect(r.groups()).toEqual([4]);
    expect(r.load(9).entries).toEqual([]);
    expect(r.load(9).hardState.term).toBe(0);
    r.close();
  });

  test("an append replaces the stored suffix from its first index", () => {
    const s = new SqliteRaftStorage(freshPath());
    s.saveBatch([{ grp: 1, entries: [ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 1, "c")] }]);
    s.saveBatch([{ grp: 1, entries: [ent(2, 2, "B")] }]);
    expect(s.load(1).entries.map((e) => `${e.index}/${e.term}/${text(e.data)}`)).toEqual(["1/1/a", "2/2/B"]);
    s.close();
  });

  test("compaction keeps the log after the snapshot; an installed snapshot discards it", () => {
    const s = new SqliteRaftStorage(freshPath());
    const conf = { voters: ["a", "b"], learners: ["c"] };
    s.saveBatch([{ grp: 1, entries: [1, 2, 3, 4].map((i) => ent(i, 1, `e${i}`)) }]);
    s.saveBatch([{ grp: 1, snapshot: { meta: { index: 2, term: 1, conf }, data: bytes("S2") } }]);
    let p = s.load(1);
    expect(p.snapshot).toEqual({ index: 2, term: 1, conf });
    expect(p.entries.map((e) => e.index)).toEqual([3, 4]);
    expect(text(s.snapshotData(1))).toBe("S2");
    s.saveBatch([{ grp: 1, snapshot: { meta: { index: 3, term: 2, conf }, data: bytes("S3") }, discardLog: true }]);
    p = s.load(1);
    expect(p.snapshot.index).toBe(3);
    expect(p.entries).toEqual([]);
    s.close();
  });

  test("a vote saved after a large snapshot does not rewrite the snapshot (it lives in its own table)", () => {
    const s = new SqliteRaftStorage(freshPath());
    const conf = { voters: ["a"], learners: [] };
    s.saveBatch([{ grp: 1, snapshot: { meta: { index: 5, term: 1, conf }, data: new Uint8Array(400_000) } }]);
    const walFrames = () => s.db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!.log;
    s.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    s.saveBatch([{ grp: 1, hardState: { term: 1, vote: "a", commit: 6 } }]);
    // The vote grows raft_state's row; with the snapshot in that row, SQLite rewrote all 100 of
    // its overflow pages. A save that keeps the row's size still read the whole blob (~35 ms per
    // save for 2 MB: docs/PERFORMANCE.md), which no test can assert without timing.
    expect(walFrames()).toBeLessThanOrEqual(2);
    expect(s.snapshotData(1).length).toBe(400_000);
    s.close();
  });

  test("a raft.db from before raft_snapshot keeps its snapshots (moved out of raft_state on open)", () => {
    const path = freshPath();
    const old = new Database(path, { create: true, strict: true });
    old.exec(
      `CREATE TABLE raft_state (grp INTEGER PRIMARY KEY, term INTEGER NOT NULL DEFAULT 0, vote TEXT,
         commit_idx INTEGER NOT NULL DEFAULT 0, snap_idx INTEGER NOT NULL DEFAULT 0,
         snap_term INTEGER NOT NULL DEFAULT 0, conf BLOB, snap_data BLOB)`,
    );
    old.run(
      "INSERT INTO raft_state (grp, term, commit_idx, snap_idx, snap_term, snap_data) VALUES (4, 2, 9, 7, 2, ?)",
      [bytes("S7")],
    );
    old.close();
    const s = new SqliteRaftStorage(path);
    expect(text(s.snapshotData(4))).toBe("S7");
    expect(s.load(4).snapshot.index).toBe(7);
    expect(s.load(4).hardState).toEqual({ term: 2, vote: null, commit: 9 });
    const columns = s.db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('raft_state')").all();
    expect(columns.map((c) => c.name)).not.toContain("snap_data");
    s.close();
  });

  test("one batch covering many groups is atomic: a failing write rolls all of them back", () => {
    const s = new SqliteRaftStorage(freshPath());
    const bad = { index: null as unknown as number, term: 1, kind: EntryKind.Normal, data: null };
    expect(() =>
      s.saveBatch([
        { grp: 1, entries: [ent(1, 1, "a")], hardState: { term: 1, vote: null, commit: 1 } },
        { grp: 2, entries: [bad] },
      ]),
    ).toThrow();
    expect(s.load(1).entries).toEqual([]);
    expect(s.load(1).hardState.term).toBe(0);
    s.close();
  });

  async function killedWriter(mode: "torn" | "committed"): Promise<string> {
    const path = freshPath();
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/raft-log-writer.ts"), path, mode], {
      stdout: "pipe",
      stderr: "inherit",
      env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" },
    });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("READY")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`writer exited early: ${out}`);
      out += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    await child.exited;
    expect(child.signalCode).toBe("SIGKILL");
    return path;
  }

  test("SIGKILL inside the transaction: restart sees exactly the last committed batch", async () => {
    const s = new SqliteRaftStorage(await killedWriter("torn"));
    const g1 = s.load(1);
    expect(g1.hardState).toEqual({ term: 2, vote: "b", commit: 3 });
    expect(g1.entries.map((e) => `${e.index}/${e.term}/${text(e.data)}`).slice(1)).toEqual([
      "2/2/one-2",
      "3/2/one-3",
      "4/2/one-4",
    ]);
    const g2 = s.load(2);
    expect(g2.snapshot).toEqual({ index: 5, term: 2, conf: { voters: ["a", "b", "c"], learners: ["d"] } });
    expect(g2.entries).toEqual([]);
    expect(g2.hardState).toEqual({ term: 2, vote: "a", commit: 5 });
    expect(text(s.snapshotData(2))).toBe("snap-5");
    expect(s.groups()).toEqual([1, 2]);

    // The core restarts on it: term, vote, commit, log and membership come back.
    const r1 = new Raft({ grp: 1, id: "a", storage: s, random: seededRandom(1) });
    expect(r1.status()).toMatchObject({
      term: 2,
      vote: "b",
      commit: 3,
      lastIndex: 4,
      conf: { voters: ["a", "b", "c"], learners: [] },
    });
    const r2 = new Raft({ grp: 2, id: "d", storage: s, random: seededRandom(1) });
    expect(r2.status()).toMatchObject({
      term: 2,
      commit: 5,
      applied: 5,
      snapshotIndex: 5,
      conf: { voters: ["a", "b", "c"], learners: ["d"] },
    });
    s.close();
  });

  test("SIGKILL after the commit: restart sees the whole second batch", async () => {
    const s = new SqliteRaftStorage(await killedWriter("committed"));
    const g1 = s.load(1);
    expect(g1.hardState).toEqual({ term: 3, vote: "c", commit: 4 });
    expect(g1.entries.map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/2", "3/2", "4/3", "5/3"]);
    expect(s.load(2).entries.map((e) => e.index)).toEqual([6]);
    expect(s.load(3).entries.map((e) => text(e.data))).toEqual(["new-group"]);
    s.close();
  });

  test("a gap between snapshot and log is reported on restart, not papered over", () => {
    const s = new SqliteRaftStorage(freshPath());
    s.saveBatch([
      {
        grp: 1,
        snapshot: { meta: { index: 5, term: 1, conf: { voters: ["a"], learners: [] } }, data: bytes("") },
        entries: [ent(7, 1, "x")],
      },
    ]);
    expect(() => new Raft({ grp: 1, id: "a", storage: s, random: seededRandom(1) })).toThrow(
      /log gap, expected index 6/,
    );
    s.close();
  });
});
