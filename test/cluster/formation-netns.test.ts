// Forming a cluster by mDNS discovery, in private network namespaces (one per node, bridged;
// never on the machine's real interfaces): three nodes with bootstrap_expect = 3 form exactly one
// cluster with all three as voters from its first entry, a fourth started with them (one more than
// expected) and a fifth with discovery alone join it, a node with another partition_count is refused.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Netns, NsHost } from "../helpers/netns.ts";
import { createNetns, skipNetns } from "../helpers/netns.ts";
import { LineReader } from "../helpers/line-reader.ts";
import { readFoundedGroup } from "../helpers/raft-db.ts";

setDefaultTimeout(45_000);

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const RESP = 6380;
const HTTP = 8080;

interface Started {
  readonly id: string;
  readonly host: NsHost;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly log: LineReader;
}

interface Status {
  cluster_id: string;
  metadata_leader: string | null;
  members: { id: string }[];
  partitions: { total: number; leaderless: number };
}

describe.skipIf(skipNetns)("cluster formation by discovery in network namespaces", () => {
  let lan: Netns;
  let h: NsHost[];
  let dataRoot: string;
  const nodes: Started[] = [];

  beforeAll(async () => {
    lan = createNetns(6);
    h = [...lan.hosts];
    dataRoot = mkdtempSync(join(tmpdir(), "fly-form-"));
  });

  afterAll(async () => {
    await lan?.destroy();
    if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  });

  function start(id: string, host: NsHost, extra: string[]): Started {
    const args = [
      BUN,
      join(ROOT, "cli/flydb.ts"),
      "--node-id",
      id,
      "--data-dir",
      join(dataRoot, id),
      "--bind-addr",
      `0.0.0.0:${RESP}`,
      "--http-addr",
      `0.0.0.0:${HTTP}`,
      "--cluster-addr",
      `${host.address}:7946`,
      "--raft-addr",
      `${host.address}:7947`,
      "--discovery-enabled",
      "--discovery-cluster-id",
      "form-test",
      "--partition-count",
      "16",
      "--fsync",
      "no",
      // redis-cli reaches the nodes from other namespaces, without a password.
      "--no-protected-mode",
      ...extra,
    ];
    const proc = lan.spawn(host.ns, args, { cwd: ROOT });
    // The logger writes to stderr; stdout stays empty.
    const s: Started = { id, host, proc, log: new LineReader(proc.stderr) };
    nodes.push(s);
    return s;
  }

  async function curl(host: NsHost, path: string): Promise<{ code: number; body: string }> {
    const r = await lan.exec(host.ns, [
      "curl",
      "-s",
      "-m",
      "3",
      "-w",
      "\n%{http_code}",
      `http://${host.address}:${HTTP}${path}`,
    ]);
    const i = r.stdout.lastIndexOf("\n");
    return { code: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  }

  async function waitReady(s: Started, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = { code: 0, body: "" };
    while (Date.now() < deadline) {
      if (s.proc.exitCode !== null)
        throw new Error(`${s.id} exited with ${s.proc.exitCode}:\n${s.log.lines.join("\n")}`);
      last = await curl(s.host, "/ready");
      if (last.code === 200) return;
      await Bun.sleep(250);
    }
    throw new Error(
      `${s.id} not ready after ${timeoutMs} ms (${last.code} ${last.body}); log:\n${s.log.lines.slice(-30).join("\n")}`,
    );
  }

  async function status(s: Started): Promise<Status> {
    const r = await curl(s.host, "/cluster/status");
    expect(r.code).toBe(200);
    return JSON.parse(r.body) as Status;
  }

  async function discover(
    host: NsHost,
  ): Promise<{ node_id: string; addresses: string[]; ports: Record<string, number | null> }[]> {
    const r = await lan.exec(
      host.ns,
      [BUN, join(ROOT, "cli/flydb-discover.ts"), "--json", "--timeout", "1", "--cluster-id", "form-test"],
      { cwd: ROOT },
    );
    return r.code === 0 ? JSON.parse(r.stdout) : [];
  }

  const redis = (host: NsHost, target: NsHost, ...cmd: string[]) =>
    lan.exec(host.ns, ["redis-cli", "-h", target.address, "-p", String(RESP), ...cmd]);

  test("four nodes with bootstrap_expect = 3: three found one cluster, all voters from the start, the lowest of them bootstraps; the fourth joins it; writes through one are read through all", async () => {
    // Node ids in an order unlike the start order: the lowest id (n1) starts last. One node more than
    // expected: the first three that see each other found the cluster (n1 when it shows up in time,
    // else n2–n4), the lowest of them bootstraps, and the fourth joins it like any later node.
    const expect3 = ["--bootstrap-expect", "3"];
    const formed = [
      start("n3", h[0]!, expect3),
      start("n4", h[3]!, expect3),
      start("n2", h[1]!, expect3),
      start("n1", h[2]!, expect3),
    ];
    await Promise.all(formed.map((s) => waitReady(s, 30_000))).catch((e: unknown) => {
      // Whoever did not get ready, the others' logs say why (who claimed, who promised whom).
      throw new Error(
        `${(e as Error).message}\n${formed.map((s) => `--- ${s.id}:\n${s.log.lines.slice(-40).join("\n")}`).join("\n")}`,
      );
    });

    const bootstrapped = formed.filter((s) => s.log.lines.some((l) => l.includes("bootstrapped a new cluster")));
    expect(bootstrapped).toHaveLength(1);
    const meta0 = readFoundedGroup(join(dataRoot, bootstrapped[0]!.id), 0)!;
    const founders = (meta0.second as { members: { id: string }[] }).members.map((m) => m.id).sort();
    expect(founders).toHaveLength(3);
    expect(founders[0]).toBe(bootstrapped[0]!.id);
    const extra = formed.find((s) => !founders.includes(s.id))!;
    expect(extra.log.lines.some((l) => l.includes("joining the cluster found"))).toBe(true);
    // The founders are voters of group 0 from index 1 on every node and stay voters through every
    // later change (only the extra node is added); index 2 holds the founding metadata with the
    // three and a map placing every partition on them, and each partition was founded with them.
    for (const s of formed) {
      const meta = readFoundedGroup(join(dataRoot, s.id), 0)!;
      expect(meta.founding).toEqual({ voters: founders, learners: [] });
      for (const conf of meta.laterConfs) expect(conf.voters.filter((v) => v !== extra.id)).toEqual(founders);
      const init = meta.second as { t: string; members: { id: string }[]; map: string[][] };
      expect(init.t).toBe("init");
      expect(init.members.map((m) => m.id).sort()).toEqual(founders);
      expect(init.map).toHaveLength(16);
      for (const replicas of init.map) expect([...replicas].sort()).toEqual(founders);
    }
    // A founder may have dropped a partition that moved to the extra node since; at least two hold each still.
    for (let p = 0; p < 16; p++) {
      const held = founders.map((id) => readFoundedGroup(join(dataRoot, id), p + 1)).filter((g) => g !== undefined);
      expect(held.length).toBeGreaterThanOrEqual(2);
      for (const g of held) expect(g.founding).toEqual({ voters: founders, learners: [] });
    }
    const statuses = await Promise.all(formed.map(status));
    for (const st of statuses) {
      expect(st.cluster_id).toBe("form-test");
      expect(st.metadata_leader).not.toBeNull();
      expect(st.metadata_leader).toBe(statuses[0]!.metadata_leader);
      expect(st.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3", "n4"]);
      expect(st.partitions.total).toBe(16);
    }

    for (const [i, writer] of formed.entries()) {
      const w = await redis(writer.host, writer.host, "SET", `key-${i}`, `value-${i}`);
      expect(w.stdout.trim()).toBe("OK");
      for (const reader of formed) {
        const r = await redis(reader.host, reader.host, "GET", `key-${i}`);
        expect(r.stdout.trim()).toBe(`value-${i}`);
      }
    }
  });

  test("a fifth node with discovery and no bootstrap_expect joins the formed cluster", async () => {
    const fifth = start("n0", h[4]!, []);
    await waitReady(fifth, 30_000);
    expect(fifth.log.lines.some((l) => l.includes("bootstrapped a new cluster"))).toBe(false);
    expect(fifth.log.lines.some((l) => l.includes("joining the cluster found"))).toBe(true);
    const st = await status(fifth);
    expect(st.members.map((m) => m.id).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    const r = await redis(h[4]!, h[4]!, "GET", "key-0");
    expect(r.stdout.trim()).toBe("value-0");
  });

  test("members advertise themselves; a killed member restarts and rejoins without bootstrapping again; a clean stop says goodbye", async () => {
    const seen = await discover(h[5]!);
    expect(seen.map((n) => n.node_id).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    const n2 = seen.find((n) => n.node_id === "n2")!;
    expect(n2.addresses).toEqual([h[1]!.address]);
    expect(n2.ports).toEqual({ resp: RESP, http: HTTP, gossip: 7946, raft: 7947 });

    const old = nodes.find((n) => n.id === "n2")!;
    old.proc.kill("SIGKILL");
    await old.proc.exited;
    const again = start("n2", h[1]!, ["--bootstrap-expect", "3"]);
    await waitReady(again, 30_000);
    expect(
      again.log.lines.some((l) => l.includes("bootstrapped a new cluster") || l.includes("forming a new cluster")),
    ).toBe(false);
    const st = await status(again);
    expect(st.members.map((m) => m.id).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    expect((await redis(h[1]!, h[1]!, "GET", "key-2")).stdout.trim()).toBe("value-2");

    const fifth = nodes.find((n) => n.id === "n0")!;
    fifth.proc.kill("SIGTERM");
    expect(await fifth.proc.exited).toBe(0);
    expect((await discover(h[5]!)).map((n) => n.node_id).sort()).toEqual(["n1", "n2", "n3", "n4"]);
  });

  test("a node with another partition_count refuses to join and exits with status 2", async () => {
    const misfit = start("n9", h[5]!, ["--partition-count", "32"]);
    const code = await Promise.race([misfit.proc.exited, Bun.sleep(20_000).then(() => "still running")]);
    expect(code).toBe(2);
    const line = misfit.log.lines.find((l) => l.includes("refusing to join"));
    expect(line).toContain('the formed cluster "form-test"');
    expect(line).toContain("partition_count = 16");
    expect(line).toContain("partition_count = 32");
  });
});
