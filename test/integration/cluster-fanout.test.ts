// Keyless commands, metrics and the HTTP admin API on a real 3-node cluster on loopback
// (in-process nodes, 16 partitions, node 1 bootstraps, the others join by its gossip port).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import Redis from "ioredis";
import { partitionOf, keySlot } from "../../src/keyspace/slot.ts";
import { decodeOp } from "../../src/store/op-codec.ts";
import { startCluster, waitFor, waitHealthy, type TestCluster } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(60_000);
const TOKEN = "fanout-test-token";
let c: TestCluster;
let clients: Redis[];

beforeAll(async () => {
  c = await startCluster(3, "fan", { http_auth_token: TOKEN });
  await waitHealthy(c, 3);
  clients = c.members.map((m) => new Redis({ host: "127.0.0.1", port: m.node.respPort, maxRetriesPerRequest: 0 }));
  // Members leave and lose partitions on purpose below; the commands' own errors are asserted.
  for (const r of clients) r.on("error", () => {});
});

afterAll(async () => {
  for (const r of clients ?? []) r.disconnect();
  await c?.stop();
});

const written = Array.from({ length: 120 }, (_, i) => `key:${i}`);

describe("keyless commands across partitions", () => {
  test("DBSIZE counts the keys written through every node", async () => {
    await Promise.all(written.map((k, i) => clients[i % 3]!.set(k, `v${i}`)));
    await clients[1]!.set("with-ttl", "x", "EX", 1000);
    for (const r of clients) expect(await r.dbsize()).toBe(written.length + 1);
  });

  test("INFO keyspace sums keys and expiries of the whole cluster", async () => {
    expect(await clients[2]!.info("keyspace")).toContain(`db0:keys=${written.length + 1},expires=1,avg_ttl=0`);
  });

  test("OBJECT HELP is answered by the node asked (it takes no key); OBJECT ENCODING goes to the key's partition", async () => {
    const help = (await clients[0]!.call("object", "help")) as string[];
    expect(help[0]).toMatch(/^OBJECT <subcommand>/);
    expect(await clients[2]!.call("object", "encoding", "key:1")).toBe("embstr");
  });

  test("KEYS returns every key exactly once, and filters by pattern", async () => {
    const all = await clients[0]!.keys("*");
    expect(all.length).toBe(written.length + 1);
    expect(new Set(all)).toEqual(new Set([...written, "with-ttl"]));
    const ones = (await clients[1]!.keys("key:1?")).sort();
    expect(ones).toEqual(Array.from({ length: 10 }, (_, i) => `key:1${i}`).sort());
  });

  test("a full SCAN returns every key exactly once, whatever node each call goes to", async () => {
    let cursor = "0";
    const seen: string[] = [];
    let calls = 0;
    do {
      const [next, keys] = await clients[calls % 3]!.scan(cursor, "COUNT", 5);
      cursor = next;
      seen.push(...keys);
      calls++;
    } while (cursor !== "0" && calls < 1000);
    expect(cursor).toBe("0");
    expect(seen.length).toBe(written.length + 1);
    expect(new Set(seen).size).toBe(written.length + 1);
  });

  test("SCAN MATCH and TYPE filter; a bad cursor is refused like Redis", async () => {
    const seen: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await clients[0]!.scan(cursor, "MATCH", "key:2*", "COUNT", 50, "TYPE", "string");
      cursor = next;
      seen.push(...keys);
    } while (cursor !== "0");
    expect(seen.sort()).toEqual(written.filter((k) => k.startsWith("key:2")).sort());
    await expect(clients[0]!.scan("abc")).rejects.toThrow("ERR invalid cursor");
    await expect(clients[0]!.scan("18446744073709551616")).rejects.toThrow("ERR invalid cursor");
  });

  test("RANDOMKEY returns existing keys", async () => {
    const all = new Set([...written, "with-ttl"]);
    for (let i = 0; i < 5; i++) expect(all.has((await clients[i % 3]!.randomkey())!)).toBe(true);
  });

  test("databases through any node: SELECT 2, SET, GET, DBSIZE, MOVE; FLUSHDB only flushes db 2", async () => {
    const port = (i: number) => c.members[i]!.node.respPort;
    // Thirty keys written through all three nodes: most of them reach their leader through another node.
    const db2 = c.members.map(
      (_, i) => new Redis({ host: "127.0.0.1", port: port(i), db: 2, maxRetriesPerRequest: 0 }),
    );
    const redisCluster = new Redis({ host: "127.0.0.1", port: port(1), maxRetriesPerRequest: 0 });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `db2:${i}`);
      await Promise.all(keys.map((k, i) => db2[i % 3]!.set(k, `v${i}`)));
      expect(await db2[1]!.get("db2:0")).toBe("v0");
      expect(await clients[1]!.get("db2:0")).toBeNull();
      for (const r of db2) expect(await r.dbsize()).toBe(keys.length);
      expect(await clients[0]!.dbsize()).toBe(written.length + 1);
      expect(new Set(await db2[2]!.keys("*"))).toEqual(new Set(keys));
      expect(await clients[2]!.info("keyspace")).toContain(`db2:keys=${keys.length},expires=0,avg_ttl=0`);
      expect(await db2[0]!.move("db2:1", 3)).toBe(1);
      expect(await db2[2]!.flushdb()).toBe("OK");
      for (const r of db2) expect(await r.dbsize()).toBe(0);
      expect(await clients[0]!.dbsize()).toBe(written.length + 1);
      expect(await clients[2]!.info("keyspace")).toContain("db3:keys=1,expires=0,avg_ttl=0");
      // SELECT inside MULTI travels with the transaction to its keys' partition.
      expect(await db2[1]!.multi().select(4).set("tx", "4").exec()).toEqual([
        [null, "OK"],
        [null, "OK"],
      ]);
      expect(await db2[1]!.get("tx")).toBe("4");
      expect(await db2[0]!.get("tx")).toBeNull();
      // A Redis Cluster client (CLUSTER SLOTS puts the connection in that mode) stays on database 0.
      await redisCluster.call("cluster", "slots");
      await expect(redisCluster.select(2)).rejects.toThrow("ERR SELECT is not allowed in cluster mode");
      await expect(redisCluster.call("move", "db2:1", "3")).rejects.toThrow("ERR MOVE is not allowed in cluster mode");
      expect(await redisCluster.select(0)).toBe("OK");
    } finally {
      for (const r of [...db2, redisCluster]) r.disconnect();
    }
  });

  test("SWAPDB breaks a WATCH on a key it brings into the database, as Redis does", async () => {
    const port = c.members[2]!.node.respPort;
    const db6 = new Redis({ host: "127.0.0.1", port, db: 6, maxRetriesPerRequest: 0 });
    const db7 = new Redis({ host: "127.0.0.1", port, db: 7, maxRetriesPerRequest: 0 });
    try {
      // Writes in the key's partition lift its log index above the other partitions' groups,
      // whose part of the SWAPDB carries a lower index (the swap is one write per partition).
      for (let i = 0; i < 30; i++) await db7.set("{swapw}pad", String(i));
      await db7.set("{swapw}x", "30");
      await db6.watch("{swapw}x");
      expect(await db6.swapdb(6, 7)).toBe("OK");
      expect(await db6.multi().ping().exec()).toBeNull();
      await db6.watch("{swapw}x");
      expect(await db6.swapdb(6, 7)).toBe("OK");
      expect(await db6.multi().set("{swapw}y", "1").exec()).toBeNull();
      expect(await db6.exists("{swapw}y")).toBe(0);
    } finally {
      await db6.flushdb();
      await db7.flushdb();
      for (const r of [db6, db7]) r.disconnect();
    }
  });

  test("FLUSHALL empties every partition; FLUSHDB checks its arguments", async () => {
    await expect(clients[0]!.call("flushdb", "now")).rejects.toThrow("ERR syntax error");
    expect(await clients[2]!.flushall()).toBe("OK");
    for (const r of clients) expect(await r.dbsize()).toBe(0);
    expect(await clients[0]!.keys("*")).toEqual([]);
    expect(await clients[1]!.info("keyspace")).not.toContain("db3:");
    expect(await clients[1]!.randomkey()).toBeNull();
    expect(await clients[0]!.scan("0", "COUNT", 1000)).toEqual(["1", []]);
    await clients[0]!.set("after-flush", "1");
    expect(await clients[1]!.dbsize()).toBe(1);
  });
});

describe("active expiry", () => {
  /** Keys deleted by `__expire` ops in a group's log, as stored in a member's raft.db. */
  function expiredInLog(dataDir: string, grp: number): string[] {
    const db = new Database(join(dataDir, "raft.db"), { readonly: true });
    try {
      const rows = db
        .query<{ data: Uint8Array }, [number]>(
          "SELECT data FROM raft_log WHERE grp = ? AND kind = 0 AND data IS NOT NULL ORDER BY idx",
        )
        .all(grp);
      const dec = new TextDecoder();
      return rows.flatMap((r) =>
        decodeOp(r.data)
          .cmds.filter((c) => dec.decode(c[0]) === "__expire")
          .flatMap((c) => c.slice(1).map((k) => dec.decode(k))),
      );
    } finally {
      db.close();
    }
  }

  test("each partition leader deletes its expired keys through its own group's log", async () => {
    // One key in each of 8 partitions, led by different nodes.
    const keys = new Map<number, string>();
    for (let i = 0; keys.size < 8; i++) {
      const p = partitionOf(keySlot(new TextEncoder().encode(`ttl:${i}`)), 16);
      if (!keys.has(p)) keys.set(p, `ttl:${i}`);
    }
    await Promise.all([...keys.values()].map((k, i) => clients[i % 3]!.set(k, "x", "PX", 50)));
    const dir = c.members[0]!.dataDir;
    await waitFor(
      "every expired key deleted in its partition's log",
      () => [...keys].every(([p, k]) => expiredInLog(dir, p + 1).includes(k)),
      20_000,
      200,
    );
    // No key was deleted through another partition's group.
    for (const [p, k] of keys)
      for (const q of keys.keys()) if (q !== p) expect(expiredInLog(dir, q + 1)).not.toContain(k);
  });
});

describe("metrics", () => {
  test("/metrics has Raft, gossip and transport series", async () => {
    const text = await (await c.http(0, "/metrics")).text();
    for (const series of [
      /^flydb_raft_groups\{role="leader"\} \d+$/m,
      /^flydb_raft_elections_total \d+$/m,
      /^flydb_raft_leader_changes_total \d+$/m,
      /^flydb_raft_proposals_total\{outcome="applied"\} [1-9]\d*$/m,
      /^flydb_raft_commit_duration_seconds_count [1-9]\d*$/m,
      /^flydb_sqlite_commit_duration_seconds_count [1-9]\d*$/m,
      /^flydb_sqlite_commit_batch_ops_sum [1-9]\d*$/m,
      /^flydb_raft_apply_lag_entries \d+$/m,
      /^flydb_raft_quiet_groups \d+$/m,
      /^flydb_gossip_members\{state="alive"\} 3$/m,
      /^flydb_gossip_packets_dropped_total\{reason="decode"\} 0$/m,
      /^flydb_transport_bytes_total\{direction="out"\} [1-9]\d*$/m,
      /^flydb_transport_reconnects_total \d+$/m,
      /^flydb_transport_frames_rejected_total 0$/m,
    ]) {
      expect(text).toMatch(series);
    }
  });
});

describe("Redis Cluster tooling", () => {
  // Asynchronous: the nodes run in this process and must keep answering while the tool runs.
  const run = async (argv: string[]) => {
    const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    const [out, errOut, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    return { code, out: out + errOut };
  };

  test("CLUSTER NODES and MYID give 40-hex ids, the bus port and the FlyDB name; all nodes agree", async () => {
    const lines = String(await clients[0]!.call("cluster", "nodes"))
      .trim()
      .split("\n");
    expect(lines.length).toBe(3);
    const ids = new Set<string>();
    for (const line of lines) {
      const [id, addr, flags] = line.split(" ");
      expect(id).toMatch(/^[0-9a-f]{40}$/);
      ids.add(id!);
      const m = c.members.find((x) => addr!.startsWith(`127.0.0.1:${x.node.respPort}@`))!;
      expect(m).toBeDefined();
      expect(addr).toBe(`127.0.0.1:${m.node.respPort}@${m.raftPort},${m.id}`);
      expect(flags!.includes("myself")).toBe(m === c.members[0]);
    }
    expect(ids.size).toBe(3);
    for (const r of clients) expect(ids.has(String(await r.call("cluster", "myid")))).toBe(true);
    expect(await clients[1]!.call("config", "get", "cluster-enabled")).toEqual(["cluster-enabled", "yes"]);
    expect(await clients[2]!.info("server")).toContain("redis_mode:cluster");
  });

  test("redis-cli --cluster check covers every slot; redis-benchmark --cluster runs", async () => {
    const check = await run(["redis-cli", "--cluster", "check", `127.0.0.1:${c.members[1]!.node.respPort}`]);
    expect(check.out).toContain("[OK] All nodes agree about slots configuration.");
    expect(check.out).toContain("[OK] All 16384 slots covered.");
    expect(check.code).toBe(0);
    const bench = await run(
      ["redis-benchmark", "--cluster", "-p", String(c.members[2]!.node.respPort), "-n", "300", "-c", "4"].concat([
        "-t",
        "set,get",
        "-q",
      ]),
    );
    const out = bench.out;
    expect(bench.code).toBe(0);
    expect(out).toMatch(/SET: [\d.]+ requests per second/);
    expect(out).toMatch(/GET: [\d.]+ requests per second/);
    // Its keys (one hash tag per master) would upset the exact counts of the tests below.
    const made = await clients[0]!.keys("key:{*");
    expect(made.length).toBeGreaterThan(0);
    for (const k of made) await clients[0]!.del(k);
  });
});

describe("HTTP API", () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  test("/kv round trip through any node; the token is required", async () => {
    expect((await c.http(0, "/kv/http-key", { method: "PUT", body: "hello" })).status).toBe(401);
    expect(
      (await c.http(0, "/kv/http-key", { method: "PUT", body: "hello", headers: { authorization: "Bearer wrong" } }))
        .status,
    ).toBe(401);
    expect((await c.http(0, "/kv/http-key", { method: "PUT", body: "hello", headers: auth })).status).toBe(200);
    const got = await c.http(1, "/kv/http-key", { headers: auth });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("hello");
    expect(await clients[2]!.get("http-key")).toBe("hello");
    expect((await c.http(2, "/kv/http-key", { headers: {} })).status).toBe(401);
    expect(await (await c.http(2, "/kv/http-key", { method: "DELETE", headers: auth })).json()).toEqual({ deleted: 1 });
    expect((await c.http(0, "/kv/http-key", { headers: auth })).status).toBe(404);
    expect((await c.http(0, "/kv/http-ttl?ttl=abc", { method: "PUT", body: "x", headers: auth })).status).toBe(400);
  });

  test("/cluster/partitions covers slots 0-16383 with a leader and replicas each", async () => {
    const r = (await (await c.http(1, "/cluster/partitions")).json()) as {
      partitions: {
        partition: number;
        slots: [number, number];
        replicas: string[];
        leader: string | null;
        healthy: boolean;
      }[];
    };
    expect(r.partitions.length).toBe(16);
    let next = 0;
    for (const p of r.partitions) {
      expect(p.slots[0]).toBe(next);
      next = p.slots[1] + 1;
      expect(p.replicas.length).toBe(3);
      expect(p.replicas).toContain(p.leader!);
      expect(p.healthy).toBe(true);
    }
    expect(next).toBe(16384);
    const status = (await (await c.http(1, "/cluster/status")).json()) as { partitions: { healthy: number } };
    expect(status.partitions.healthy).toBe(r.partitions.filter((p) => p.healthy).length);
  });

  test("/cluster/join needs the token and a peer list", async () => {
    expect(
      (await c.http(0, "/cluster/join", { method: "POST", body: JSON.stringify({ peers: ["127.0.0.1:1"] }) })).status,
    ).toBe(401);
    expect((await c.http(0, "/cluster/join", { method: "POST", body: "{}", headers: auth })).status).toBe(400);
    // Checked before anything is dialled: a port out of range, no host, or an unbounded list.
    for (const peers of [["127.0.0.1:99999"], ["127.0.0.1:0"], [":7946"], Array(65).fill("127.0.0.1:7946")]) {
      const bad = await c.http(0, "/cluster/join", { method: "POST", body: JSON.stringify({ peers }), headers: auth });
      expect(bad.status).toBe(400);
    }
    const peer = `127.0.0.1:${c.members[1]!.gossipPort}`;
    const r = await c.http(0, "/cluster/join", {
      method: "POST",
      body: JSON.stringify({ peers: [peer] }),
      headers: auth,
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ joining: [peer] });
  });

  test("/cluster/leave drains the metadata leader: replicas and leadership move, it leaves, the rest stay ready", async () => {
    const status = (await (await c.http(0, "/cluster/status")).json()) as { metadata_leader: string };
    const at = c.members.findIndex((m) => m.id === status.metadata_leader);
    expect(at).toBeGreaterThanOrEqual(0);
    const leaving = c.members[at]!;
    const stay = [0, 1, 2].filter((i) => i !== at);
    expect((await c.http(at, "/cluster/leave", { method: "POST" })).status).toBe(401);
    clients[at]!.disconnect();
    const r = await c.http(at, "/cluster/leave?timeout_ms=40000", { method: "POST", headers: auth });
    const body = (await r.json()) as { drained: boolean; voter_groups: number[] };
    expect(body).toMatchObject({ drained: true, voter_groups: [] });
    expect(r.status).toBe(200);
    await waitFor("the leaving node to stop", () => leaving.stopped, 10_000);
    await waitFor(
      "every partition healthy without the leaver",
      async () => {
        const p = (await (await c.http(stay[0]!, "/cluster/partitions")).json()) as {
          partitions: { replicas: string[]; voters: string[]; healthy: boolean }[];
        };
        return p.partitions.every(
          (x) => x.healthy && !x.replicas.includes(leaving.id) && !x.voters.includes(leaving.id),
        );
      },
      20_000,
    );
    await waitHealthy(c, 2);
    expect(await clients[stay[0]!]!.get("after-flush")).toBe("1");
    await clients[stay[1]!]!.set("after-leave", "ok");
    expect(await clients[stay[0]!]!.dbsize()).toBe(2);
  });
});

describe("a partition without a leader", () => {
  test("fails keyless commands with -CLUSTERDOWN/-TRYAGAIN instead of a partial answer", async () => {
    // Two members remain after the leave: stopping one leaves every group without a quorum.
    const [ask, stop] = c.members.flatMap((m, i) => (m.stopped ? [] : [i])) as [number, number];
    await c.members[stop]!.node.stop();
    c.members[stop]!.stopped = true;
    const client = clients[ask]!;
    const other = new Redis({
      host: "127.0.0.1",
      port: c.members[ask]!.node.respPort,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
    });
    try {
      // In parallel: each waits out the per-partition request timeout (no hang, no partial reply).
      const [full, ...results] = await Promise.allSettled([
        client.info(),
        client.dbsize(),
        client.keys("*"),
        client.info("keyspace"),
        other.flushall(),
      ]);
      // A full INFO (ioredis runs one on connect) still answers, and says the count is missing.
      expect(full.status).toBe("fulfilled");
      const text = String((full as PromiseFulfilledResult<string>).value);
      expect(text).toMatch(/^keyspace_error:CLUSTERDOWN /m);
      expect(text).not.toMatch(/^db0:/m);
      const flush = results.pop()!;
      for (const r of results) {
        expect(r.status).toBe("rejected");
        // INFO may already know the node lost its leaders and say so without asking.
        expect(String((r as PromiseRejectedResult).reason)).toMatch(
          /(CLUSTERDOWN|TRYAGAIN) (\w+ needs every partition|this node cannot count)/,
        );
      }
      // A partition whose leader proposed its part may yet apply it: unknown, not a code to resend.
      expect(flush.status).toBe("rejected");
      expect(String((flush as PromiseRejectedResult).reason)).toMatch(
        /(CLUSTERDOWN|UNKNOWN) FLUSHALL needs every partition: |UNKNOWN FLUSHALL was applied in \d+ of/,
      );
    } finally {
      other.disconnect();
    }
  });
});
