// Formation that cannot split unnoticed (issue #18, item 1), in private network namespaces: a node
// with discovery and no bootstrap_expect never founds a cluster and keeps saying what it waits for;
// two clusters founded apart under one cluster_id on one link are reported by both (log,
// /cluster/status, /metrics) and stay apart.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Netns, NsHost } from "../helpers/netns.ts";
import { createNetns, skipNetns } from "../helpers/netns.ts";
import { LineReader } from "../helpers/line-reader.ts";

setDefaultTimeout(45_000);

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const HTTP = 8080;

interface Started {
  readonly id: string;
  readonly host: NsHost;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly log: LineReader;
}

describe.skipIf(skipNetns)("formation that cannot split unnoticed, in network namespaces", () => {
  let lan: Netns;
  let dataRoot: string;

  beforeAll(async () => {
    lan = createNetns(3);
    dataRoot = mkdtempSync(join(tmpdir(), "fly-split-"));
  });

  afterAll(async () => {
    await lan?.destroy();
    if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  });

  function start(id: string, host: NsHost, extra: string[]): Started {
    const proc = lan.spawn(
      host.ns,
      [
        BUN,
        join(ROOT, "cli/flydb.ts"),
        "--node-id",
        id,
        "--data-dir",
        join(dataRoot, id),
        "--bind-addr",
        "0.0.0.0:6380",
        "--http-addr",
        `0.0.0.0:${HTTP}`,
        "--cluster-addr",
        `${host.address}:7946`,
        "--raft-addr",
        `${host.address}:7947`,
        "--discovery-enabled",
        "--discovery-cluster-id",
        "split-test",
        "--partition-count",
        "8",
        "--fsync",
        "no",
        ...extra,
      ],
      { cwd: ROOT },
    );
    return { id, host, proc, log: new LineReader(proc.stderr) };
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

  async function stop(s: Started): Promise<void> {
    s.proc.kill("SIGTERM");
    await s.proc.exited;
  }

  test("a discovery-only node never founds a cluster and says every few seconds what it waits for and what would unblock it", async () => {
    const s = start("lonely", lan.hosts[2]!, []);
    try {
      const waiting = (l: string) => l.includes("waiting to form or join a cluster") && l.includes("bootstrap_expect");
      await s.log.waitFor(waiting, 15_000, "the first waiting line");
      const first = Date.now();
      // The reason stays the same: the old loop said it once and then nothing.
      await s.log.waitFor((l) => waiting(l) && Date.now() - first > 1_000, 12_000, "the waiting line repeated");
      expect((await curl(s.host, "/ready")).code).toBe(503);
      expect(s.log.lines.some((l) => l.includes("bootstrapped a new cluster"))).toBe(false);
    } finally {
      await stop(s);
    }
  });

  test("two clusters founded apart under one cluster_id on one link: both report the other (log, /cluster/status, metric), neither merges", async () => {
    const a = start("alpha", lan.hosts[0]!, ["--bootstrap"]);
    const b = start("beta", lan.hosts[1]!, ["--bootstrap"]);
    try {
      for (const [s, other] of [
        [a, "beta"],
        [b, "alpha"],
      ] as const) {
        await s.log.waitFor(
          (l) => l.includes("another cluster with this cluster_id is on the network") && l.includes(other),
          30_000,
          `${s.id} to report ${other}'s cluster`,
        );
        const st = JSON.parse((await curl(s.host, "/cluster/status")).body) as {
          members: { id: string }[];
          foreign_clusters: { node: string; members: string[] }[];
        };
        expect(st.members.map((m) => m.id)).toEqual([s.id]);
        expect(st.foreign_clusters.map((f) => [f.node, f.members])).toEqual([[other, [other]]]);
        expect((await curl(s.host, "/metrics")).body).toMatch(/^flydb_cluster_foreign_nodes 1$/m);
      }
    } finally {
      await Promise.all([stop(a), stop(b)]);
    }
  });
});
