// PUBLISH fan-out: one publisher pipelines PUBLISH to a channel with 100 subscribers; reports the
// messages delivered per second (publishes × subscribers, counted as they arrive) for FlyDB
// (dist/flydb, standalone) and redis-server in the same run, and their ratio. The subscribers and
// the publisher are raw sockets in this process, so both servers face the same client costs.
//
//   npx bun bench/pubsub.ts [--subscribers 100] [--seconds 5] [--size 32] [--pipeline 64]
import { Socket } from "node:net";
import { parseArgs } from "node:util";
import { ensureBinary, startFlyDB, startRedisServer, type ServerProcess } from "../test/helpers/processes.ts";
import { encodeCommand } from "../test/helpers/resp-client.ts";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "100" },
    seconds: { type: "string", default: "5" },
    size: { type: "string", default: "32" },
    pipeline: { type: "string", default: "64" },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const SECONDS = Number(values.seconds);
const SIZE = Number(values.size);
const PIPELINE = Number(values.pipeline);
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
}

async function run(port: number): Promise<Result> {
  let bytes = 0;
  const subs: Socket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const s = await connect(port);
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
  const expected = published * SUBSCRIBERS * FRAME;
  const deadline = performance.now() + 60_000;
  while (bytes < expected && performance.now() < deadline) await Bun.sleep(5);
  const seconds = (performance.now() - started) / 1000;
  for (const s of [...subs, pub]) s.destroy();
  return { published, delivered: Math.floor(bytes / FRAME), seconds };
}

const servers: ServerProcess[] = [];
try {
  const redis = await startRedisServer();
  servers.push(redis);
  const fly = await startFlyDB({ binary: ensureBinary(), args: ["--fsync", "no", "--log-level", "warn"] });
  servers.push(fly);
  console.log(`PUBLISH to ${SUBSCRIBERS} subscribers, ${SIZE}-byte messages, pipeline ${PIPELINE}, ${SECONDS} s`);
  const rates: number[] = [];
  for (const [name, port] of [["redis-server", redis.port], ["flydb", fly.port]] as const) {
    const r = await run(port);
    const rate = r.delivered / r.seconds;
    rates.push(rate);
    const lost = r.published * SUBSCRIBERS - r.delivered;
    console.log(
      `${name.padEnd(12)} published ${r.published}  delivered ${r.delivered} (${lost} missing)  ` +
        `${Math.round(rate).toLocaleString("en")} messages/s delivered  (${Math.round(r.published / r.seconds)} publishes/s)`,
    );
  }
  console.log(`flydb / redis-server: ${(rates[1]! / rates[0]!).toFixed(2)}`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
