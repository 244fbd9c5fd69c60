// Growing a standalone node into a cluster (src/cluster/grow.ts), with the compiled binary on
// loopback: a standalone node writes keys of every type and with TTLs, stops (gracefully, or
// kill -9 with fsync = always), restarts with --bootstrap as a cluster's founder, and two nodes
// join it. Every key reads the same from every node, an expired key is gone, and the joined nodes
// hold the rows themselves: they still serve them all once the founder is killed.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { freePorts } from "../helpers/ports.ts";
import { ensureBinary, metricValue, startClusterMember, startFlyDB, type ClusterMemberProcess, type FlyDBProcess } from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const PARTITIONS = 8;
const TTL_MS = 1_000_000;
const STRINGS = 64;
const root = mkdtempSync(join(tmpdir(), "flydb-grow-"));
const procs: FlyDBProcess[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(procs.map((p) => p.stop(2000)));
  rmSync(root, { recursive: true, force: true });
});

const connect = (p: FlyDBProcess): Redis => {
  const c = new Redis({ port: p.port, host: "127.0.0.1", maxRetriesPerRequest: 1, lazyConnect: false });
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
}

interface Status {
  members: { id: string; state: string }[];
  partitions: { total: number; healthy: number; under_replicated: number; leaderless: number };
}
const status = async (p: FlyDBProcess): Promise<Status> => (await (await fetch(`${p.http}/cluster/status`)).json()) as Status;
const ready = (p: FlyDBProcess) => fetch(`${p.http}/ready`).then((r) => r.ok, () => false);
/** Live keys in the node's own data.db (INFO keyspace counts the whole cluster's). */
const localKeys = (p: FlyDBProcess) => metricValue(p, "flydb_keys");

async function grow(variant: "graceful" | "kill -9"): Promise<void> {
  const binary = ensureBinary();
  const tag = variant === "graceful" ? "g" : "k";
  const dataDir = join(root, `${tag}1`);
  const standalone = await startFlyDB({ binary, dataDir, nodeId: `host-${tag}`, args: ["--fsync", "always", "--partition-count", String(PARTITIONS), "--log-level", "warn"] });
  procs.push(standalone);
  const sc = connect(standalone);
  const want = await writeEverything(sc);
  sc.disconnect();
  if (variant === "graceful") expect(await standalone.stop()).toBe(0);
  else await standalone.kill9();

  const [resp, http, gossip, raft] = freePorts(4) as [number, number, number, number];
  const args = ["--log-level", "warn", "--fsync", "always"];
  const founder = await startClusterMember({ id: `${tag}1`, partitions: PARTITIONS, binary, restart: { dataDir, resp, http, gossip, raft }, args: ["--bootstrap", ...args] });
  procs.push(founder);
  const joined: ClusterMemberProcess[] = [];
  for (const n of [2, 3]) {
    const m = await startClusterMember({ id: `${tag}${n}`, seed: founder.gossip, partitions: PARTITIONS, binary, args });
    procs.push(m);
    joined.push(m);
  }
  const nodes = [founder, ...joined];
  const clientsOf = nodes.map(connect);
  const liveKeys = want.size;
  await waitUntil(
    async () => {
      if (!(await Promise.all(nodes.map(ready))).every(Boolean)) return false;
      const s = await status(founder);
      const settled = s.members.length === 3 && s.partitions.healthy === PARTITIONS && s.partitions.under_replicated === 0;
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
  await waitUntil(async () => (await Promise.all(joined.map(ready))).every(Boolean), 30_000, "the two joined nodes ready without the founder", 250);
  for (const [i, c] of clientsOf.slice(1).entries()) await expectAll(c, want, `${joined[i]!.id} after the founder was killed`);
  expect(founder.log()).not.toMatch(/panic|uncaught/i);
}

describe("growing a standalone node into a cluster", () => {
  test("stopped gracefully, its data dir founds a cluster that two nodes join", () => grow("graceful"));
  test("killed with kill -9 after its writes (fsync = always), likewise", () => grow("kill -9"));
});
