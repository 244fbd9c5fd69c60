// Keyspace notifications in a 3-node cluster (in-process nodes, replication factor 3): as in Redis
// Cluster they are per node, and every node that applies a write to its replica of the key's
// partition notifies its own subscribers, whichever node the write was proposed through. A read that
// finds keys expired answers once its node applied their deletion (INFO expired_keys, as standalone).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { startCluster, waitHealthy, type TestCluster } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(60_000);
let c: TestCluster;
const clients: Redis[] = [];

beforeAll(async () => {
  c = await startCluster(3, "kevents", { notify_keyspace_events: "KEA" });
  await waitHealthy(c, 3);
});

afterAll(async () => {
  for (const r of clients) r.disconnect();
  await c?.stop();
});

const connect = (port: number) => {
  const r = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 0 });
  clients.push(r);
  return r;
};

test("a write through one node is notified to the subscribers of every node holding a replica", async () => {
  const got: string[][] = c.members.map(() => []);
  for (const [i, m] of c.members.entries()) {
    const sub = connect(m.node.respPort);
    // One pattern for both kinds, so the two messages of an event arrive in Redis's order.
    sub.on("pmessage", (_p: string, channel: string, message: string) => {
      if (`${channel} ${message}`.includes("{kev}")) got[i]!.push(`${channel} ${message}`);
    });
    await sub.psubscribe("__key*__:*");
  }
  const writer = connect(c.members[1]!.node.respPort);
  await writer.set("{kev}a", "1");
  await writer.lpush("{kev}l", "x", "y");
  await writer.rename("{kev}a", "{kev}b");
  const want = [
    "__keyspace@0__:{kev}a set",
    "__keyevent@0__:set {kev}a",
    "__keyspace@0__:{kev}l lpush",
    "__keyevent@0__:lpush {kev}l",
    "__keyspace@0__:{kev}a rename_from",
    "__keyevent@0__:rename_from {kev}a",
    "__keyspace@0__:{kev}b rename_to",
    "__keyevent@0__:rename_to {kev}b",
  ];
  const deadline = Date.now() + 10_000;
  while (got.some((g) => g.length < want.length) && Date.now() < deadline) await Bun.sleep(50);
  // Each message once; "keyless" is published by another node, so its place among the others may vary.
  for (const g of got) expect([...g].sort()).toEqual([...want].sort());
});

test("a script's PUBLISH reaches every node's subscribers once, though every replica runs the script", async () => {
  const got: string[][] = c.members.map(() => []);
  for (const [i, m] of c.members.entries()) {
    const sub = connect(m.node.respPort);
    sub.on("message", (channel: string, message: string) => got[i]!.push(`${channel} ${message}`));
    await sub.subscribe("script-news");
  }
  const writer = connect(c.members[1]!.node.respPort);
  const script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('publish', 'script-news', ARGV[1])";
  // 0 on every replica (the receivers are per node), so the script's writes cannot differ between them.
  expect(await writer.eval(script, 1, "{kev}p", "first")).toBe(0);
  expect(await writer.eval(script, 1, "{kev}p", "second")).toBe(0);
  expect(
    await connect(c.members[2]!.node.respPort).eval("return redis.call('publish', 'script-news', 'keyless')", 0),
  ).toBe(0);
  const want = ["script-news first", "script-news second", "script-news keyless"];
  const deadline = performance.now() + 10_000;
  while (got.some((g) => g.length < want.length) && performance.now() < deadline) await Bun.sleep(20);
  await Bun.sleep(300); // a second delivery would arrive by now
  // Each message once; "keyless" is published by another node, so its place among the others may vary.
  for (const g of got) expect([...g].sort()).toEqual([...want].sort());
});

test("a read that finds keys expired: its node has applied their deletion by the reply, as standalone", async () => {
  const nodes = c.members.map((m) => connect(m.node.respPort));
  const expiredKeys = async (r: Redis) => Number(/expired_keys:(\d+)/.exec(await r.info("stats"))![1]);
  for (const via of nodes) {
    await via.multi().set("{lx}a", "1", "PX", 30).set("{lx}b", "1", "PX", 30).exec();
    // CLIENT PAUSE WRITE holds every node's active expiry: the reads below find the keys expired.
    for (const r of nodes) await r.call("CLIENT", "PAUSE", "10000", "WRITE");
    await Bun.sleep(60);
    const before = await expiredKeys(via);
    for (const r of nodes) await r.call("CLIENT", "UNPAUSE");
    expect([await via.get("{lx}a"), await via.get("{lx}b")]).toEqual([null, null]);
    expect(await expiredKeys(via)).toBe(before + 2);
  }
});
