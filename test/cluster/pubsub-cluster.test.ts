// Pub/Sub across a 4-node cluster of real processes on loopback: a PUBLISH on any node reaches
// the subscribers of every node exactly once and in order while no node fails (docs/API.md
// "Pub/Sub"), real clients (ioredis, ioredis Cluster, redis-cli --csv psubscribe) see Redis's
// frames, and sharded channels live on their slot's leader (-MOVED elsewhere, SPUBLISH forwarded).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis, { Cluster } from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { redisNodeId } from "../../src/cluster/redis-view.ts";
import { ensureBinary, startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";
import { RespClient, show, type Wire } from "../helpers/resp-client.ts";

setDefaultTimeout(120_000);
const PARTITIONS = 8;
const nodes: ClusterMemberProcess[] = [];
const clients: (Redis | Cluster)[] = [];

const client = (n: ClusterMemberProcess) => {
  // No reconnecting to the node the last test kills; a failed command still rejects.
  const c = new Redis({ port: n.port, host: "127.0.0.1", maxRetriesPerRequest: 1, retryStrategy: () => null });
  c.on("error", () => {});
  clients.push(c);
  return c;
};

const until = <T>(what: string, cond: () => Promise<T | undefined | false>, ms = 45_000) =>
  waitUntil(cond, ms, what, 100);

beforeAll(async () => {
  const binary = ensureBinary();
  nodes.push(await startClusterMember({ id: "ps1", partitions: PARTITIONS, binary }));
  for (const id of ["ps2", "ps3", "ps4"]) {
    nodes.push(await startClusterMember({ id, seed: nodes[0]!.gossip, partitions: PARTITIONS, binary }));
  }
  await until("4 members, every partition healthy", async () => {
    const s = (await (await fetch(`${nodes[0]!.http}/cluster/status`)).json()) as {
      members: unknown[];
      partitions: { healthy: number };
    };
    return s.members.length === 4 && s.partitions.healthy === PARTITIONS;
  });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(nodes.map((n) => n.stop(2000)));
});

describe("Pub/Sub in a cluster", () => {
  test("subscribers on 3 nodes see every message of a publisher on a 4th exactly once, in order", async () => {
    const COUNT = 400;
    const seen: string[][] = [];
    const subscribers: Redis[] = [];
    for (const [i, n] of nodes.slice(0, 3).entries()) {
      for (const kind of ["subscribe", "psubscribe"] as const) {
        const sub = client(n);
        const got: string[] = [];
        seen.push(got);
        subscribers.push(sub);
        if (kind === "subscribe") {
          sub.on("message", (channel: string, m: string) => got.push(`${channel}:${m}`));
          expect(await sub.subscribe("news", `only-${i}`)).toBe(2);
        } else {
          sub.on("pmessage", (pattern: string, channel: string, m: string) => got.push(`${pattern}|${channel}:${m}`));
          expect(await sub.psubscribe("new?")).toBe(1);
        }
      }
    }
    // Subscriptions are per node: each counts only its own.
    for (const n of nodes.slice(0, 3)) expect(await client(n).pubsub("NUMSUB", "news")).toEqual(["news", 1]);
    expect(await client(nodes[3]!).pubsub("NUMSUB", "news")).toEqual(["news", 0]);

    const pub = client(nodes[3]!);
    const sent = Array.from({ length: COUNT }, (_, i) => `m${i}`);
    // Pipelined on one connection; as in Redis Cluster the reply counts this node's receivers only.
    const counts = await Promise.all(sent.map((m) => pub.publish("news", m)));
    expect(counts.every((n) => n === 0)).toBe(true);
    await until("every subscriber has every message", async () => seen.every((g) => g.length >= COUNT));
    await Bun.sleep(300); // a duplicate would arrive by now
    for (const [i, got] of seen.entries()) {
      const prefix = i % 2 === 0 ? "news:" : "new?|news:";
      expect(got).toEqual(sent.map((m) => prefix + m));
    }
    // A publisher on a node with local subscribers counts them.
    expect(await client(nodes[1]!).publish("news", "local")).toBe(2);
    for (const s of subscribers) s.disconnect();
  });

  test("an ioredis Cluster client subscribes and receives what any node publishes", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: nodes[0]!.port }]);
    clients.push(cluster);
    const got: string[] = [];
    cluster.on("message", (_c: string, m: string) => got.push(m));
    cluster.on("pmessage", (_p: string, _c: string, m: string) => got.push(`p:${m}`));
    await cluster.subscribe("cluster-chan");
    await cluster.psubscribe("cluster-*");
    for (const [i, n] of nodes.entries()) await client(n).publish("cluster-chan", `from-${i}`);
    await until("4 messages, each twice (channel and pattern)", async () => got.length >= 8);
    expect(got.filter((m) => !m.startsWith("p:"))).toEqual(["from-0", "from-1", "from-2", "from-3"]);
    expect(got.filter((m) => m.startsWith("p:"))).toEqual(["p:from-0", "p:from-1", "p:from-2", "p:from-3"]);
  });

  test("redis-cli --csv psubscribe on one node prints what another node publishes", async () => {
    const argv = ["redis-cli", "-p", String(nodes[2]!.port), "--csv", "psubscribe", "csv.*"];
    const cli = Bun.spawn(argv, { stdout: "pipe" });
    try {
      const reader = cli.stdout.getReader();
      let out = "";
      const readUntil = async (needle: string) => {
        while (!out.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`redis-cli exited; output so far: ${out}`);
          out += new TextDecoder().decode(value);
        }
      };
      await readUntil(`"psubscribe","csv.*",1`);
      await client(nodes[0]!).publish("csv.a", "hello");
      await client(nodes[3]!).publish("csv.b", "with,comma");
      await readUntil(`"csv.b"`);
      // redis-cli also prints a "Reading messages..." banner.
      expect(out.split("\n").filter((l) => l.startsWith('"'))).toEqual([
        `"psubscribe","csv.*",1`,
        `"pmessage","csv.*","csv.a","hello"`,
        `"pmessage","csv.*","csv.b","with,comma"`,
      ]);
    } finally {
      cli.kill();
      await cli.exited;
    }
  });

  test("sharded channels: SSUBSCRIBE is -MOVED to the slot's leader, SPUBLISH anywhere reaches it", async () => {
    const channel = "shard-news";
    // Every node must agree on the slot map first (placement settles after the members join).
    await until("every node reports the same CLUSTER SLOTS, with replicas", async () => {
      const views = await Promise.all(
        nodes.map(async (n) => {
          const c = await RespClient.connect(n.port);
          const slots = show(await c.call("CLUSTER", "SLOTS"));
          c.close();
          return slots;
        }),
      );
      // Nodes appear under their Redis Cluster ids (src/cluster/redis-view.ts).
      const listed = (id: string) => views[0]!.includes(redisNodeId(id));
      return views.every((v) => v === views[0]) && listed("ps2") && listed("ps4");
    });
    const answers: { node: ClusterMemberProcess; reply: Wire }[] = [];
    for (const n of nodes) {
      const c = await RespClient.connect(n.port);
      await c.call("CLUSTER", "SLOTS"); // the connection now speaks Redis Cluster: -MOVED, not proxying
      answers.push({ node: n, reply: await c.call("SSUBSCRIBE", channel) });
      c.close();
    }
    const errorText = (w: Wire) => (w.t === "-" ? w.v : "");
    const moved = answers.filter((a) => errorText(a.reply).startsWith("MOVED "));
    expect(moved.length, answers.map((a) => show(a.reply)).join(" / ")).toBe(3);
    const target = /^MOVED \d+ 127\.0\.0\.1:(\d+)$/.exec(errorText(moved[0]!.reply))![1];
    const leader = nodes.find((n) => String(n.port) === target)!;
    const confirmed = answers.find((a) => a.node === leader)!.reply;
    expect(confirmed.t === "*" && confirmed.v.length === 3 && confirmed.v[2]).toEqual({ t: ":", v: 1n });

    const sub = client(leader);
    const got: string[] = [];
    sub.on("smessage", (_c: string, m: string) => got.push(m));
    expect(await sub.ssubscribe(channel)).toBe(1);
    // A client that does not speak Redis Cluster is proxied: the message goes to the leader.
    const elsewhere = nodes.find((n) => n !== leader)!;
    expect(await client(elsewhere).spublish(channel, "sharded")).toBe(1);
    await until("the sharded message", async () => got.length === 1);
    expect(got).toEqual(["sharded"]);
    expect(await client(leader).pubsub("SHARDNUMSUB", channel)).toEqual([channel, 1]);
  });

  // Last: it kills a node.
  test("a node killed mid-stream loses only the messages of its own subscribers", async () => {
    const COUNT = 300;
    const seen: string[][] = [];
    for (const n of nodes.slice(0, 3)) {
      const sub = client(n);
      const got: string[] = [];
      seen.push(got);
      sub.on("message", (_c: string, m: string) => got.push(m));
      await sub.subscribe("stream");
    }
    const pub = client(nodes[3]!);
    const sent: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      if (i === COUNT / 3) await nodes[2]!.kill9();
      sent.push(`m${i}`);
      await pub.publish("stream", `m${i}`);
    }
    await until(
      "the live nodes' subscribers have every message",
      async () => seen[0]!.length >= COUNT && seen[1]!.length >= COUNT,
    );
    await Bun.sleep(300);
    expect(seen[0]).toEqual(sent);
    expect(seen[1]).toEqual(sent);
    // The dead node's subscriber saw a prefix of the stream (less what was in flight at the kill), each once.
    expect(seen[2]!.length).toBeGreaterThan(COUNT / 6);
    expect(seen[2]!.length).toBeLessThan(COUNT);
    expect(seen[2]).toEqual(sent.slice(0, seen[2]!.length));
  });
});
