import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeSync,
  closeSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STANDALONE_GROUP } from "../../src/keyspace/groups.ts";
import { type StoreEngineOptions, StoreEngine } from "../../src/store/engine.ts";
import { decodeOp } from "../../src/store/op-codec.ts";
import { StateDb } from "../../src/store/state.ts";
import { int, OK } from "../../src/resp/reply.ts";
import { op, str, testApply, utf8 } from "../helpers/store-apply.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-engine-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `node-${dirCount++}`);

function openEngine(dataDir: string, extra: Partial<StoreEngineOptions> = {}): Promise<StoreEngine> {
  return StoreEngine.open({
    dataDir,
    fsync: "always",
    apply: testApply,
    compactIntervalMs: 0,
    expireIntervalMs: 0,
    ...extra,
  });
}

/** Every live key and value, sorted: the state a node would serve. */
function dump(engine: StoreEngine, now = 0): string[] {
  const out: string[] = [];
  let cursor = 0;
  do {
    const page = engine.keyspace.scan(cursor, 500, now);
    for (const k of page.keys) out.push(`${str(k)}=${str(engine.keyspace.getString(k, now))}`);
    cursor = page.cursor;
  } while (cursor !== 0);
  return out.sort();
}

async function writeKeys(engine: StoreEngine, from: number, to: number): Promise<void> {
  const acks: Promise<unknown>[] = [];
  for (let i = from; i < to; i++) acks.push(engine.propose(op(0, ["set", `k${i}`, `v${i}`], ["incr", "count"])));
  await Promise.all(acks);
}

function copyDir(from: string, to: string, skip: (name: string) => boolean = () => false): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) if (!skip(name)) copyFileSync(join(from, name), join(to, name));
}

/** The commands of every entry still in raft.db (closed: an open store holds it exclusively). */
function logCommands(dataDir: string): string[] {
  const db = new Database(join(dataDir, "raft.db"), { readonly: true });
  try {
    const rows = db
      .query<{ data: Uint8Array }, [number]>("SELECT data FROM raft_log WHERE grp = ? ORDER BY idx")
      .all(STANDALONE_GROUP);
    return rows.map((r) =>
      decodeOp(r.data)
        .cmds.map((c) => c.map((a) => str(a)).join(" "))
        .join("; "),
    );
  } finally {
    db.close();
  }
}

describe("propose", () => {
  test("ops proposed in one turn share one log commit and resolve in order with apply's replies", async () => {
    const engine = await openEngine(freshDir());
    const before = engine.stats().logCommits;
    const replies = await Promise.all(Array.from({ length: 300 }, () => engine.propose(op(0, ["incr", "n"]))));
    expect(replies).toEqual(Array.from({ length: 300 }, (_, i) => int(i + 1)));
    expect(engine.stats().logCommits).toBe(before + 1);
    expect(engine.stats()).toMatchObject({ lastIndex: 300, appliedIndex: 300 });
    // Separate turns: separate commits.
    await engine.propose(op(0, ["incr", "n"]));
    await engine.propose(op(0, ["incr", "n"]));
    expect(engine.stats().logCommits).toBe(before + 3);
    await engine.close();
  });

  test("a write is applied (and readable) only once its log append is durable", async () => {
    const engine = await openEngine(freshDir());
    const ack = engine.propose(op(0, ["set", "k", "v"]));
    await Bun.sleep(0); // the flush has run and the append is on its way to the log worker
    expect(engine.keyspace.getString(utf8("k"), 0)).toBeUndefined();
    expect(engine.stats()).toMatchObject({ lastIndex: 1, appliedIndex: 0 });
    expect(await ack).toEqual(OK);
    expect(str(engine.keyspace.getString(utf8("k"), 0))).toBe("v");
    await engine.close();
  });

  test("proposals made while an append is in flight share the next commit", async () => {
    const engine = await openEngine(freshDir());
    const before = engine.stats().logCommits;
    const first = engine.propose(op(0, ["incr", "n"]));
    await Bun.sleep(0);
    const later = await Promise.all(Array.from({ length: 100 }, () => engine.propose(op(0, ["incr", "n"]))));
    expect(await first).toEqual(int(1));
    expect(later.at(-1)).toEqual(int(101));
    expect(engine.stats().logCommits).toBe(before + 2);
    await engine.close();
  });

  test("an op that throws gets ERR, leaves no writes and does not disturb its batch", async () => {
    const engine = await openEngine(freshDir());
    const replies = await Promise.all([
      engine.propose(op(0, ["set", "a", "1"])),
      engine.propose(op(0, ["set", "x", "before"], ["boom", "x"])),
      engine.propose(op(0, ["set", "b", "2"])),
    ]);
    expect(replies[0]).toEqual(OK);
    expect(replies[1]).toEqual({ t: "error", v: "ERR apply failed at log index 2: boom after a write" });
    expect(replies[2]).toEqual(OK);
    expect(dump(engine)).toEqual(["a=1", "b=2"]);
    await engine.close();
  });

  test("commits are reported for metrics; proposals after close are refused", async () => {
    const commits: number[] = [];
    const engine = await openEngine(freshDir(), { onCommit: (c) => commits.push(c.ops) });
    await Promise.all([engine.propose(op(0, ["set", "a", "1"])), engine.propose(op(0, ["set", "b", "1"]))]);
    expect(commits).toEqual([2]);
    await engine.close();
    await expect(engine.propose(op(0, ["set", "a", "2"]))).rejects.toThrow(/store is closed/);
  });

  test("close commits what is still pending", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    const ack = engine.propose(op(0, ["set", "late", "yes"]));
    await engine.close();
    expect(await ack).toEqual(OK);
    const reopened = await openEngine(dir);
    expect(dump(reopened)).toEqual(["late=yes"]);
    await reopened.close();
  });

  for (const fsync of ["everysec", "no"] as const) {
    test(`fsync = "${fsync}" writes and reopens`, async () => {
      const dir = freshDir();
      const engine = await openEngine(dir, { fsync });
      await writeKeys(engine, 0, 50);
      await engine.close();
      const reopened = await openEngine(dir, { fsync });
      expect(dump(reopened)).toContain("count=50");
      await reopened.close();
    });
  }
});

describe("recovery", () => {
  test("data.db deleted: the state is rebuilt from the log", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 500);
    const expected = dump(engine);
    await engine.close();
    for (const f of ["data.db", "data.db-wal", "data.db-shm"]) rmSync(join(dir, f), { force: true });
    const reopened = await openEngine(dir);
    expect(dump(reopened)).toEqual(expected);
    expect(reopened.stats()).toMatchObject({ lastIndex: 500, appliedIndex: 500 });
    await reopened.close();
  });

  test("data.db that lost its last batches catches up from the log", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 100);
    await engine.close();
    const older = freshDir();
    copyDir(dir, older, (n) => !n.startsWith("data.db"));
    const again = await openEngine(dir);
    await writeKeys(again, 100, 250);
    const expected = dump(again);
    await again.close();
    copyDir(older, dir); // data.db back to index 100, the log is at 250
    const reopened = await openEngine(dir);
    expect(dump(reopened)).toEqual(expected);
    expect(dump(reopened)).toContain("count=250");
    await reopened.close();
  });

  test("a damaged data.db is moved aside and rebuilt while the log is complete", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 200);
    const expected = dump(engine);
    await engine.close();
    const fd = openSync(join(dir, "data.db"), "r+");
    writeSync(fd, new Uint8Array(100).fill(0x5a), 0, 100, 0);
    closeSync(fd);
    const warnings: string[] = [];
    const reopened = await openEngine(dir, { warn: (m) => warnings.push(m) });
    expect(dump(reopened)).toEqual(expected);
    expect(readdirSync(dir).some((n) => n.startsWith("data.db.damaged-"))).toBe(true);
    expect(warnings).toEqual([
      expect.stringMatching(/data.db is damaged \(file is not a database\); moved it to .*rebuilding it from raft.db/),
    ]);
    await reopened.close();
  });

  test("raft.db that lost its tail (fsync off) continues after what data.db applied", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir, { fsync: "no" });
    await writeKeys(engine, 0, 100);
    await engine.close();
    const older = freshDir();
    copyDir(dir, older, (n) => !n.startsWith("raft.db"));
    const again = await openEngine(dir, { fsync: "no" });
    await writeKeys(again, 100, 150);
    await again.close();
    copyDir(older, dir); // raft.db back to index 100, data.db at 150
    const warnings: string[] = [];
    const reopened = await openEngine(dir, { fsync: "no", warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/raft.db ends at index 100 but data.db has applied 150/)]);
    expect(reopened.stats()).toMatchObject({ lastIndex: 150, appliedIndex: 150, compactedIndex: 150 });
    await writeKeys(reopened, 150, 160);
    await reopened.close();
    const last = await openEngine(dir, { fsync: "no" });
    expect(last.stats()).toMatchObject({ lastIndex: 160, appliedIndex: 160 });
    expect(dump(last)).toContain("count=160");
    await last.close();
  });

  test("a WAL torn mid-frame after a checkpoint: the prefix stays and the log replays the rest", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 100);
    await engine.compact(); // data.db file now holds index 100; the WAL starts over
    for (let i = 100; i < 400; i += 20) await writeKeys(engine, i, i + 20);
    const expected = dump(engine);
    // Copy while open: the WAL is what a crash would leave behind.
    const torn = freshDir();
    copyDir(dir, torn, (n) => n.endsWith("-shm"));
    await engine.close();
    const wal = join(torn, "data.db-wal");
    expect(statSync(wal).size).toBeGreaterThan(10_000);
    truncateSync(wal, Math.floor(statSync(wal).size / 2) + 7);
    const tornState = StateDb.open({ path: join(torn, "data.db"), partitionCount: 256 });
    const survived = tornState.appliedIndex(STANDALONE_GROUP);
    await tornState.close();
    expect(survived).toBeGreaterThanOrEqual(100);
    expect(survived).toBeLessThan(400);
    const reopened = await openEngine(torn);
    expect(dump(reopened)).toEqual(expected);
    await reopened.close();
  });
});

describe("compaction", () => {
  test("deletes only what data.db holds durably; losing data.db's WAL afterwards loses nothing", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 100);
    expect(await engine.compact()).toBe(100);
    expect(engine.stats().compactedIndex).toBe(100);
    await writeKeys(engine, 100, 150);
    const expected = dump(engine);
    // The durable part of data.db: its main file as of the checkpoint, without the WAL.
    const crashed = freshDir();
    copyDir(dir, crashed, (n) => n.startsWith("data.db-"));
    await engine.close();
    const left = logCommands(dir);
    expect(left).toHaveLength(50);
    expect(left[0]).toBe("set k100 v100; incr count");
    const reopened = await openEngine(crashed);
    expect(dump(reopened)).toEqual(expected);
    expect(reopened.stats()).toMatchObject({ lastIndex: 150, appliedIndex: 150, compactedIndex: 100 });
    await writeKeys(reopened, 150, 160);
    expect(reopened.stats().lastIndex).toBe(160);
    await reopened.close();
  });

  test("a compacted log with a lost data.db refuses to start instead of serving an empty state", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 20);
    await engine.compact();
    await engine.close();
    const damaged = freshDir();
    copyDir(dir, damaged);
    for (const f of ["data.db", "data.db-wal", "data.db-shm"]) rmSync(join(dir, f), { force: true });
    await expect(openEngine(dir)).rejects.toThrow(
      /applied the log up to index 0, but raft.db keeps only entries after 20/,
    );
    const fd = openSync(join(damaged, "data.db"), "r+");
    writeSync(fd, new Uint8Array(100).fill(0x5a), 0, 100, 0);
    closeSync(fd);
    await expect(openEngine(damaged)).rejects.toThrow(/data.db is damaged .* cannot be rebuilt/);
  });

  test("compacts at most maxEntries per call", async () => {
    const dir = freshDir();
    const engine = await openEngine(dir);
    await writeKeys(engine, 0, 25);
    expect(await engine.compact(10)).toBe(10);
    expect(await engine.compact(10)).toBe(10);
    expect(await engine.compact(10)).toBe(5);
    expect(await engine.compact(10)).toBe(0);
    expect(engine.stats().compactedIndex).toBe(25);
    await engine.close();
    expect(logCommands(dir)).toEqual([]);
  });

  test("runs on its timer", async () => {
    const engine = await openEngine(freshDir(), { compactIntervalMs: 20 });
    await writeKeys(engine, 0, 30);
    for (let i = 0; i < 100 && engine.stats().compactedIndex < 30; i++) await Bun.sleep(10);
    expect(engine.stats().compactedIndex).toBe(30);
    await engine.close();
  });
});

describe("active expiry", () => {
  test("expired keys are deleted by an __expire op that goes through the log", async () => {
    const dir = freshDir();
    let now = 1000;
    const engine = await openEngine(dir, { expireIntervalMs: 5, expireBatch: 3, clock: () => now });
    await Promise.all([
      ...Array.from({ length: 7 }, (_, i) => engine.propose(op(now, ["set", `t${i}`, "v", "1500"]))),
      engine.propose(op(now, ["set", "keep", "v", "9000"])),
    ]);
    now = 1500;
    for (let i = 0; i < 200 && engine.keyspace.expiredEverywhere(now, 10).length > 0; i++) await Bun.sleep(5);
    expect(engine.keyspace.expiredEverywhere(now, 10)).toEqual([]);
    expect(dump(engine, 0)).toEqual(["keep=v"]);
    await engine.close();
    const sweeps = logCommands(dir).filter((c) => c.startsWith("__expire"));
    expect(sweeps.length).toBeGreaterThanOrEqual(3); // 7 keys, at most 3 per op
    expect(
      sweeps
        .join(" ")
        .split(" ")
        .filter((w) => w.startsWith("t"))
        .sort(),
    ).toEqual(Array.from({ length: 7 }, (_, i) => `t${i}`));
  });
});

test("an apply that does not remove expired keys does not make the sweep spin", async () => {
  const dir = freshDir();
  const engine = await openEngine(dir, {
    expireIntervalMs: 20,
    expireBatch: 2,
    clock: () => 2000,
    apply: (o, ks) => (str(o.cmds[0][0]) === "__expire" ? int(0) : testApply(o, ks)),
  });
  await Promise.all(Array.from({ length: 5 }, (_, i) => engine.propose(op(0, ["set", `t${i}`, "v", "1000"]))));
  await Bun.sleep(200);
  await engine.close();
  const sweeps = logCommands(dir).filter((c) => c.startsWith("__expire")).length;
  expect(sweeps).toBeGreaterThan(0);
  expect(sweeps).toBeLessThanOrEqual(11); // one per timer tick, not one per event-loop turn
});

test("a second store on the same data_dir is refused while the first is open", async () => {
  const dir = freshDir();
  const first = await openEngine(dir);
  await expect(openEngine(dir)).rejects.toThrow(/raft.db is in use by another process/);
  await first.close();
  await (await openEngine(dir)).close();
});

test("data_dir is created when missing", async () => {
  const dir = join(freshDir(), "nested", "data");
  const engine = await openEngine(dir);
  expect(existsSync(join(dir, "raft.db"))).toBe(true);
  expect(existsSync(join(dir, "data.db"))).toBe(true);
  await engine.close();
});
