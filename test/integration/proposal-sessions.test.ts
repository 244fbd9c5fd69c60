// Exactly-once apply of cluster writes (docs/design/cluster.md) on real data.db files: a proposal id applied a
// second time is answered from its session record and changes nothing, across a restart and on a
// replica that got the partition by snapshot.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterStateMachine } from "../../src/cluster/state-machine.ts";
import { groupOf } from "../../src/keyspace/groups.ts";
import { SESSION_TTL_MS, type ProposalId } from "../../src/keyspace/sessions.ts";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { EntryKind, type Entry } from "../../src/raft/types.ts";
import { int, type Reply } from "../../src/resp/reply.ts";
import { encodeOp } from "../../src/store/op-codec.ts";
import { nextSession } from "../../src/store/proposal-sessions.ts";
import { StateDb } from "../../src/store/state.ts";

const PARTITIONS = 4;
const root = mkdtempSync(join(tmpdir(), "flydb-sessions-"));
const open: StateDb[] = [];
afterAll(() => {
  for (const s of open) s.close();
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;
const enc = new TextEncoder();

function openState(path = join(root, `data-${dirs++}.db`)): {
  state: StateDb;
  machine: ClusterStateMachine;
  path: string;
} {
  const state = StateDb.open({ path, partitionCount: PARTITIONS });
  open.push(state);
  return { state, machine: new ClusterStateMachine(state), path };
}

function closeState(s: { state: StateDb; machine: ClusterStateMachine }): void {
  s.machine.close();
  s.state.close();
  open.splice(open.indexOf(s.state), 1);
}

const KEY = "counter";
const GRP = groupOf(partitionOf(keySlot(enc.encode(KEY)), PARTITIONS));
const id = (seq: number, ack = seq, session = 1, node = "n1"): ProposalId => ({ node, session, seq, ack });

function entry(index: number, cmd: string[], pid?: ProposalId, now = 1_000): Entry {
  return {
    index,
    term: 1,
    kind: EntryKind.Normal,
    data: encodeOp({ cmds: [cmd.map((a) => enc.encode(a))], now, seed: 0 }, pid),
  };
}
const incr = (index: number, pid?: ProposalId, now?: number) => entry(index, ["incr", KEY], pid, now);

function value(state: StateDb): string | undefined {
  const v = state.keyspace.getString(enc.encode(KEY), 0);
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined;
}

const sessionRows = (state: StateDb) =>
  state.db.query("SELECT node, session FROM proposal_sessions WHERE grp = ? ORDER BY session").values(GRP);

test("a proposal id applied twice changes the state once; the copy gets the first reply", () => {
  const { state, machine } = openState();
  expect(machine.apply(GRP, [incr(1, id(1)), incr(2, id(2))])).toEqual([int(1), int(2)]);
  expect(machine.apply(GRP, [incr(3, id(2, 1))])).toEqual([int(2)]);
  expect(value(state)).toBe("2");
  expect(machine.copies.duplicate).toBe(1);
  expect(state.appliedIndex(GRP)).toBe(3);
  // Ops without an id (the leader's expiry sweeps) are applied every time.
  expect(machine.apply(GRP, [incr(4), incr(5)])).toEqual([int(3), int(4)]);
});

test("a copy in the same batch as its original is answered from the original's reply", () => {
  const { state, machine } = openState();
  const replies = machine.apply(GRP, [
    incr(1, id(1)),
    incr(2, id(2, 1)),
    incr(3, id(1)),
    incr(4, id(3, 1)),
    incr(5, id(3, 1)),
  ]);
  expect(replies).toEqual([int(1), int(2), int(1), int(3), int(3)]);
  expect(value(state)).toBe("3");
  expect(state.appliedIndex(GRP)).toBe(5);
});

test("sessions are told apart by node and session number", () => {
  const { state, machine } = openState();
  const replies = machine.apply(GRP, [
    incr(1, id(1, 1, 1, "n1")),
    incr(2, id(1, 1, 2, "n1")),
    incr(3, id(1, 1, 1, "n2")),
  ]);
  expect(replies).toEqual([int(1), int(2), int(3)]);
  expect(value(state)).toBe("3");
});

test("the session record survives closing and reopening data.db", () => {
  const first = openState();
  expect(first.machine.apply(GRP, [incr(1, id(7))])).toEqual([int(1)]);
  closeState(first);
  const again = openState(first.path);
  expect(again.machine.apply(GRP, [incr(2, id(7))])).toEqual([int(1)]);
  expect(value(again.state)).toBe("1");
  expect(again.machine.apply(GRP, [incr(3, id(8))])).toEqual([int(2)]);
});

test("a replica that installed the partition's snapshot dedupes like the one that took it", () => {
  const leader = openState();
  leader.machine.apply(GRP, [incr(1, id(1)), incr(2, id(2))]);
  const data = leader.machine.snapshotData(GRP);
  const fresh = openState();
  fresh.machine.installSnapshot(GRP, { meta: { index: 2, term: 1, conf: { voters: ["n1"], learners: [] } }, data });
  expect(value(fresh.state)).toBe("2");
  // The retried copy of seq 2 commits after the snapshot point: both replicas answer it alike.
  expect(fresh.machine.apply(GRP, [incr(3, id(2))])).toEqual([int(2)]);
  expect(leader.machine.apply(GRP, [incr(3, id(2))])).toEqual([int(2)]);
  expect(value(fresh.state)).toBe("2");
  expect(value(leader.state)).toBe(value(fresh.state));
});

test("a write settled at its proposer (below ack) that commits late is not applied", () => {
  const { state, machine } = openState();
  // seq 1 was given up on; seq 2 says so (ack 2) and is applied first.
  expect(machine.apply(GRP, [incr(1, id(2, 2))])).toEqual([int(1)]);
  const [late] = machine.apply(GRP, [incr(2, id(1, 1))]) as Reply[];
  expect(late!.t).toBe("error");
  expect(value(state)).toBe("1");
  expect(machine.copies.stale).toBe(1);
});

test("a session keeps the replies at or above its ack, and idle sessions expire when a new one starts", () => {
  const { state, machine } = openState();
  machine.apply(GRP, [
    incr(1, id(1, 1, 1, "old"), 1_000),
    incr(2, id(1, 1, 5, "n1"), 1_000),
    incr(3, id(2, 2, 5, "n1"), 1_000),
  ]);
  // seq 1 of session 5 is below the ack of seq 2: its reply is gone, a copy would be stale.
  expect((machine.apply(GRP, [incr(4, id(1, 1, 5, "n1"))]) as Reply[])[0]!.t).toBe("error");
  // A session keeps writing: its record stays however old the others get.
  machine.apply(GRP, [incr(5, id(3, 3, 5, "n1"), 1_000 + SESSION_TTL_MS)]);
  machine.commit(); // session rows are written with the commit of data.db's open transaction
  expect(sessionRows(state)).toEqual([
    ["old", 1],
    ["n1", 5],
  ]);
  // A new session's first write, TTL after session 1's last one, removes session 1 only.
  machine.apply(GRP, [incr(6, id(1, 1, 9, "n2"), 1_001 + SESSION_TTL_MS)]);
  machine.commit();
  expect(sessionRows(state)).toEqual([
    ["n1", 5],
    ["n2", 9],
  ]);
  expect(value(state)).toBe("5");
});

test("a rolled-back turn leaves no session record behind, in the rows or in memory", () => {
  const { state, machine } = openState();
  expect(() =>
    machine.transaction(() => {
      machine.apply(GRP, [incr(1, id(1))]);
      throw new Error("another group's apply failed");
    }),
  ).toThrow(/another group/);
  expect(value(state)).toBeUndefined();
  expect(machine.apply(GRP, [incr(1, id(1))])).toEqual([int(1)]);
  expect(value(state)).toBe("1");
});

test("a node's session number never repeats: not after a restart, not with the clock turned back", () => {
  const first = openState();
  const a = nextSession(first.state.db, 5_000);
  closeState(first);
  const again = openState(first.path);
  const b = nextSession(again.state.db, 4_000);
  const c = nextSession(again.state.db, 9_000);
  expect(a).toBe(5_000);
  expect(b).toBe(5_001);
  expect(c).toBe(9_000);
});
