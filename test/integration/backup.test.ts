// Backup and restore (docs/CLUSTER_SETUP.md, "Backup and restore"), on real dist/flydb processes:
// `flydb backup` of a 3-node cluster while a client keeps writing, restored into a standalone node
// and into a new cluster of another partition count, holds every key acknowledged before the backup
// began, with its value and TTL (and the member that joins the new cluster receives every restored
// row by InstallSnapshot); a damaged or truncated file is refused and writes nothing; and a
// node killed (kill -9) while it serves a backup gives the client a clean error and leaves no file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { freePorts } from "../helpers/ports.ts";
import { type LoopbackCluster, startLoopbackCluster } from "../helpers/loopback-cluster.ts";
import {
  DIST_BINARY,
  type FlyDBProcess,
  runTool,
  startClusterMember,
  startFlyDB,
  tempDir,
} from "../helpers/processes.ts";

const PARTITIONS = 4;
let cluster: LoopbackCluster;
const started: FlyDBProcess[] = [];
const clients: Redis[] = [];
let file: string;
/** What every restore must hold: key → [value, TTL in ms or -1]. */
const acked = new Map<string, [string, number]>();

beforeAll(async () => {
  cluster = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "bak" });
  await cluster.settled();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
  for (const p of started) await p.stop(2000);
});

const flydb = (args: string[], timeoutMs = 30_000) => runTool([DIST_BINARY, ...args], { timeoutMs });

async function expectRestored(c: Redis): Promise<void> {
  const keys = [...acked.keys()];
  const values = await c.mget(...keys);
  expect(values.filter((v, i) => v !== acked.get(keys[i]!)![0])).toEqual([]);
  for (const key of keys.filter((k) => acked.get(k)![1] > 0)) {
    const pttl = await c.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(acked.get(key)![1]);
  }
  expect(await c.hgetall("bak:hash")).toEqual({ a: "1", b: "2" });
  expect(await c.lrange("bak:list", 0, -1)).toEqual(["x", "y", "z"]);
}

describe("flydb backup and restore", () => {
  test("a backup under a write load restores into a standalone node and into a new cluster", async () => {
    const c = cluster.client(cluster.members[0]!);
    for (let i = 0; i < 200; i++) {
      const ttl = i % 4 === 0 ? 600_000 : -1;
      if (ttl > 0) await c.set(`bak:${i}`, `v${i}`, "PX", ttl);
      else await c.set(`bak:${i}`, `v${i}`);
      acked.set(`bak:${i}`, [`v${i}`, ttl]);
    }
    await c.hset("bak:hash", "a", "1", "b", "2");
    await c.rpush("bak:list", "x", "y", "z");
    // The load: writes through another member for the whole backup; each one acknowledged before
    // the backup starts must be in it.
    const w = cluster.connect(cluster.members[2]!);
    let writing = true;
    let backupStarted = false;
    const load = (async () => {
      for (let i = 0; writing; i++) {
        await w.set(`load:${i}`, `l${i}`);
        if (!backupStarted) acked.set(`load:${i}`, [`l${i}`, -1]);
      }
    })();
    await Bun.sleep(100);
    file = join(tempDir("backup"), "cluster.flydb");
    backupStarted = true;
    const r = await flydb(["backup", file, "--http", `127.0.0.1:${cluster.members[1]!.proc.httpPort}`, "--json"]);
    writing = false;
    await load;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { partition_count: number; indexes: number[]; cluster_id: string };
    expect(report.partition_count).toBe(PARTITIONS);
    expect(report.indexes.every((i) => i > 0)).toBe(true);
    expect(report.cluster_id).not.toBe("");

    // Into a standalone node, with the backup's partition count.
    const single = join(tempDir("restore"), "data");
    const restored = await flydb(["restore", file, "--data-dir", single, "--node-id", "solo"]);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    const solo = await startFlyDB({
      binary: "dist",
      dataDir: single,
      nodeId: "solo",
      args: ["--partition-count", "4"],
    });
    started.push(solo);
    await expectRestored(connect(solo.port));

    // Into a new cluster with twice the partitions: the restored data dir founds it, another joins.
    const founderDir = join(tempDir("restore"), "data");
    const again = await flydb([
      "restore",
      file,
      "--data-dir",
      founderDir,
      "--node-id",
      "new1",
      "--partition-count",
      "8",
    ]);
    expect(again.code).toBe(0);
    const [resp, http, gossip, raft] = freePorts(4);
    const founder = await startClusterMember({
      id: "new1",
      partitions: 8,
      binary: "dist",
      args: ["--log-level", "warn", "--bootstrap"],
      restart: { dataDir: founderDir, resp: resp!, http: http!, gossip: gossip!, raft: raft! },
    });
    started.push(founder);
    const joiner = await startClusterMember({
      id: "new2",
      partitions: 8,
      binary: "dist",
      seed: founder.gossip,
      args: ["--log-level", "warn"],
    });
    started.push(joiner);
    await waitUntil(
      async () => (await fetch(`${joiner.http}/ready`)).status === 200,
      30_000,
      "the joining member ready",
    );
    // The member that joined holds a replica of every partition (two members): its rows come by
    // InstallSnapshot. Before, a restored data dir founded its groups with no snapshot of its rows,
    // the joiner's replicas stayed empty and reads lost keys once a leader moved to it.
    const stored = async (m: FlyDBProcess) =>
      ((await (await fetch(`${m.http}/cluster/status`)).json()) as { keys: number }).keys;
    const restoredKeys = await stored(founder);
    expect(restoredKeys).toBeGreaterThanOrEqual(acked.size + 2);
    await waitUntil(
      async () => (await stored(joiner)) === restoredKeys,
      30_000,
      "the joiner's replicas holding every key",
    );
    await expectRestored(connect(joiner.port));
  }, 60_000);

  test("a damaged or truncated backup is refused and nothing is written", async () => {
    const bytes = readFileSync(file);
    const dir = tempDir("restore-bad");
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(join(dir, "flipped.flydb"), flipped);
    writeFileSync(join(dir, "short.flydb"), bytes.subarray(0, bytes.length - 40));
    for (const [name, why] of [
      ["flipped.flydb", /damaged|checksum/],
      ["short.flydb", /truncated/],
    ] as const) {
      const target = join(dir, `data-${name}`);
      const r = await flydb(["restore", join(dir, name), "--data-dir", target]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/nothing was written/);
      expect(existsSync(target)).toBe(false);
    }
  });

  test("kill -9 of the node serving a backup midway: a clean error and no file", async () => {
    // With the two other members stopped the serving node cannot confirm a partition's state
    // (no quorum for its ReadIndex round): it has sent the header and waits, until killed.
    const [serving, ...others] = [cluster.members[1]!, cluster.members[0]!, cluster.members[2]!];
    for (const m of others) process.kill(m.proc.pid, "SIGSTOP");
    try {
      const out = join(tempDir("backup-kill"), "cut.flydb");
      const cli = Bun.spawn([DIST_BINARY, "backup", out, "--http", `127.0.0.1:${serving.proc.httpPort}`], {
        stdout: "pipe",
        stderr: "pipe",
      });
      await waitUntil(async () => existsSync(`${out}.tmp`) && statSync(`${out}.tmp`).size > 0, 10_000, "a header", 5);
      await cluster.kill9(serving);
      const [code, stderr] = await Promise.all([cli.exited, new Response(cli.stderr).text()]);
      expect(stderr).toMatch(/truncated|broke/);
      expect(code).toBe(1);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.tmp`)).toBe(false);
    } finally {
      for (const m of others) process.kill(m.proc.pid, "SIGCONT");
    }
  }, 30_000);
});

function connect(port: number): Redis {
  const r = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  r.on("error", () => {});
  clients.push(r);
  return r;
}
