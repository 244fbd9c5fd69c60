// Streams on a real 3-node cluster on loopback (in-process nodes): writes and group reads through
// every node, whichever leads the stream's partition; a blocked XREADGROUP on one node is served
// by an XADD through another (cluster waiters retry every 100 ms, src/node.ts); XREAD over
// streams of two slots answers CROSSSLOT.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { startCluster, waitHealthy, type TestCluster } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(60_000);
let c: TestCluster;
let clients: Redis[];

beforeAll(async () => {
  c = await startCluster(3, "streams");
  await waitHealthy(c, 3);
  clients = c.members.map((m) => new Redis({ host: "127.0.0.1", port: m.node.respPort, maxRetriesPerRequest: 0 }));
});

afterAll(async () => {
  for (const r of clients ?? []) r.disconnect();
  await c?.stop();
});

test("XADD, XGROUP, XREADGROUP, XACK and XPENDING work through any node", async () => {
  const [a, b, d] = clients as [Redis, Redis, Redis];
  expect(await a.xadd("{s}1", "1-1", "f", "v1")).toBe("1-1");
  expect(await b.xadd("{s}1", "1-2", "f", "v2")).toBe("1-2");
  // `*` takes the proposing node's clock: a later ID than the explicit ones.
  const auto = (await d.xadd("{s}1", "*", "f", "v3")) as string;
  expect(auto).toMatch(/^\d{13}-0$/);
  expect(await b.call("XGROUP", "CREATE", "{s}1", "g", "0")).toBe("OK");
  expect(await d.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "{s}1", ">")).toEqual([
    [
      "{s}1",
      [
        ["1-1", ["f", "v1"]],
        ["1-2", ["f", "v2"]],
      ],
    ],
  ]);
  for (const r of clients) {
    expect(await r.xlen("{s}1")).toBe(3);
    expect(await r.call("XPENDING", "{s}1", "g")).toEqual([2, "1-1", "1-2", [["alice", "2"]]]);
  }
  expect(await a.call("XACK", "{s}1", "g", "1-1")).toBe(1);
  expect(await b.call("XPENDING", "{s}1", "g")).toEqual([1, "1-2", "1-2", [["alice", "1"]]]);
});

test("a blocked XREADGROUP on one node is served by an XADD through another", async () => {
  const [a, b, d] = clients as [Redis, Redis, Redis];
  await a.call("XGROUP", "CREATE", "{s}2", "g", "$", "MKSTREAM");
  const blocked = new Redis({ host: "127.0.0.1", port: c.members[2]!.node.respPort, maxRetriesPerRequest: 0 });
  try {
    const started = Date.now();
    const read = blocked.call("XREADGROUP", "GROUP", "g", "bob", "BLOCK", "10000", "STREAMS", "{s}2", ">");
    await Bun.sleep(300);
    await b.xadd("{s}2", "5-0", "k", "v");
    // Served by the XADD: a wait that ran out would answer nil after the 10 s BLOCK, not the entry.
    expect(await read).toEqual([["{s}2", [["5-0", ["k", "v"]]]]]);
    console.log(`the blocked XREADGROUP was served ${Date.now() - started} ms after it was sent`);
    expect(await d.call("XPENDING", "{s}2", "g")).toEqual([1, "5-0", "5-0", [["bob", "1"]]]);
    // XREAD BLOCK $ through a third node sees only what is added after it blocked.
    const tail = blocked.call("XREAD", "BLOCK", "10000", "STREAMS", "{s}2", "$");
    await Bun.sleep(300);
    await a.xadd("{s}2", "6-0", "k", "w");
    expect(await tail).toEqual([["{s}2", [["6-0", ["k", "w"]]]]]);
  } finally {
    blocked.disconnect();
  }
});

test("XREAD over streams of two slots answers CROSSSLOT", async () => {
  const [a] = clients as [Redis];
  await expect(a.call("XREAD", "STREAMS", "{x}a", "{y}b", "0", "0")).rejects.toThrow(
    "CROSSSLOT Keys in request don't hash to the same slot",
  );
});
