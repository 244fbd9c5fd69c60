// Growing a standalone node into a cluster (src/cluster/grow.ts), with the compiled binary on
// loopback: a standalone node writes keys of every type and with TTLs, stops (gracefully, or
// kill -9 with fsync = always), restarts with --bootstrap as a cluster's founder, and two nodes
// join it. Every key reads the same from every node, an expired key is gone, and the joined nodes
// hold the rows themselves: they still serve them all once the founder is killed. A conversion
// cut short at either crash point is finished or redone by the next start; joining with --peers
// or founding with bootstrap_expect is refused.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { freePorts } from "../helpers/ports.ts";
import { readIdentity, writeIdentity } from "../../src/node-identity.ts";
import {
  ensureBinary,
  metricValue,
  runTool,
  startClusterMember,
  startFlyDB,
  type ClusterMemberProcess,
  type FlyDBProcess,
} from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const PARTITIONS = 8;
const TTL_MS = 1_000_000;
const STRINGS = 64;
/** Enough bytes that each partition's snapshot is sent in several InstallSnapshot chunks (256 KiB). */
const BULK = 4000;
const bulkValue = (i: number) => `${i}:`.padEnd(700, "x");
const root = mkdtempSync(join(tmpdir(), "flydb-grow-"));
const procs: FlyDBProcess[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(procs.map((p) => p.stop(2000)));
  rmSync(root, { recursive: true, force: true });
});

const connect = (p: FlyDBProcess, db = 0): Redis => {
  const c = new Redis({ port: p.port, host: "127.0.0.1", db, maxRetriesPerRequest: 1 });
  // Nodes are killed under these clients on purpose; what each command gets is asserted.
  c.on("error", () => {});
  clients.push(c);
  return c;
};

/** What every key must read as after growing: its TYPE, its value by that type's read command, and a TTL or none. */
interface Expected {
  readonly type: string;
  readonly value: unknown;
  readonly ttl: boolean;
}

async function writeEverything(c: Redis): Promise<Map<string, Expected>> {
  const want = new Map<string, Expected>();
  for (let i = 0; i < STRINGS; i++) {
    await c.set(`str:${i}`, `value-${i}`);
    want.set(`str:${i}`, { type: "string", value: `value-${i}`, ttl: false });
  }
  // Ops that are not idempotent: replaying the standalone log twice would show.
  for (let i = 0; i < 3; i++) await c.incr("counter");
  await c.rpush("list", "a", "b", "c");
  await c.lpush("list", "z");
  want.set("counter", { type: "string", value: "3", ttl: false });
  want.set("list", { type: "list", value: ["z", "a", "b", "c"], ttl: false });
  await c.hset("hash", { f1: "v1", f2: "v2" });
  want.set("hash", { type: "hash", value: { f1: "v1", f2: "v2" }, ttl: false });
  await c.sadd("set", "x", "y", "w");
  want.set("set", { type: "set", value: ["w", "x", "y"], ttl: false });
  await c.zadd("zset", 2, "b", 1, "a", 3.5, "c");
  want.set("zset", { type: "zset", value: ["a", "1", "b", "2", "c", "3.5"], ttl: false });
  await c.set("ttl:ex", "e", "EX", TTL_MS / 1000);
  want.set("ttl:ex", { type: "string", value: "e", ttl: true });
  await c.set("ttl:px", "p", "PX", TTL_MS);
  want.set("ttl:px", { type: "string", value: "p", ttl: true });
  await c.set("ttl:expire", "x");
  await c.expire("ttl:expire", TTL_MS / 1000);
  want.set("ttl:expire", { type: "string", value: "x", ttl: true });
  await c.hset("ttl:hash", { f: "v" });
  await c.pexpire("ttl:hash", TTL_MS);
  want.set("ttl:hash", { type: "hash", value: { f: "v" }, ttl: true });
  const bulk = c.pipeline();
  for (let i = 0; i < BULK; i++) bulk.set(`bulk:${i}`, bulkValue(i));
  expect((await bulk.exec())!.every(([e]) => e === null)).toBe(true);
  // Expired long before it is read (the cluster takes seconds to form).
  await c.set("gone", "soon", "PX", 300);
  return want;
}

async function readAs(c: Redis, key: string, type: string): Promise<unknown> {
  switch (type) {
    case "string":
      return c.get(key);
    case "hash":
      return c.hgetall(key);
    case "list":
      return c.lrange(key, 0, -1);
    case "set":
      return (await c.smembers(key)).sort();
    case "zset":
      return c.zrange(key, 0, -1, "WITHSCORES");
    default:
      throw new Error(`no read command for type ${type} of ${key}`);
  }
}

async function expectAll(c: Redis, want: Map<string, Expected>, where: string): Promise<void> {
  for (const [key, w] of want) {
    const got = { type: await c.type(key), value: await readAs(c, key, w.type) };
    expect({ where, key, ...got }).toEqual({ where, key, type: w.type, value: w.value });
    const pttl = await c.pttl(key);
    if (w.ttl) {
      // Well under the elapsed time of this test, and never more than was set.
      expect(pttl).toBeGreaterThan(TTL_MS - 300_000);
      expect(pttl).toBeLessThanOrEqual(TTL_MS);
    } else {
      expect({ where, key, pttl }).toEqual({ where, key, pttl: -1 });
    }
  }
  expect({ where, gone: await c.exists("gone"), type: await c.type("gone") }).toEqual({ where, gone: 0, type: "none" });
  for (let from = 0; from < BULK; from += 500) {
    const keys = Array.from({ length: Math.min(500, BULK - from) }, (_, i) => `bulk:${from + i}`);
    const values = await c.mget(...keys);
    const wrong = keys.filter((k, i) => values[i] !== bulkValue(Number(k.slice(5))));
    expect({ where, wrong: wrong.slice(0, 5) }).toEqual({ where, wrong: [] });
  }
}

interface Status {
  members: { id: string; state: string }[];
  partitions: { total: number; healthy: number; under_replicated: number; leaderless: number };
}
const status = async (p: FlyDBProcess) => (await (await fetch(`${p.http}/cluster/status`)).json()) as Status;
const ready = (p: FlyDBProcess) =>
  fetch(`${p.http}/ready`).then(
    (r) => r.ok,
    () => false,
  );
/** Live keys in the node's own data.db (INFO keyspace counts the whole cluster's). */
const localKeys = (p: FlyDBProcess) => metricValue(p, "flydb_keys");

/** A standalone node (its id only a label) that wrote everything, then stopped or was killed. */
async function standaloneData(dataDir: string, stop: "graceful" | "kill -9"): Promise<Map<string, Expected>> {
  const args = ["--fsync", "always", "--partition-count", String(PARTITIONS), "--log-level", "warn"];
  const standalone = await startFlyDB({ binary: ensureBinary(), dataDir, nodeId: "some-host", args });
  procs.push(standalone);
  const c = connect(standalone);
  const want = await writeEverything(c);
  c.disconnect();
  // One key in database 4: the founding carries every database's rows.
  const db4 = connect(standalone, 4);
  expect(await db4.set("db4-key", "in db 4")).toBe("OK");
  db4.disconnect();
  if (stop === "graceful") expect(await standalone.stop()).toBe(0);
  else await standalone.kill9();
  return want;
}

const ARGS = ["--log-level", "warn", "--fsync", "always"];

/** A cluster member on `dataDir`; `bootstrap` adds --bootstrap, otherwise it starts with no cluster flags. */
async function member(id: string, dataDir: string, bootstrap: boolean): Promise<ClusterMemberProcess> {
  const [resp, http, gossip, raft] = freePorts(4) as [number, number, number, number];
  const restart = { dataDir, resp, http, gossip, raft };
  const args = [...(bootstrap ? ["--bootstrap"] : []), ...ARGS];
  const m = await startClusterMember({ id, partitions: PARTITIONS, binary: ensureBinary(), restart, args });
  procs.push(m);
  return m;
}

async function grow(variant: "graceful" | "kill -9"): Promise<void> {
  const tag = variant === "graceful" ? "g" : "k";
  const dataDir = join(root, `${tag}1`);
  const want = await standaloneData(dataDir, variant);
  const founder = await member(`${tag}1`, dataDir, true);
  const joined: ClusterMemberProcess[] = [];
  for (const n of [2, 3]) {
    const m = await startClusterMember({
      id: `${tag}${n}`,
      seed: founder.gossip,
      partitions: PARTITIONS,
      binary: ensureBinary(),
      args: ARGS,
    });
    procs.push(m);
    joined.push(m);
  }
  const nodes = [founder, ...joined];
  const clientsOf = nodes.map((p) => connect(p));
  const liveKeys = want.size + BULK + 1;
  await waitUntil(
    async () => {
      if (!(await Promise.all(nodes.map(ready))).every(Boolean)) return false;
      const s = await status(founder);
      const { healthy, under_replicated } = s.partitions;
      const settled = s.members.length === 3 && healthy === PARTITIONS && under_replicated === 0;
      // Every node holds every partition (3 nodes, replication_factor 3) with its rows.
      return settled && (await Promise.all(nodes.map(localKeys))).every((k) => k === liveKeys);
    },
    60_000,
    "3 members, every partition replicated to all of them with the standalone node's rows",
    250,
  );
  for (const [i, c] of clientsOf.entries()) await expectAll(c, want, nodes[i]!.id);

  // The founder gone, the joined nodes serve every key from their own replicas.
  clientsOf[0]!.disconnect();
  await founder.kill9();
  const joinedReady = async () => (await Promise.all(joined.map(ready))).every(Boolean);
  await waitUntil(joinedReady, 30_000, "the two joined nodes ready without the founder", 250);
  for (const [i, c] of clientsOf.slice(1).entries()) {
    await expectAll(c, want, `${joined[i]!.id} after the founder was killed`);
  }
  expect(await connect(joined[1]!, 4).get("db4-key")).toBe("in db 4");
  expect(founder.log()).not.toMatch(/panic|uncaught/i);
}

describe("growing a standalone node into a cluster", () => {
  test("stopped gracefully, its data dir founds a cluster that two nodes join", () => grow("graceful"));
  test("killed with kill -9 after its writes (fsync = always), likewise", () => grow("kill -9"));
});

/** `m` becomes ready as the one member of the cluster it founded, and serves `want`. */
async function expectFounded(m: ClusterMemberProcess, want: Map<string, Expected>): Promise<void> {
  await waitUntil(() => ready(m), 30_000, `${m.id} ready`, 250);
  const s = await status(m);
  expect(s.members.map((x) => x.id)).toEqual([m.id]);
  expect(readIdentity(m.dataDir)).toMatchObject({ node_id: m.id, mode: "cluster" });
  await expectAll(connect(m), want, m.id);
}

describe("a conversion interrupted by a crash", () => {
  test("after flydb-node.json recorded bootstrapped_at, before the founding: --bootstrap redoes it", async () => {
    const dataDir = join(root, "r1");
    const want = await standaloneData(dataDir, "kill -9");
    // What recordBootstrap leaves behind for the founder r1 when the process dies right after it.
    const bootstrapped_at = new Date().toISOString();
    writeIdentity(dataDir, { node_id: "r1", mode: "standalone", partition_count: PARTITIONS, bootstrapped_at });
    await expectFounded(await member("r1", dataDir, true), want);
  });

  test("after the founding, before flydb-node.json said cluster: restarted with no flags, it is a member", async () => {
    const dataDir = join(root, "f1");
    const want = await standaloneData(dataDir, "graceful");
    const founder = await member("f1", dataDir, true);
    await expectFounded(founder, want);
    expect(await founder.stop()).toBe(0);
    // The standalone log is gone; every partition group starts at a snapshot, where the log ended.
    const db = new Database(join(dataDir, "raft.db"), { readonly: true });
    type Group = { grp: number; snap_idx: number };
    const groups = db.query<Group, []>("SELECT grp, snap_idx FROM raft_state ORDER BY grp").all();
    const logged = db.query<{ n: number }, []>("SELECT count(*) AS n FROM raft_log WHERE grp < 0").get()!;
    db.close();
    expect(logged.n).toBe(0);
    expect(groups.map((g) => g.grp)).toEqual(Array.from({ length: PARTITIONS + 1 }, (_, g) => g));
    expect(groups.slice(1).every((g) => g.snap_idx > 1)).toBe(true);
    const id = readIdentity(dataDir)!;
    writeIdentity(dataDir, { ...id, mode: "standalone" });
    await expectFounded(await member("f1", dataDir, false), want);
  });
});

describe("refused", () => {
  const refusal = async (dataDir: string, args: string[]) => {
    const r = await runTool([
      ensureBinary(),
      "--data-dir",
      dataDir,
      "--node-id",
      "n1",
      "--partition-count",
      String(PARTITIONS),
      "--bind-addr",
      "127.0.0.1:0",
      "--http-addr",
      "127.0.0.1:0",
      ...args,
    ]);
    return { code: r.code, stderr: r.stderr + r.stdout };
  };

  test("a standalone data dir joining a cluster with --peers, or founding one with bootstrap_expect", async () => {
    const dataDir = join(root, "p1");
    await standaloneData(dataDir, "graceful");
    const peers = await refusal(dataDir, ["--peers", "127.0.0.1:1"]);
    expect(peers.code).toBe(2);
    expect(peers.stderr).toContain("standalone node's data; it cannot join an existing cluster (--peers 127.0.0.1:1)");
    const expectMany = await refusal(dataDir, ["--bootstrap-expect", "2", "--peers", "127.0.0.1:1"]);
    expect(expectMany.code).toBe(2);
    expect(expectMany.stderr).toContain("cannot found a cluster with bootstrap_expect = 2: only this node holds data");
    // Still a standalone data dir, with its data.
    expect(readIdentity(dataDir)?.mode).toBe("standalone");
  });
});
