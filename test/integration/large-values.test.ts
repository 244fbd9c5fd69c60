// Large values on a standalone node (issue #18, item 6): a 20 MB value comes back byte for byte,
// also pipelined behind and ahead of other replies (a reply the socket does not take at once
// waits in the connection's queue without being copied there), survives kill -9 once its SET
// was answered (fsync = "always", though raft.db's checkpoint now follows the answer), while
// another client's PINGs are answered in between. How long that client waits is measured by
// bench/big-value.ts, not asserted here (docs/TESTING.md: tests never assert speed).
import { afterAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";

const MB = 20;
const started: FlyDBProcess[] = [];
afterAll(async () => {
  for (const node of started.reverse()) await node.stop();
});

const client = (node: FlyDBProcess) => new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });

test(`a ${MB} MB value round-trips byte-exact, pipelined, across kill -9, with another client served alongside`, async () => {
  const first = await startFlyDB({ args: ["--fsync", "always"], nodeId: "large" });
  started.push(first);
  // Every byte depends on its offset, so a shifted, truncated or repeated chunk shows.
  const value = Buffer.alloc(MB * 1024 * 1024);
  for (let i = 0; i < value.length; i++) value[i] = (i * 131 + (i >> 12)) % 256;
  const c = client(first);
  const other = client(first);
  await other.ping();
  let pongs = 0;
  let busy = true;
  const pinger = (async () => {
    while (busy) {
      if ((await other.ping()) === "PONG") pongs++;
      await Bun.sleep(5);
    }
  })();
  try {
    expect(await c.set("big", value)).toBe("OK");
    await c.set("small", "s");
    const replies = await c.pipeline().getBuffer("big").get("small").getBuffer("big").get("small").exec();
    busy = false;
    await pinger;
    expect(replies!.map(([e]) => e)).toEqual([null, null, null, null]);
    expect(Buffer.compare(replies![0]![1] as Buffer, value)).toBe(0);
    expect(replies![1]![1]).toBe("s");
    expect(Buffer.compare(replies![2]![1] as Buffer, value)).toBe(0);
    expect(replies![3]![1]).toBe("s");
    expect(pongs).toBeGreaterThan(0);
  } finally {
    busy = false;
    c.disconnect();
    other.disconnect();
  }
  await first.kill9();
  const second = await startFlyDB({ dataDir: first.dataDir, nodeId: "large" });
  started.push(second);
  const after = client(second);
  try {
    expect(Buffer.compare((await after.getBuffer("big"))!, value)).toBe(0);
  } finally {
    after.disconnect();
  }
}, 60_000);
