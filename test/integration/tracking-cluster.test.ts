// Client tracking in a 3-node cluster (in-process nodes, replication factor 3): a key read through
// node A is invalidated when a write through node B changes it, because node A applies that write
// to its own replica and its keyspace-event hook reports the key (src/pubsub/tracking.ts).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { startCluster, waitHealthy, type TestCluster } from "../helpers/cluster-nodes.ts";
import { RawConnection } from "../helpers/raw-socket.ts";
import { encodeCommand } from "../helpers/resp-client.ts";

setDefaultTimeout(60_000);
let c: TestCluster;
const conns: RawConnection[] = [];

beforeAll(async () => {
  c = await startCluster(3, "tracking");
  await waitHealthy(c, 3);
});

afterAll(async () => {
  for (const r of conns) r.close();
  await c?.stop();
});

async function open(port: number): Promise<RawConnection> {
  const r = await RawConnection.connect(port);
  conns.push(r);
  return r;
}

/** Sends one command and waits for `until` in what the connection received since. */
async function send(r: RawConnection, argv: string[], until: string): Promise<string> {
  const mark = r.received().length;
  await r.write(encodeCommand(argv));
  return (await r.readUntil((t) => t.slice(mark).includes(until), 10_000)).slice(mark);
}

test("a write through node B invalidates a key tracked through node A (RESP3 and RESP2 redirect)", async () => {
  const [a, b] = [c.members[0]!.node.respPort, c.members[1]!.node.respPort];
  const tracker = await open(a);
  await send(tracker, ["HELLO", "3"], "flydb_version");
  await send(tracker, ["CLIENT", "TRACKING", "on"], "+OK");
  await send(tracker, ["GET", "{trk}k"], "_\r\n");
  const sub = await open(a);
  const id = /:(\d+)/.exec(await send(sub, ["CLIENT", "ID"], "\r\n"))![1]!;
  await send(sub, ["SUBSCRIBE", "__redis__:invalidate"], ":1\r\n");
  const redirected = await open(a);
  await send(redirected, ["CLIENT", "TRACKING", "on", "REDIRECT", id], "+OK");
  await send(redirected, ["GET", "{trk}k"], "$-1\r\n");

  const writer = await open(b);
  const pushed = tracker.readUntil((t) => t.includes("invalidate"), 10_000);
  const message = sub.readUntil((t) => t.includes("*1\r\n$6\r\n{trk}k\r\n"), 10_000);
  await send(writer, ["SET", "{trk}k", "v"], "+OK");
  expect(await pushed).toContain(">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\n{trk}k\r\n");
  expect(await message).toContain("$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$6\r\n{trk}k\r\n");
});

test("a script through node A: MONITOR on A shows its commands, its read tracks its keys, a script's write through B invalidates", async () => {
  const [a, b] = [c.members[0]!.node.respPort, c.members[1]!.node.respPort];
  const monitor = await open(a);
  await send(monitor, ["MONITOR"], "+OK");
  const tracker = await open(a);
  await send(tracker, ["HELLO", "3"], "flydb_version");
  await send(tracker, ["CLIENT", "TRACKING", "on"], "+OK");
  await send(tracker, ["EVAL", "return redis.call('get', KEYS[1])", "1", "{scr}k"], "_\r\n");
  expect(await monitor.readUntil((t) => t.includes('lua] "get" "{scr}k"'), 10_000)).toMatch(
    /\[0 127\.0\.0\.1:\d+\] "EVAL" .*\r\n\+\d+\.\d+ \[0 lua\] "get" "\{scr\}k"\r\n/,
  );
  const writer = await open(b);
  const pushed = tracker.readUntil((t) => t.includes("invalidate"), 10_000);
  await send(writer, ["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "{scr}k"], "+OK");
  expect(await pushed).toContain(">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\n{scr}k\r\n");
  // Node B's script is shown on B, not on A.
  await Bun.sleep(100);
  expect(monitor.received()).not.toContain('"set" "{scr}k"');
});

test("NOLOOP through a node that does not lead the keys: no invalidation of the client's own writes, nor of writes its reads already saw", async () => {
  const [a, b] = [c.members[0]!.node.respPort, c.members[1]!.node.respPort];
  // Keys in 12 slots: some partitions are led by other nodes, whose writes come back to A through apply.
  const keys = Array.from({ length: 12 }, (_, i) => `{nl${i}}k`);
  const noloop = await open(a);
  await send(noloop, ["HELLO", "3"], "flydb_version");
  await send(noloop, ["CLIENT", "TRACKING", "on", "NOLOOP"], "+OK");
  const bcast = await open(a);
  await send(bcast, ["HELLO", "3"], "flydb_version");
  await send(bcast, ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "{bc", "NOLOOP"], "+OK");
  // A plain tracker reading right after another connection of A wrote: the write it saw must not invalidate it.
  const reader = await open(a);
  await send(reader, ["HELLO", "3"], "flydb_version");
  await send(reader, ["CLIENT", "TRACKING", "on"], "+OK");
  const other = await open(a);
  for (const k of keys) {
    await send(noloop, ["GET", k], "\r\n");
    await send(noloop, ["SET", k, "1"], "+OK");
    await send(bcast, ["SET", k.replace("nl", "bc"), "1"], "+OK");
    await send(other, ["SET", k.replace("nl", "rd"), "1"], "+OK");
    await send(reader, ["GET", k.replace("nl", "rd")], "$1\r\n1\r\n");
  }
  // A write through node B invalidates all three (and proves nothing else was pending before it).
  const writer = await open(b);
  const sentinel = "{nl0}k";
  const done = [noloop, bcast].map((r) =>
    r.readUntil((t) => t.includes("}k\r\n", t.lastIndexOf("invalidate")), 10_000),
  );
  await send(noloop, ["GET", sentinel], "$1\r\n1\r\n");
  await send(reader, ["GET", sentinel], "\r\n");
  const readerDone = reader.readUntil((t) => t.includes(`invalidate\r\n*1\r\n$6\r\n${sentinel}`), 10_000);
  await send(writer, ["SET", sentinel, "2"], "+OK");
  await send(writer, ["SET", "{bc0}k", "2"], "+OK");
  await Promise.all([...done, readerDone]);
  const pushes = (r: RawConnection) => r.received().split(">2\r\n$10\r\ninvalidate\r\n").slice(1);
  expect(pushes(noloop)).toEqual([`*1\r\n$6\r\n${sentinel}\r\n`]);
  expect(pushes(bcast)).toEqual(["*1\r\n$6\r\n{bc0}k\r\n"]);
  expect(pushes(reader)).toEqual([`*1\r\n$6\r\n${sentinel}\r\n`]);
});
