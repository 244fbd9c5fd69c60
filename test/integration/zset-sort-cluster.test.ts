// The sorted-set algebra and SORT on a real 3-node cluster on loopback (in-process nodes, 16
// partitions): keys under one hash tag work through any node, keys of several slots answer
// CROSSSLOT, and SORT's BY/GET patterns work only when a hash tag keeps their keys in the sorted
// key's partition (src/commands/sort.ts); PFCOUNT answered by any member writes back its cached
// cardinality (src/cluster/replica-host.ts).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { startCluster, waitHealthy, type TestCluster } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(60_000);
let c: TestCluster;
let clients: Redis[];

beforeAll(async () => {
  c = await startCluster(3, "zsort");
  await waitHealthy(c, 3);
  clients = c.members.map((m) => new Redis({ host: "127.0.0.1", port: m.node.respPort, maxRetriesPerRequest: 0 }));
});

afterAll(async () => {
  for (const r of clients ?? []) r.disconnect();
  await c?.stop();
});

const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
const error = (p: Promise<unknown>) =>
  p.then(
    () => "no error",
    (e: Error) => e.message,
  );

test("ZUNIONSTORE, ZINTER and ZMPOP of one hash tag work through any node; other slots answer CROSSSLOT", async () => {
  const [a, b, d] = clients as [Redis, Redis, Redis];
  await a.zadd("{g}a", 1, "x", 2, "y");
  await b.zadd("{g}b", 3, "y", 4, "z");
  expect(await d.zunionstore("{g}u", 2, "{g}a", "{g}b")).toBe(3);
  for (const r of clients) expect(await r.zrange("{g}u", 0, -1, "WITHSCORES")).toEqual(["x", "1", "z", "4", "y", "5"]);
  expect(await b.zinter(2, "{g}a", "{g}b", "WITHSCORES")).toEqual(["y", "5"]);
  expect(await a.call("ZMPOP", "2", "{g}none", "{g}u", "MAX")).toEqual(["{g}u", [["y", "5"]]]);
  expect(await error(a.zunionstore("{h}u", 2, "{g}a", "{g}b"))).toBe(CROSSSLOT);
});

test("SORT with patterns under the key's hash tag works; one that may leave the partition is refused", async () => {
  const [a, b, d] = clients as [Redis, Redis, Redis];
  await a.rpush("{u1}ids", "1", "2", "3");
  await b.mset("{u1}w_1", "30", "{u1}w_2", "10", "{u1}w_3", "20");
  await b.mset("{u1}n_1", "one", "{u1}n_2", "two", "{u1}n_3", "three");
  const sorted = ["2", "two", "3", "three", "1", "one"];
  expect(await d.sort("{u1}ids", "BY", "{u1}w_*", "GET", "#", "GET", "{u1}n_*")).toEqual(sorted);
  expect(await a.sort("{u1}ids", "BY", "{u1}w_*", "DESC", "STORE", "{u1}out")).toBe(3);
  expect(await b.lrange("{u1}out", 0, -1)).toEqual(["1", "3", "2"]);
  expect(await d.call("SORT_RO", "{u1}ids", "BY", "nosort", "GET", "#")).toEqual(["1", "2", "3"]);
  expect(await error(a.sort("{u1}ids", "BY", "w_*"))).toBe(
    "ERR BY option of SORT denied in cluster mode: keys formed by pattern 'w_*' may be in another partition than " +
      "'{u1}ids'; give the pattern a hash tag before its '*', like '{u1}w_*'",
  );
  expect(await error(b.sort("{u1}ids", "GET", "*"))).toContain("ERR GET option of SORT denied in cluster mode");
  expect(await error(d.sort("{u1}ids", "STORE", "{u2}out"))).toBe(CROSSSLOT);
});

test("PFCOUNT through any node answers the count, and its cached cardinality gets written back (HYLL byte 15)", async () => {
  const [a, b, d] = clients as [Redis, Redis, Redis];
  await a.pfadd("{p}h", "a", "b", "c");
  const valid = async () => (await a.getrangeBuffer("{p}h", 15, 15))[0] === 0;
  expect(await valid()).toBe(false);
  for (const r of [b, d, a]) expect(await r.pfcount("{p}h")).toBe(3);
  const deadline = Date.now() + 5000;
  while (!(await valid()) && Date.now() < deadline) await Bun.sleep(50);
  expect(await valid()).toBe(true);
  await b.pfadd("{p}h", "d");
  expect(await valid()).toBe(false);
  expect(await d.pfcount("{p}h")).toBe(4);
});
