// Restarts after log compaction on a 3-node cluster of real processes (2 partitions, so a few
// thousand writes pass the 2,000-entry compaction threshold of src/cluster/replica-host.ts).
// Every member reads its own replica (read_consistency = "stale"), so what a member serves is
// what its own data.db holds. After compaction on every member:
// - kill -9 and restart (nothing deleted): the member reopens behind a compacted log (snapshot
//   index > 0, the log resuming right after it) and serves every key;
// - kill -9, and data.db put back to a copy from before the compaction (what a state database
//   that is not fsynced per batch can lose): the member reinstalls the snapshot stored in raft.db,
//   replays the log after it, and serves every key;
// - a member down while the others write on and compact past its last entry (and restart, which
//   drops the appends queued for it) catches up by InstallSnapshot, and serves every key written
//   while it was down.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";

setDefaultTimeout(120_000);
const PARTITIONS = 2;
/** Partition groups are 1..PARTITIONS (src/keyspace/groups.ts). */
const GROUPS = [1, 2];
/** Enough writes for every partition group to pass the 2,000-entry compaction threshold. */
const KEYS = 5_000;
let c: LoopbackCluster;

beforeAll(async () => {
  c = await startLoopbackCluster({
    size: 3,
    partitions: PARTITIONS,
    prefix: "sr",
    args: ["--read-consistency", "stale"],
  });
  await c.settled();
});

afterAll(async () => {
  await c?.stop();
});

interface GroupLog {
  /** raft.db: the snapshot's index, the first and last entries kept after it, and how many there are. */
  snap: number;
  first: number | null;
  last: number | null;
  count: number;
}

const readonlyDb = <T>(path: string, fn: (db: Database) => T): T => {
  const db = new Database(path, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
};

function groupLog(m: LoopbackMember, grp: number): GroupLog {
  return readonlyDb(join(m.proc.dataDir, "raft.db"), (db) => {
    const snap =
      db.query<{ snap_idx: number }, [number]>("SELECT snap_idx FROM raft_state WHERE grp = ?").get(grp)?.snap_idx ?? 0;
    const r = db
      .query<{ first: number | null; last: number | null; count: number }, [number]>(
        "SELECT MIN(idx) AS first, MAX(idx) AS last, COUNT(*) AS count FROM raft_log WHERE grp = ?",
      )
      .get(grp);
    return { snap, first: r?.first ?? null, last: r?.last ?? null, count: r?.count ?? 0 };
  });
}

/** The log resumes right after the snapshot and has no hole: what a restart replays from. */
function expectContiguous(m: LoopbackMember, grp: number, l: GroupLog): void {
  const where = `${m.id} group ${grp}: ${JSON.stringify(l)}`;
  if (l.first === null) return;
  expect({ where, first: l.first }).toEqual({ where, first: l.snap + 1 });
  expect({ where, count: l.count }).toEqual({ where, count: l.last! - l.first + 1 });
}

/** data.db: the index up to which the member's state machine has applied the group. */
function appliedIndex(m: LoopbackMember, grp: number): number {
  return readonlyDb(
    join(m.proc.dataDir, "data.db"),
    (db) => db.query<{ idx: number }, [number]>("SELECT idx FROM applied WHERE grp = ?").get(grp)?.idx ?? 0,
  );
}

/**
 * SETs through one member (proxied to the leaders), all in flight at once. Keys whose SET failed
 * (leaders still moving after a restart answer -TRYAGAIN/-CLUSTERDOWN) are sent again: the SETs
 * are idempotent, and every key is read back afterwards anyway.
 */
async function write(m: LoopbackMember, prefix: string, count: number): Promise<void> {
  const r = c.connect(m);
  let todo = Array.from({ length: count }, (_, i) => i);
  try {
    for (let attempt = 1; attempt <= 3 && todo.length > 0; attempt++) {
      const errors = new Map<string, number>();
      const failed: number[] = [];
      await Promise.all(
        todo.map((i) =>
          r.set(`${prefix}${i}`, `${prefix}v${i}`).catch((e: Error) => {
            failed.push(i);
            errors.set(e.message, (errors.get(e.message) ?? 0) + 1);
          }),
        ),
      );
      if (failed.length > 0)
        console.log(
          `${prefix} writes via ${m.id}, attempt ${attempt}: ${failed.length} failed: ${JSON.stringify([...errors])}`,
        );
      todo = failed;
    }
  } finally {
    r.disconnect();
  }
  expect(todo).toEqual([]);
}

/** Keys the member's own replicas do not hold with the right value (stale reads: its own rows). */
async function missing(m: LoopbackMember, prefix: string, count: number): Promise<string[]> {
  const r = c.connect(m);
  const bad: string[] = [];
  try {
    for (let at = 0; at < count; at += 500) {
      const keys = Array.from({ length: Math.min(500, count - at) }, (_, i) => `${prefix}${at + i}`);
      const values = await r.mget(...keys);
      keys.forEach((k, i) => {
        if (values[i] !== `${prefix}v${at + i}`) bad.push(`${k}=${values[i]}`);
      });
    }
  } finally {
    r.disconnect();
  }
  return bad;
}

/** Until the member's own replicas hold every key; fails naming some that are missing. */
async function servesAll(m: LoopbackMember, prefix: string, count: number, timeoutMs = 30_000): Promise<void> {
  let last: string[] = [];
  await waitUntil(
    async () => (last = await missing(m, prefix, count)).length === 0,
    timeoutMs,
    `${m.id} to serve every ${prefix} key from its own replicas`,
    250,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}: ${last.length} missing or wrong, e.g. ${last.slice(0, 5).join(", ")}`);
  });
}

const compactedEverywhere = (above = 0) =>
  c.members.filter((m) => m.up).every((m) => GROUPS.every((g) => groupLog(m, g).snap > above));

/** A copy of a stopped member's data.db (with its WAL), to put back later. */
function saveDataDb(m: LoopbackMember, to: string): void {
  for (const suffix of ["", "-wal", "-shm"]) {
    const from = join(m.proc.dataDir, `data.db${suffix}`);
    rmSync(`${to}${suffix}`, { force: true });
    if (existsSync(from)) copyFileSync(from, `${to}${suffix}`);
  }
}
function restoreDataDb(m: LoopbackMember, from: string): void {
  for (const suffix of ["", "-wal", "-shm"]) {
    const to = join(m.proc.dataDir, `data.db${suffix}`);
    rmSync(to, { force: true });
    if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, to);
  }
}

describe("restarts after log compaction", () => {
  test("kill -9 and restart behind a compacted log: data.db as it was, then from before the compaction", async () => {
    const victim = c.members[2]!;
    await write(c.members[0]!, "early-", 200);
    await servesAll(victim, "early-", 200);
    // data.db as it stands before compaction: put back later, as if its later batches were lost.
    await c.kill9(victim);
    const saved = join(victim.proc.dir, "data-before-compaction.db");
    saveDataDb(victim, saved);
    const savedApplied = GROUPS.map(() => 0);
    await c.restart(victim);
    await c.settled();

    await write(c.members[0]!, "bulk-", KEYS);
    // The compaction timer runs every 10 s.
    await waitUntil(async () => compactedEverywhere(), 40_000, "both partition groups compacted on every member", 500);
    await write(c.members[1]!, "tail-", 300); // entries after the snapshot, replayed from the log
    await servesAll(victim, "tail-", 300);

    await c.kill9(victim);
    const before = GROUPS.map((g) => groupLog(victim, g));
    for (const [i, g] of GROUPS.entries()) {
      expect(before[i]!.snap).toBeGreaterThan(0);
      expectContiguous(victim, g, before[i]!);
      expect(appliedIndex(victim, g)).toBeGreaterThanOrEqual(before[i]!.snap);
      savedApplied[i] = readonlyDb(
        saved,
        (db) => db.query<{ idx: number }, [number]>("SELECT idx FROM applied WHERE grp = ?").get(g)?.idx ?? 0,
      );
    }
    await c.restart(victim);
    await c.settled();
    for (const [prefix, n] of [
      ["early-", 200],
      ["bulk-", KEYS],
      ["tail-", 300],
    ] as const)
      await servesAll(victim, prefix, n);
    console.log(`restart behind compacted logs: ${JSON.stringify(before)}`);

    // Now with data.db from before the compaction: its applied indexes are below the snapshots.
    await c.kill9(victim);
    restoreDataDb(victim, saved);
    for (const [i, g] of GROUPS.entries()) {
      expect(appliedIndex(victim, g)).toBe(savedApplied[i]!);
      expect(savedApplied[i]!).toBeLessThan(groupLog(victim, g).snap);
    }
    await c.restart(victim);
    await c.settled();
    for (const [prefix, n] of [
      ["early-", 200],
      ["bulk-", KEYS],
      ["tail-", 300],
    ] as const)
      await servesAll(victim, prefix, n);
    for (const g of GROUPS) expect(appliedIndex(victim, g)).toBeGreaterThanOrEqual(groupLog(victim, g).snap);
  });

  test("a member down while the others compact past its last entry catches up by InstallSnapshot", async () => {
    const victim = c.members[1]!;
    await c.kill9(victim);
    const lastHeld = GROUPS.map((g) => groupLog(victim, g).last ?? groupLog(victim, g).snap);
    const up = c.members.filter((m) => m.up);
    await write(up[0]!, "down-", KEYS);
    // Whoever leads each partition now can no longer send the entries the victim lacks.
    await waitUntil(
      async () => up.every((m) => GROUPS.every((g, i) => groupLog(m, g).snap > lastHeld[i]!)),
      40_000,
      `the running members to compact past ${victim.id}'s last entries ${JSON.stringify(lastHeld)}`,
      500,
    );
    // Appends the leaders addressed to the victim while it was down wait in their transports'
    // backlogs and would reach it on reconnection, carrying the entries it lacks. Restarting the
    // running members one by one empties those backlogs: the entries now exist only in snapshots.
    for (const m of up) {
      await c.kill9(m);
      await c.restart(m);
      await c.settled();
    }
    const leaderLogs = up.map((m) => GROUPS.map((g) => groupLog(m, g)));
    await c.restart(victim);
    await c.settled();
    await servesAll(victim, "down-", KEYS);
    console.log(`running members' logs when ${victim.id} restarted: ${JSON.stringify(leaderLogs)}`);
    for (const [prefix, n] of [
      ["early-", 200],
      ["bulk-", KEYS],
      ["tail-", 300],
    ] as const)
      await servesAll(victim, prefix, n);
    const after = GROUPS.map((g) => groupLog(victim, g));
    console.log(
      `${victim.id} held entries up to ${JSON.stringify(lastHeld)}; after catching up: ${JSON.stringify(after)}`,
    );
    for (const [i, g] of GROUPS.entries()) {
      // Its log now starts at an installed snapshot past everything it held before.
      expect(after[i]!.snap).toBeGreaterThan(lastHeld[i]!);
      expectContiguous(victim, g, after[i]!);
      // data.db commits at most once a second (src/cluster/state-machine.ts): read the index from
      // another connection once that commit has come.
      await waitUntil(
        async () => (appliedIndex(victim, g) >= after[i]!.snap ? true : undefined),
        10_000,
        `${victim.id}'s data.db to record group ${g} applied past the snapshot`,
      );
    }
  });
});
