// A subscriber that never reads must not grow the server's memory without bound: past the pubsub
// client-output-buffer-limit (Redis's default "32mb 8mb 60", or as configured) it is disconnected,
// and PUBLISH goes on for everyone else.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Socket } from "node:net";
import Redis from "ioredis";
import { startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";
import { encodeCommand } from "../helpers/resp-client.ts";
import { waitUntil } from "../helpers/cluster-harness.ts";

let byDefault: FlyDBProcess;
let configured: FlyDBProcess;
const clients: Redis[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  [byDefault, configured] = await Promise.all([
    startFlyDB({ args: ["--fsync", "no"] }),
    startFlyDB({ args: ["--fsync", "no", "--client-output-buffer-limit-pubsub", "0 1mb 1"] }),
  ]);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of sockets) s.destroy();
  await Promise.all([byDefault?.stop(), configured?.stop()]);
});

/** Subscribes on a raw socket, waits for the confirmation, then stops reading for good. */
async function stuckSubscriber(port: number, channel: string): Promise<{ closed: () => boolean }> {
  const s = new Socket();
  sockets.push(s);
  let closed = false;
  s.on("close", () => (closed = true));
  s.on("error", () => {});
  await new Promise<void>((resolve) => s.connect(port, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => {
    s.once("data", () => resolve());
    s.write(encodeCommand(["SUBSCRIBE", channel]));
  });
  s.pause();
  return { closed: () => closed };
}

const client = (port: number) => {
  const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  clients.push(c);
  return c;
};

test("past the default hard limit (32mb) a subscriber that does not read is disconnected", async () => {
  const stuck = await stuckSubscriber(byDefault.port, "flood");
  const pub = client(byDefault.port);
  const message = Buffer.alloc(256 * 1024, 120);
  let sent = 0;
  // The kernel's socket buffers take some megabytes first; 32 MB more must cut the client off.
  while ((await pub.pubsub("NUMSUB", "flood"))[1] === 1 && sent < 200 * 1024 * 1024) {
    await Promise.all(Array.from({ length: 16 }, () => pub.publish("flood", message)));
    sent += 16 * message.length;
  }
  expect(await pub.pubsub("NUMSUB", "flood")).toEqual(["flood", 0]);
  expect(sent).toBeGreaterThan(32 * 1024 * 1024);
  expect(sent).toBeLessThan(80 * 1024 * 1024);
  await waitUntil(async () => stuck.closed(), 5000, "the server closes the socket");
  expect(await pub.publish("flood", "after")).toBe(0);
});

test("over the soft limit for its seconds a subscriber is disconnected; one that reads is not", async () => {
  const stuck = await stuckSubscriber(configured.port, "slow");
  const reader = client(configured.port);
  let received = 0;
  reader.on("message", () => received++);
  await reader.subscribe("slow");
  const pub = client(configured.port);
  const message = Buffer.alloc(64 * 1024, 121);
  const started = Date.now();
  let published = 0;
  while ((await pub.pubsub("NUMSUB", "slow"))[1] === 2 && Date.now() - started < 20_000) {
    await Promise.all(Array.from({ length: 16 }, () => pub.publish("slow", message)));
    published += 16;
    await Bun.sleep(20);
  }
  // Over 1mb unread is tolerated for 1 s, so it took at least that long.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  expect(await pub.pubsub("NUMSUB", "slow")).toEqual(["slow", 1]);
  await waitUntil(async () => stuck.closed(), 5000, "the server closes the socket");
  await waitUntil(async () => received === published, 5000, "the reading subscriber got every message");
});

test("CONFIG GET client-output-buffer-limit reports the pubsub class in bytes, as Redis", async () => {
  const [name, value] = (await client(byDefault.port).config("GET", "client-output-buffer-limit")) as string[];
  expect(name).toBe("client-output-buffer-limit");
  expect(value).toBe("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
  const tuned = await client(configured.port).config("GET", "client-output-buffer-limit");
  expect((tuned as string[])[1]).toEndWith("pubsub 0 1048576 1");
});
