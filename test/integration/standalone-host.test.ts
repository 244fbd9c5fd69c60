// A standalone node's write path (src/cluster/standalone.ts on the multi-raft host): group commit,
// durability before apply, recovery of data.db and raft.db, compaction, active expiry, and the
// data dir lock. The commands are the real ones; the kill -9 tests are standalone-durability and
// durability, the model check standalone-model.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StandaloneHost } from "../../src/cluster/standalone.ts";
import { STANDALONE_GROUP } from "../../src/keyspace/groups.ts";
import { EntryKind } from "../../src/raft/types.ts";
import { int, OK } from "../../src/resp/reply.ts";
import { decodeOp } from "../../src/store/op-codec.ts";
import { StateDb } from "../../src/store/state.ts";
import { op, str, utf8 } from "../helpers/ops.ts";
import { openStandalone } from "../helpers/standalone-host.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-standalone-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `node-${dirCount++}`);
const DATA_FILES = ["data.db", "data.db-wal", "data.db-shm"];

/** Every live key and value, sorted: the state the node serves. */
function dump(host: StandaloneHost, now = Date.now()): string[] {
  const ks = host.replicas.keyspace;
  const out: string[] = [];
  let cursor = 0;
  do {
    const page = ks.scan(cursor, 500, now);
    for (const k of page.keys) out.push(`${str(k)}=${str(ks.getString(k, now))}`);
    cursor = page.cursor;
  } while (cursor !== 0);
  return out.sort();
}

async function writeKeys(host: StandaloneHost, from: number, to: number): Promise<void> {
  const acks: Promise<unknown>[] = [];
  for (let i = from; i < to; i++) acks.push(host.propose(op(0, ["set", `k${i}`, `v${i}`], ["incr", "count"])));
  await Promise.all(acks);
}

function copyDir(from: string, to: string, skip: (name: string) => boolean = () => false): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) if (!skip(name)) copyFileSync(join(from, name), join(to, name));
}

/** The ops (as "cmd args; cmd args") of the standalone group's log in raft.db, read beside the node. */
function logCommands(dataDir: string): string[] {
  const db = new Database(join(dataDir, "raft.db"), { readonly: true });
  try {
    const rows = db
      .query<{ kind: number; data: Uint8Array | null }, [number]>(
        "SELECT kind, data FROM raft_log WHERE grp = ? ORDER BY idx",
      )
      .all(STANDALONE_GROUP);
    return rows
      .filter((r) => r.kind === EntryKind.Normal && r.data)
      .map((r) =>
        decodeOp(r.data!)
          .cmds.map((c) => c.map((a) => str(a)).join(" "))
          .join("; "),
      );
  } finally {
    db.close();
  }
}

function damage(path: string): void {
  const fd = openSync(path, "r+");
  writeSync(fd, new Uint8Array(100).fill(0x5a), 0, 100, 0);
  closeSync(fd);
}

describe("propose", () => {
  test("ops proposed in one turn share one raft.db commit and resolve in order with apply's replies", async () => {
    const host = await openStandalone(freshDir());
    const commits: number[] = [];
    host.replicas.stats.onStorageCommit((_, entries) => commits.push(entries));
    const replies = await Promise.all(Array.from({ length: 300 }, () => host.propose(op(0, ["incr", "n"]))));
    expect(replies).toEqual(Array.from({ length: 300 }, (_, i) => int(i + 1)));
    expect(commits).toEqual([300]);
    // Separate turns: separate commits.
    await host.propose(op(0, ["incr", "n"]));
    await host.propose(op(0, ["incr", "n"]));
    expect(commits).toEqual([300, 1, 1]);
    await host.stop();
  });

  test("a write is applied (and readable) only once its log append is durable", async () => {
    const host = await openStandalone(freshDir());
    const before = host.appliedIndex();
    const ack = host.propose(op(0, ["set", "k", "v"]));
    await Bun.sleep(0); // the turn has run and the append is on its way to the log worker
    expect(host.replicas.keyspace.getString(utf8("k"), 0)).toBeUndefined();
    expect(host.appliedIndex()).toBe(before);
    expect(await ack).toEqual(OK);
    expect(str(host.replicas.keyspace.getString(utf8("k"), 0))).toBe("v");
    await host.stop();
  });

  test("stop answers what is still pending; a reopened node holds it", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    const ack = host.propose(op(0, ["set", "late", "yes"]));
    await host.stop();
    expect(await ack).toEqual(OK);
    const reopened = await openStandalone(dir);
    expect(dump(reopened)).toEqual(["late=yes"]);
    await reopened.stop();
  });

  for (const fsync of ["everysec", "no"] as const) {
    test(`fsync = "${fsync}" writes and reopens`, async () => {
      const dir = freshDir();
      const host = await openStandalone(dir, { fsync });
      await writeKeys(host, 0, 50);
      await host.stop();
      const reopened = await openStandalone(dir, { fsync });
      expect(dump(reopened)).toContain("count=50");
      await reopened.stop();
    });
  }
});

describe("recovery", () => {
  test("data.db deleted: the state is rebuilt from the log", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 500);
    const expected = dump(host);
    await host.stop();
    for (const f of DATA_FILES) rmSync(join(dir, f), { force: true });
    const reopened = await openStandalone(dir);
    expect(dump(reopened)).toEqual(expected);
    await reopened.stop();
  });

  test("data.db that lost its last batches catches up from the log", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 100);
    await host.stop();
    const older = freshDir();
    copyDir(dir, older, (n) => !n.startsWith("data.db"));
    const again = await openStandalone(dir);
    await writeKeys(again, 100, 250);
    const expected = dump(again);
    await again.stop();
    copyDir(older, dir); // data.db back to 100 writes, the log holds 250
    const reopened = await openStandalone(dir);
    expect(dump(reopened)).toEqual(expected);
    expect(dump(reopened)).toContain("count=250");
    await reopened.stop();
  });

  test("a damaged data.db is moved aside and rebuilt while the log is complete", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 200);
    const expected = dump(host);
    await host.stop();
    damage(join(dir, "data.db"));
    const warnings: string[] = [];
    const reopened = await openStandalone(dir, {}, warnings);
    expect(dump(reopened)).toEqual(expected);
    expect(readdirSync(dir).some((n) => n.startsWith("data.db.damaged-"))).toBe(true);
    expect(warnings).toEqual([
      expect.stringMatching(/data.db is damaged \(file is not a database\); moved it to .*rebuilding it from raft.db/),
    ]);
    await reopened.stop();
  });

  test("raft.db that lost its tail (fsync off) continues after what data.db applied", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir, { fsync: "no" });
    await writeKeys(host, 0, 100);
    await host.stop();
    const older = freshDir();
    copyDir(dir, older, (n) => !n.startsWith("raft.db"));
    const again = await openStandalone(dir, { fsync: "no" });
    await writeKeys(again, 100, 150);
    const applied = again.appliedIndex();
    await again.stop();
    copyDir(older, dir); // raft.db back to 100 writes, data.db at 150
    const warnings: string[] = [];
    const reopened = await openStandalone(dir, { fsync: "no" }, warnings);
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`standalone log ends at index \\d+ but data.db has applied ${applied}`)),
    ]);
    expect(reopened.appliedIndex()).toBeGreaterThan(applied);
    await writeKeys(reopened, 150, 160);
    await reopened.stop();
    const last = await openStandalone(dir, { fsync: "no" });
    expect(dump(last)).toContain("count=160");
    await last.stop();
  });

  test("a WAL torn mid-frame after a checkpoint: the prefix stays and the log replays the rest", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 100);
    host.save(); // the data.db file now holds the first 100 writes; its WAL starts over
    const saved = host.appliedIndex();
    for (let i = 100; i < 400; i += 20) await writeKeys(host, i, i + 20);
    const expected = dump(host);
    // Copied while open (data.db is locked only against writers): the WAL is what a crash leaves.
    const torn = freshDir();
    copyDir(dir, torn, (n) => n.endsWith("-shm"));
    await host.stop();
    const wal = join(torn, "data.db-wal");
    expect(statSync(wal).size).toBeGreaterThan(10_000);
    truncateSync(wal, Math.floor(statSync(wal).size / 2) + 7);
    const tornState = StateDb.open({ path: join(torn, "data.db"), partitionCount: 256 });
    const survived = tornState.appliedIndex(STANDALONE_GROUP);
    tornState.close();
    expect(survived).toBeGreaterThanOrEqual(saved);
    expect(survived).toBeLessThan(saved + 300);
    const reopened = await openStandalone(torn);
    expect(dump(reopened)).toEqual(expected);
    await reopened.stop();
  });
});

describe("compaction (SAVE)", () => {
  test("deletes only what data.db holds durably; losing data.db's WAL afterwards loses nothing", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 100);
    host.save();
    await writeKeys(host, 100, 150);
    const expected = dump(host);
    // The durable part of data.db: its main file as of the checkpoint, without the WAL.
    const crashed = freshDir();
    copyDir(dir, crashed, (n) => n.startsWith("data.db-"));
    await host.stop();
    const left = logCommands(dir);
    expect(left).toHaveLength(50);
    expect(left[0]).toBe("set k100 v100; incr count");
    const reopened = await openStandalone(crashed);
    expect(dump(reopened)).toEqual(expected);
    await writeKeys(reopened, 150, 160);
    expect(dump(reopened)).toContain("count=160");
    await reopened.stop();
  });

  test("a compacted log with a lost data.db refuses to start instead of serving an empty state", async () => {
    const dir = freshDir();
    const host = await openStandalone(dir);
    await writeKeys(host, 0, 20);
    host.save();
    await host.stop();
    const damaged = freshDir();
    copyDir(dir, damaged);
    for (const f of DATA_FILES) rmSync(join(dir, f), { force: true });
    await expect(openStandalone(dir)).rejects.toThrow(
      /applied the standalone log up to index 0, but raft.db keeps only entries after \d+/,
    );
    damage(join(damaged, "data.db"));
    await expect(openStandalone(damaged)).rejects.toThrow(/data.db is damaged .* cannot be rebuilt/);
  });
});

test("expired keys are deleted by __expire ops that go through the log", async () => {
  const dir = freshDir();
  const host = await openStandalone(dir);
  const at = String(Date.now() + 300);
  await Promise.all([
    ...Array.from({ length: 7 }, (_, i) => host.propose(op(Date.now(), ["set", `t${i}`, "v", "PXAT", at]))),
    host.propose(op(Date.now(), ["set", "keep", "v"])),
  ]);
  const ks = host.replicas.keyspace;
  for (let i = 0; i < 400 && ks.countEverywhere(0) > 1; i++) await Bun.sleep(10);
  expect(ks.countEverywhere(0)).toBe(1); // counted as of time 0: the rows themselves are gone
  expect(dump(host)).toEqual(["keep=v"]);
  await host.stop();
  const swept = logCommands(dir)
    .filter((c) => c.startsWith("__expire"))
    .flatMap((c) => c.split(" ").slice(1))
    .sort();
  expect(swept).toEqual(Array.from({ length: 7 }, (_, i) => `t${i}`));
});

test("a second node on the same data_dir is refused while the first is open", async () => {
  const dir = freshDir();
  const first = await openStandalone(dir);
  await expect(openStandalone(dir)).rejects.toThrow(/data.db is in use by another process/);
  await first.stop();
  await (await openStandalone(dir)).stop();
});

test("a standalone node's id is a label: a data dir opened under another id keeps its data", async () => {
  const dir = freshDir();
  const host = await openStandalone(dir, { node_id: "first-name" });
  await writeKeys(host, 0, 10);
  await host.stop();
  const renamed = await openStandalone(dir, { node_id: "second-name" });
  expect(dump(renamed)).toContain("count=10");
  expect(renamed.replicas.raft.status(STANDALONE_GROUP)?.conf.voters).toEqual(["second-name"]);
  await writeKeys(renamed, 10, 20);
  expect(dump(renamed)).toContain("count=20");
  await renamed.stop();
});
