// Many groups per process, the way a multi-raft host runs them: one SqliteRaftStorage per node,
// one saveBatch per turn for the Ready of every group, messages routed by (grp, to).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Raft } from "../../src/raft/raft.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { messageProblem } from "../../src/raft/message-check.ts";
import { SqliteRaftStorage } from "../../src/store/raft-log.ts";
import type { GroupWrite, Message } from "../../src/raft/types.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-multiraft-"));
const stores: SqliteRaftStorage[] = [];
afterAll(() => {
  for (const s of stores) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const NODES = ["n1", "n2", "n3"];
const GROUPS = [1, 2, 3, 4, 5, 6];
const dec = new TextDecoder();

class Host {
  storage: SqliteRaftStorage;
  groups = new Map<number, Raft>();
  applied = new Map<number, string[]>();
  constructor(
    readonly id: string,
    seed: number,
  ) {
    this.storage = this.open();
    if (this.storage.groups().length === 0) this.storage.saveBatch(GROUPS.map((g) => bootstrapWrite(g, NODES)));
    for (const g of this.storage.groups()) {
      this.groups.set(g, new Raft({ grp: g, id, storage: this.storage, random: seededRandom(seed * 100 + g) }));
      this.applied.set(g, []);
    }
  }
  private open(): SqliteRaftStorage {
    const s = new SqliteRaftStorage(join(dir, `${this.id}.db`));
    stores.push(s);
    return s;
  }
  /** One turn: every group's Ready, one transaction, then send and apply. */
  turn(out: Message[]): void {
    for (;;) {
      const ready = [...this.groups.values()].filter((r) => r.hasReady()).map((r) => [r, r.ready()] as const);
      if (ready.length === 0) return;
      const writes: GroupWrite[] = ready.flatMap(([, rd]) => (rd.persist ? [rd.persist] : []));
      this.storage.saveBatch(writes);
      for (const [r, rd] of ready) {
        out.push(...rd.messages);
        for (const e of rd.committed) if (e.kind === 0) this.applied.get(r.grp)!.push(dec.decode(e.data!));
        r.advance();
      }
    }
  }
}

test("six groups on three nodes elect, replicate and recover from one shared log file per node", () => {
  const hosts = new Map(NODES.map((id, i) => [id, new Host(id, i + 1)]));
  let net: Message[] = [];
  const run = (ticks: number) => {
    for (let t = 0; t < ticks; t++) {
      for (const h of hosts.values()) {
        for (const r of h.groups.values()) r.tick();
        h.turn(net);
      }
      while (net.length > 0) {
        const batch = net;
        net = [];
        for (const m of batch) {
          expect(messageProblem(m)).toBeNull();
          const h = hosts.get(m.to)!;
          h.groups.get(m.grp)!.step(m);
        }
        for (const h of hosts.values()) h.turn(net);
      }
    }
  };
  run(40);
  const leaders = GROUPS.map((g) => NODES.find((id) => hosts.get(id)!.groups.get(g)!.status().role === "leader"));
  expect(leaders.every((l) => l !== undefined)).toBe(true);
  for (const [i, g] of GROUPS.entries()) {
    const r = hosts.get(leaders[i]!)!.groups.get(g)!;
    for (let k = 0; k < 5; k++) expect(r.propose(new TextEncoder().encode(`g${g}-v${k}`)).ok).toBe(true);
  }
  run(3);
  for (const h of hosts.values()) {
    for (const g of GROUPS) expect(h.applied.get(g)).toEqual([0, 1, 2, 3, 4].map((k) => `g${g}-v${k}`));
  }
  // Restart n2 from its file: every group comes back with its whole log, and replays it once the
  // group's leader tells it the commit index (a commit learnt alone is not saved: src/raft/raft.ts);
  // where n2 led, that takes a new election.
  const logs = GROUPS.map((g) => hosts.get("n2")!.groups.get(g)!.status().lastIndex);
  hosts.get("n2")!.storage.close();
  const n2 = new Host("n2", 9);
  hosts.set("n2", n2);
  expect([...n2.groups.keys()]).toEqual(GROUPS);
  expect(GROUPS.map((g) => n2.groups.get(g)!.status().lastIndex)).toEqual(logs);
  n2.turn(net);
  run(40);
  for (const g of GROUPS) expect(n2.applied.get(g)).toEqual([0, 1, 2, 3, 4].map((k) => `g${g}-v${k}`));
});
