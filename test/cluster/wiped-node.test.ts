// A node id reused on a wiped data dir must never vote: kill -9 one of three members, delete its
// raft.db (or empty its whole data dir) and start it again under the same --node-id and --peers. It
// comes back with no vote record, so a vote it granted in a term it had already voted in could
// elect a second leader in that term. It is refused (exit status 2, an error naming POST
// /cluster/remove) without having stored any Raft state; after the old member is removed the same
// id joins as a new member.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "../helpers/line-reader.ts";
import { ensureBinary, startClusterMember, tempDir, type ClusterMemberProcess } from "../helpers/processes.ts";
import { freePorts } from "../helpers/ports.ts";
import { waitFor } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(180_000);
const PARTITIONS = 4;

const running: ClusterMemberProcess[] = [];
const spawned: Bun.Subprocess[] = [];
const root = tempDir("wiped");
afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null) p.kill(9);
  await Promise.all([...running.map((p) => p.stop()), ...spawned.map((p) => p.exited)]);
  rmSync(root, { recursive: true, force: true });
});

interface Status {
  members: { id: string }[];
  partitions: { total: number; healthy: number };
}
interface RemoveBody {
  removed: boolean;
  voter_groups: number[];
}
/** How many members a node's gossip sees alive (itself included), from /metrics. */
async function gossipAlive(m: ClusterMemberProcess): Promise<number> {
  const text = await (await fetch(`${m.http}/metrics`)).text();
  return Number(/^flydb_gossip_members\{state="alive"\} (\d+)/m.exec(text)?.[1] ?? NaN);
}
const status = async (m: ClusterMemberProcess): Promise<Status> =>
  (await fetch(`${m.http}/cluster/status`)).json() as Promise<Status>;

/** Raft groups in a raft.db that hold a term or a vote (none on a node that never took part). */
function hardStates(dataDir: string): { grp: number; term: number; vote: string | null }[] {
  const db = new Database(join(dataDir, "raft.db"), { readonly: true });
  try {
    const sql = "SELECT grp, term, vote FROM raft_state WHERE term > 0 OR vote IS NOT NULL";
    return db.query<{ grp: number; term: number; vote: string | null }, []>(sql).all();
  } finally {
    db.close();
  }
}

describe("a node id reused on a wiped data dir", () => {
  const binary = ensureBinary();
  /** w3 as the first test leaves it: a member again, on `dir`, started with `argsOn(dir)`. */
  let w3: { proc: Bun.Subprocess; http: number; argsOn: (dataDir: string) => string[] } | undefined;

  const title =
    "is refused with exit status 2 and the removal to run, never storing a vote; " +
    "once removed, the id joins as a new member";
  test(title, async () => {
    const n1 = await startClusterMember({ id: "w1", partitions: PARTITIONS, binary, args: ["--fsync", "no"] });
    running.push(n1);
    const peers = ["--fsync", "no", "--peers", `127.0.0.1:${n1.gossip}`];
    for (const id of ["w2", "w3"]) {
      const args = ["--fsync", "no"];
      running.push(await startClusterMember({ id, seed: n1.gossip, partitions: PARTITIONS, binary, args }));
    }
    await waitFor(
      "3 members, every partition healthy",
      async () => {
        const s = await status(n1);
        return s.members.length === 3 && s.partitions.healthy === s.partitions.total;
      },
      40_000,
      250,
    );
    const victim = running[2]!;
    await victim.kill9();

    // Same id, ports and peers; its data dir without raft.db and data.db (flydb-node.json kept),
    // then an empty one.
    const [resp, http] = freePorts(2);
    const argsOn = (dataDir: string) => [
      binary,
      "--node-id",
      "w3",
      "--data-dir",
      dataDir,
      "--bind-addr",
      `127.0.0.1:${resp}`,
      "--http-addr",
      `127.0.0.1:${http}`,
      "--cluster-addr",
      `127.0.0.1:${victim.gossip}`,
      "--raft-addr",
      `127.0.0.1:${victim.raft}`,
      "--partition-count",
      String(PARTITIONS),
      ...peers,
    ];
    const env = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" };
    const emptied = join(root, "w3-wiped");
    mkdirSync(emptied, { recursive: true });
    for (const f of readdirSync(victim.dataDir)) {
      if (f.startsWith("raft.db") || f.startsWith("data.db")) rmSync(join(victim.dataDir, f));
    }
    for (const dataDir of [victim.dataDir, emptied]) {
      const wiped = Bun.spawn(argsOn(dataDir), { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      spawned.push(wiped);
      const log = new LineReader(wiped.stderr);
      const code = await Promise.race([wiped.exited, Bun.sleep(30_000).then(() => "still running after 30 s")]);
      expect(code).toBe(2);
      await log.done;
      const refusal = log.lines.find((l) => l.includes("refusing to join")) ?? log.lines.join("\n");
      expect(refusal).toContain("could vote twice in one term");
      expect(refusal).toContain("/cluster/remove?node=w3");
      // Leaders and candidates kept contacting its Raft address meanwhile: it stored nothing.
      expect(hardStates(dataDir)).toEqual([]);
    }

    // A stale view of a refused start, made on purpose: one more start (on a data dir of its own),
    // stopped (SIGSTOP) as soon as gossip sees it alive, before formation refuses it and it leaves.
    const staleDir = join(root, "w3-stale");
    mkdirSync(staleDir, { recursive: true });
    let stale: Bun.Subprocess | undefined;
    for (let attempt = 1; stale === undefined; attempt++) {
      const p = Bun.spawn(argsOn(staleDir), { env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      spawned.push(p);
      // Or refused and exited first (a slow machine): gossip may never have counted it alive.
      const exited = () => p.exitCode !== null || p.signalCode !== null;
      await waitFor(
        "the started node alive in w1's gossip, or exited",
        async () => exited() || (await gossipAlive(n1)) === 3,
        30_000,
        5,
      );
      p.kill("SIGSTOP");
      // Refused and gone before it could be stopped (a slow machine): another try.
      if (!exited()) stale = p;
      else if (attempt === 3) throw new Error("a start on a wiped data dir exited before SIGSTOP, three times");
      else await waitFor("w1's gossip to see it gone", async () => (await gossipAlive(n1)) === 2, 20_000, 50);
    }

    // The way out the error names: remove the old member (accepted once gossip suspects the stopped
    // start), then start the node again.
    let removed: { status: number; body: RemoveBody } | undefined;
    await waitFor(
      "POST /cluster/remove?node=w3 to be accepted",
      async () => {
        const r = await fetch(`${n1.http}/cluster/remove?node=w3`, { method: "POST" });
        removed = { status: r.status, body: (await r.json()) as RemoveBody };
        return r.status !== 409;
      },
      30_000,
      100,
    );
    const { status: code, body } = removed!;
    expect({ status: code, removed: body.removed, voter_groups: body.voter_groups }).toEqual({
      status: 200,
      removed: true,
      voter_groups: [],
    });
    expect((await status(n1)).members.map((m) => m.id).sort()).toEqual(["w1", "w2"]);
    // Let run, the stopped start refutes the suspicion: alive again in gossip, under an incarnation
    // the removal retired, so it is not admitted. Admitted (before retirement existed), the id was
    // the member on that data dir, and the start below on another one was refused once more.
    stale.kill("SIGCONT");
    await waitFor("the stale start alive again in w1's gossip", async () => (await gossipAlive(n1)) === 3, 30_000, 50);
    await Bun.sleep(1_500); // three controller rounds
    expect((await status(n1)).members.map((m) => m.id).sort()).toEqual(["w1", "w2"]);
    stale.kill("SIGKILL");
    await stale.exited;

    // Started again, it joins at the first try.
    const again = Bun.spawn(argsOn(emptied), { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    spawned.push(again);
    const againLog = new LineReader(again.stderr);
    let last: Status | undefined;
    await waitFor(
      "w3 back as a new member, every partition healthy",
      async () => {
        if (again.exitCode !== null) return true;
        last = await status(n1);
        const ready = await fetch(`http://127.0.0.1:${http}/ready`).then(
          (r) => r.ok,
          () => false,
        );
        return ready && last.members.length === 3 && last.partitions.healthy === last.partitions.total;
      },
      40_000,
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; w1 sees ${JSON.stringify(last)}; w3 logged:\n${againLog.lines.join("\n")}`);
    });
    if (again.exitCode !== null) {
      await againLog.done;
      throw new Error(`w3 exited ${again.exitCode} after its removal:\n${againLog.lines.join("\n")}`);
    }
    w3 = { proc: again, http: http!, argsOn };
  });

  test("a member that left with POST /cluster/leave is forgotten when it answers: back at once on an emptied data dir", async () => {
    const [n1, n2] = running as [ClusterMemberProcess, ClusterMemberProcess];
    const { proc, http, argsOn } = w3!;
    const r = await fetch(`http://127.0.0.1:${http}/cluster/leave`, { method: "POST" });
    const body = (await r.json()) as { drained: boolean; voter_groups: number[]; known_by?: string[] };
    const { drained, voter_groups, known_by } = body;
    expect({ status: r.status, drained, voter_groups, known_by }).toEqual({
      status: 200,
      drained: true,
      voter_groups: [],
      known_by: undefined,
    });
    // The leave answered only once no member counts the id (formation refuses it while one does).
    // Before, it answered as soon as no group counted its vote: the metadata still listed w3, and
    // a start on an emptied data dir was refused (soak seed 36).
    for (const m of [n1, n2]) expect((await status(m)).members.map((x) => x.id).sort()).toEqual(["w1", "w2"]);
    expect(await proc.exited).toBe(0);
    const emptied = join(root, "w3-after-leave");
    mkdirSync(emptied, { recursive: true });
    const env = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" };
    const back = Bun.spawn(argsOn(emptied), { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    spawned.push(back);
    const log = new LineReader(back.stderr);
    await waitFor(
      "w3 back as a new member after its leave, every partition healthy",
      async () => {
        if (back.exitCode !== null) return true;
        const s = await status(n1);
        return s.members.length === 3 && s.partitions.healthy === s.partitions.total;
      },
      40_000,
      250,
    );
    if (back.exitCode !== null) {
      await log.done;
      throw new Error(`w3 exited ${back.exitCode} after its leave:\n${log.lines.join("\n")}`);
    }
  });

  test("POST /cluster/remove refuses a member that is alive, this node itself, and a missing node=", async () => {
    const [n1, n2] = running as [ClusterMemberProcess, ClusterMemberProcess];
    const post = async (path: string) => {
      const r = await fetch(`${n1.http}${path}`, { method: "POST" });
      return { status: r.status, error: String(((await r.json()) as { error?: string }).error) };
    };
    const alive = `node ${n2.id} is alive: stop it first (or POST /cluster/leave on it to drain it)`;
    expect(await post(`/cluster/remove?node=${n2.id}`)).toEqual({ status: 409, error: alive });
    expect(await post(`/cluster/remove?node=${n1.id}`)).toEqual({
      status: 409,
      error: `node ${n1.id} is this node: POST /cluster/leave on it instead`,
    });
    expect((await post("/cluster/remove")).status).toBe(400);
  });
});
