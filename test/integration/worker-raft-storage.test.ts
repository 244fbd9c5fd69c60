// A cluster member's raft.db written through the log worker (WorkerRaftStorage): saves commit in
// order in the worker, reads on this thread see them once durable, and a group whose drop is
// still queued already loads as empty.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkerRaftStorage } from "../../src/store/worker-raft-storage.ts";
import { SqliteRaftStorage } from "../../src/store/raft-log.ts";
import { packWrites, unpackWrites } from "../../src/store/raft-write-transfer.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import { EntryKind, type Entry, type GroupWrite } from "../../src/raft/types.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-worker-raftlog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `raft-${++n}.db`);
const bytes = (t: string) => new TextEncoder().encode(t);
const ent = (index: number, term: number, t: string): Entry => ({
  index,
  term,
  kind: EntryKind.Normal,
  data: bytes(t),
});

describe("WorkerRaftStorage", () => {
  test("a batch packed for the worker keeps every write: entries with and without data, hard states, snapshots", () => {
    const writes: GroupWrite[] = [
      bootstrapWrite(1, ["a", "b"], { data: [bytes("founding")] }),
      {
        grp: 2,
        snapshot: { meta: { index: 5, term: 2, conf: { voters: ["a"], learners: ["b"] } }, data: bytes("snap") },
        discardLog: true,
      },
      {
        grp: 3,
        entries: [ent(7, 3, "x"), { index: 8, term: 4, kind: EntryKind.Noop, data: null }, ent(9, 4, "")],
        hardState: { term: 4, vote: "a", commit: 8 },
      },
    ];
    expect(unpackWrites(structuredClone(packWrites(writes)))).toEqual(writes);
  });

  test("saves land in order and are readable here once durable; a queued drop already loads as empty", async () => {
    const path = freshPath();
    const commits: number[] = [];
    const s = await WorkerRaftStorage.open(path, "always", { onCommit: (_, entries) => commits.push(entries) });
    s.saveNow([bootstrapWrite(1, ["a"]), bootstrapWrite(2, ["a"])]);
    const first = s.saveBatch([
      { grp: 1, entries: [ent(2, 1, "x"), ent(3, 1, "y")], hardState: { term: 1, vote: null, commit: 3 } },
    ]);
    const second = s.saveBatch([{ grp: 1, entries: [ent(3, 2, "z")], hardState: { term: 2, vote: "a", commit: 2 } }]);
    // Group 1 has writes queued: loading it now would answer stale, and a direct save could overtake them.
    expect(() => s.load(1)).toThrow("being saved");
    expect(() => s.saveNow([bootstrapWrite(1, ["a"])])).toThrow("still being saved");
    await Promise.all([first, second]);
    const g1 = s.load(1);
    expect(g1.entries.map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/1", "3/2"]);
    expect(g1.hardState).toEqual({ term: 2, vote: "a", commit: 2 });
    expect(commits).toEqual([2, 1]);
    s.dropGroup(2);
    expect(s.load(2).entries).toEqual([]);
    expect(s.snapshotData(2)).toEqual(new Uint8Array(0));
    await s.saveBatch([{ grp: 1, hardState: { term: 3, vote: null, commit: 3 } }]); // after the drop
    expect(s.groups()).toEqual([1]);
    await s.close();
    const reopened = new SqliteRaftStorage(path);
    expect(reopened.load(1).hardState).toEqual({ term: 3, vote: null, commit: 3 });
    expect(reopened.groups()).toEqual([1]);
    reopened.close();
  });

  test("a batch of a large entry is answered durable, then checkpointed into raft.db without another write", async () => {
    const path = freshPath();
    const s = await WorkerRaftStorage.open(path, "always");
    s.saveNow([bootstrapWrite(1, ["a"])]);
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    await s.saveBatch([{ grp: 1, entries: [{ index: 2, term: 1, kind: EntryKind.Normal, data: big }] }]);
    // The commit skipped SQLite's autocheckpoint; the worker runs it after answering.
    const deadline = Date.now() + 5_000;
    while (statSync(path).size < big.length && Date.now() < deadline) await Bun.sleep(20);
    expect(statSync(path).size).toBeGreaterThan(big.length);
    expect(Buffer.compare(s.load(1).entries.at(-1)!.data!, big)).toBe(0);
    await s.close();
  });

  test("a failed write rejects it and every later one, and a failed drop is reported", async () => {
    const errors: string[] = [];
    const s = await WorkerRaftStorage.open(freshPath(), "no", { onError: (e) => errors.push(e.message) });
    s.saveNow([bootstrapWrite(1, ["a"])]);
    // Entry 1 exists: a second insert at index 1 without replacing from there breaks the primary key.
    const failed = (p: Promise<void>) =>
      p.then(
        () => "saved",
        (e: Error) => e.message,
      );
    const duplicate = s.saveBatch([{ grp: 1, entries: [ent(2, 1, "x"), ent(2, 1, "again")] }]);
    expect(await failed(duplicate)).toContain("UNIQUE constraint failed");
    expect(await failed(s.saveBatch([{ grp: 1, entries: [ent(2, 1, "x")] }]))).toContain("raft.db write failed");
    s.dropGroup(1);
    await Bun.sleep(10);
    expect(errors.length).toBe(1);
    expect(errors[0]).toContain("raft.db write failed");
    await s.close();
  });
});
