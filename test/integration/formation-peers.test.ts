// Cluster formation without mDNS, on loopback: bootstrap_expect over --peers (nodes see each other
// through gossip and ask each other over the Raft transport), and a node with another
// partition_count refused with exit status 2.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { LineReader } from "../helpers/line-reader.ts";
import { freePort } from "../helpers/ports.ts";
import { readFoundedGroup } from "../helpers/raft-db.ts";

setDefaultTimeout(40_000);

const ROOT = resolve(import.meta.dir, "../..");
const dataRoot = mkdtempSync(join(tmpdir(), "fly-formp-"));
const procs: Subprocess[] = [];

interface Node {
  readonly id: string;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly log: LineReader;
  readonly gossip: string;
  readonly http: number;
}

interface Ports {
  readonly resp: number;
  readonly http: number;
  readonly gossip: number;
  readonly raft: number;
}
const ports = (): Ports => ({ resp: freePort(), http: freePort(), gossip: freePort(), raft: freePort() });

function start(id: string, extra: string[], { resp, http, gossip, raft }: Ports = ports()): Node {
  const proc = Bun.spawn(
    [
      process.execPath,
      join(ROOT, "cli/flydb.ts"),
      "--node-id",
      id,
      "--data-dir",
      join(dataRoot, id),
      "--bind-addr",
      `127.0.0.1:${resp}`,
      "--http-addr",
      `127.0.0.1:${http}`,
      "--cluster-addr",
      `127.0.0.1:${gossip}`,
      "--raft-addr",
      `127.0.0.1:${raft}`,
      "--partition-count",
      "4",
      "--fsync",
      "no",
      ...extra,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  procs.push(proc);
  return { id, proc, log: new LineReader(proc.stderr), gossip: `127.0.0.1:${gossip}`, http };
}

async function statusOf(n: Node): Promise<{ ready: boolean; members: string[]; leader: string | null }> {
  const ready = await fetch(`http://127.0.0.1:${n.http}/ready`).then(
    (r) => r.ok,
    () => false,
  );
  const st = (await fetch(`http://127.0.0.1:${n.http}/cluster/status`).then(
    (r) => r.json(),
    () => ({}),
  )) as { members?: { id: string }[]; metadata_leader?: string | null };
  return { ready, members: (st.members ?? []).map((m) => m.id).sort(), leader: st.metadata_leader ?? null };
}

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dataRoot, { recursive: true, force: true });
});

describe("cluster formation through --peers", () => {
  let a: Node;

  test("two nodes with bootstrap_expect = 2 that name each other as peers form one cluster, bootstrapped by the lower id", async () => {
    const [pa, pb] = [ports(), ports()];
    // The higher id starts first, so the lower one must not simply be the first up.
    const b2 = start("pb", ["--bootstrap-expect", "2", "--peers", `127.0.0.1:${pa.gossip}`], pb);
    a = start("pa", ["--bootstrap-expect", "2", "--peers", `127.0.0.1:${pb.gossip}`], pa);
    const deadline = Date.now() + 30_000;
    let last = [await statusOf(a), await statusOf(b2)];
    while (
      Date.now() < deadline &&
      !(last.every((s) => s.ready && s.members.length === 2) && last[0]!.leader === last[1]!.leader)
    ) {
      await Bun.sleep(250);
      last = [await statusOf(a), await statusOf(b2)];
    }
    expect(last).toEqual([
      { ready: true, members: ["pa", "pb"], leader: last[0]!.leader },
      { ready: true, members: ["pa", "pb"], leader: last[0]!.leader },
    ]);
    expect(a.log.lines.filter((l) => l.includes("bootstrapped a new cluster"))).toHaveLength(1);
    expect(b2.log.lines.some((l) => l.includes("bootstrapped a new cluster"))).toBe(false);
    // Both are voters of group 0 from index 1, on both nodes; nobody was added later.
    for (const id of ["pa", "pb"]) {
      const meta = readFoundedGroup(join(dataRoot, id), 0)!;
      expect(meta.founding).toEqual({ voters: ["pa", "pb"], learners: [] });
      expect(meta.laterConfs).toEqual([]);
    }
  });

  test("a node that bootstrapped a cluster never bootstraps another, even with its Raft state gone", async () => {
    const pc = ports();
    const first = start("pc", ["--bootstrap"], pc);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(await statusOf(first)).ready) await Bun.sleep(200);
    expect((await statusOf(first)).ready).toBe(true);
    first.proc.kill("SIGTERM");
    expect(await first.proc.exited).toBe(0);
    for (const f of ["raft.db", "raft.db-wal", "raft.db-shm"]) rmSync(join(dataRoot, "pc", f), { force: true });
    const again = start("pc", ["--bootstrap"], pc);
    const code = await Promise.race([again.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
    expect(code).toBe(2);
    expect(again.log.lines.join("\n")).toContain("node pc already bootstrapped a cluster at");
  });

  test("a node with another partition_count joining through --peers exits with status 2 and says why", async () => {
    const misfit = start("pz", ["--peers", a.gossip, "--partition-count", "8"]);
    const code = await Promise.race([misfit.proc.exited, Bun.sleep(20_000).then(() => "still running")]);
    expect(code).toBe(2);
    const line = misfit.log.lines.find((l) => l.includes("ERROR"));
    expect(line).toContain("partition_count = 4");
    expect(line).toContain("partition_count = 8");
  });
});
