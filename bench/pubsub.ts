// PUBLISH fan-out: one publisher pipelines PUBLISH to a channel with 100 subscribers; reports the
// messages delivered per second (publishes × subscribers, counted as they arrive) for FlyDB
// (dist/flydb, standalone) and redis-server in the same run, and their ratio. The subscribers and
// the publisher are raw sockets in this process, so both servers face the same client costs.
// With --idle N, N more clients each subscribe to a channel of their own first: the server's RSS
// before and after they subscribed, and the round trip of single PUBLISHes, are reported too.
// With --cluster, a 3-node FlyDB cluster on loopback runs too: the subscribers spread over its
// nodes, the publisher on the first (so two thirds of the deliveries cross the transport).
//
//   npx bun bench/pubsub.ts [--subscribers 100] [--seconds 5] [--size 32] [--pipeline 64] [--idle 10000]
//     [--cluster]
import { readFileSync } from "node:fs";
import { Socket } from "node:net";
import { parseArgs } from "node:util";
import {
  ensureBinary,
  startClusterMember,
  startFlyDB,
  startRedisServer,
  type ServerProcess,
} from "../test/helpers/processes.ts";
import { encodeCommand } from "../test/helpers/resp-client.ts";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "100" },
    seconds: { type: "string", default: "5" },
    size: { type: "string", default: "32" },
    pipeline: { type: "string", default: "64" },
    idle: { type: "string", default: "0" },
    cluster: { type: "boolean", default: false },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const SECONDS = Number(values.seconds);
const SIZE = Number(values.size);
const PIPELINE = Number(values.pipeline);
const IDLE = Number(values.idle);
const CHANNEL = "bench";
const PAYLOAD = "x".repeat(SIZE);
/** One message frame as a RESP2 subscriber receives it. */
const FRAME = `*3\r\n$7\r\nmessage\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n$${SIZE}\r\n${PAYLOAD}\r\n`.length;
const CONFIRM = `*3\r\n$9\r\nsubscribe\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n:1\r\n`.length;

async function connect(port: number): Promise<Socket> {
  const s = new Socket();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.connect(port, "127.0.0.1", resolve);
  });
  s.setNoDelay(true);
  return s;
}

interface Result {
  readonly published: number;
  readonly delivered: number;
  readonly seconds: number;
  /** With --idle: resident memory (MB) before and after the idle subscribers, PUBLISH round trip (ms). */
  readonly idle?: { readonly rssBefore: number; readonly rssAfter: number; readonly p50: number; readonly p99: number };
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/** IDLE clients, each subscribed to a channel no one publishes to. */
async function idleSubscribers(port: number): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < IDLE; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, IDLE - i) }, async (_, k) => {
        const s = await connect(port);
        await new Promise<void>((resolve) => {
          s.once("data", () => resolve());
          s.write(encodeCommand(["SUBSCRIBE", `idle:${i + k}`]));
        });
        return s;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/** Round trips of single PUBLISHes, in ms: [p50, p99]. */
async function publishLatency(pub: Socket, samples = 500): Promise<[number, number]> {
  const times: number[] = [];
  const one = encodeCommand(["PUBLISH", CHANNEL, PAYLOAD]);
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      pub.once("data", () => resolve());
      pub.write(one);
    });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(samples / 2)]!, times[Math.floor(samples * 0.99)]!];
}

/** `subscriberPorts`: where the subscribers connect, round robin (the publisher uses server's port). */
async function run(server: ServerProcess, subscriberPorts = [server.port]): Promise<Result> {
  const port = server.port;
  const rssBefore = rssMb(server.pid);
  const idle = await idleSubscribers(port);
  const rssAfter = rssMb(server.pid);
  let bytes = 0;
  const subs: Socket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const s = await connect(subscriberPorts[i % subscriberPorts.length]!);
    let confirmed = false;
    await new Promise<void>((resolve) => {
      s.on("data", (d: Buffer) => {
        if (confirmed) {
          bytes += d.length;
          return;
        }
        confirmed = true;
        bytes += d.length - CONFIRM; // a message may share the chunk with the confirmation
        resolve();
      });
      s.write(encodeCommand(["SUBSCRIBE", CHANNEL]));
    });
    subs.push(s);
  }
  const pub = await connect(port);
  let idleResult: Result["idle"];
  let latencyMessages = 0;
  if (IDLE > 0) {
    const [p50, p99] = await publishLatency(pub);
    latencyMessages = 500 * SUBSCRIBERS;
    idleResult = { rssBefore, rssAfter, p50, p99 };
  }
  const batch = Buffer.concat(Array.from({ length: PIPELINE }, () => encodeCommand(["PUBLISH", CHANNEL, PAYLOAD])));
  let replies = 0;
  let waiting: (() => void) | undefined;
  pub.on("data", (d: Buffer) => {
    for (const b of d) if (b === 10) replies++;
    waiting?.();
  });
  let published = 0;
  const started = performance.now();
  const stopAt = started + SECONDS * 1000;
  // Two batches in flight: the publisher never waits on a round trip, nor floods the server.
  while (performance.now() < stopAt) {
    pub.write(batch);
    published += PIPELINE;
    while (replies < published - PIPELINE) await new Promise<void>((r) => (waiting = r));
  }
  const expected = (published * SUBSCRIBERS + latencyMessages) * FRAME;
  const deadline = performance.now() + 60_000;
  while (bytes < expected && performance.now() < deadline) await Bun.sleep(5);
  const seconds = (performance.now() - started) / 1000;
  for (const s of [...subs, pub, ...idle]) s.destroy();
  const delivered = Math.floor(bytes / FRAME) - latencyMessages;
  return { published, delivered, seconds, ...(idleResult ? { idle: idleResult } : {}) };
}

const servers: ServerProcess[] = [];
try {
  const redis = await startRedisServer({ args: ["--maxclients", String(IDLE + SUBSCRIBERS + 100)] });
  servers.push(redis);
  const maxclients = String(IDLE + SUBSCRIBERS + 100);
  const fly = await startFlyDB({
    binary: ensureBinary(),
    args: ["--fsync", "no", "--log-level", "warn", "--maxclients", maxclients],
  });
  servers.push(fly);
  console.log(`PUBLISH to ${SUBSCRIBERS} subscribers, ${SIZE}-byte messages, pipeline ${PIPELINE}, ${SECONDS} s`);
  const rates: number[] = [];
  const report = (name: string, r: Result) => {
    const rate = r.delivered / r.seconds;
    rates.push(rate);
    const lost = r.published * SUBSCRIBERS - r.delivered;
    console.log(
      `${name.padEnd(12)} published ${r.published}  delivered ${r.delivered} (${lost} missing)  ` +
        `${Math.round(rate).toLocaleString("en")} messages/s delivered  ` +
        `(${Math.round(r.published / r.seconds)} publishes/s)`,
    );
    if (r.idle) {
      const i = r.idle;
      console.log(
        `${"".padEnd(12)} ${IDLE} idle subscribers: RSS ${i.rssBefore.toFixed(0)} → ${i.rssAfter.toFixed(0)} MB, ` +
          `PUBLISH round trip p50 ${i.p50.toFixed(3)} ms, p99 ${i.p99.toFixed(3)} ms`,
      );
    }
  };
  report("redis-server", await run(redis));
  report("flydb", await run(fly));
  console.log(`flydb / redis-server: ${(rates[1]! / rates[0]!).toFixed(2)}`);
  if (values.cluster) {
    const binary = ensureBinary();
    const args = ["--fsync", "no", "--log-level", "warn", "--maxclients", maxclients];
    const first = await startClusterMember({ id: "b1", partitions: 8, binary, args });
    servers.push(first);
    for (const id of ["b2", "b3"]) {
      servers.push(await startClusterMember({ id, seed: first.gossip, partitions: 8, binary, args }));
    }
    for (let ready = false; !ready; await Bun.sleep(200)) {
      const s = (await (await fetch(`${first.http}/cluster/status`)).json()) as { members: unknown[] };
      ready = s.members.length === 3;
    }
    const members = servers.slice(-3);
    report(
      "flydb 3-node",
      await run(
        first,
        members.map((m) => m.port),
      ),
    );
    console.log(`flydb 3-node cluster / redis-server: ${(rates[2]! / rates[0]!).toFixed(2)}`);
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
