// Malformed input on one connection gets Redis's answer (for protocol errors: `-ERR Protocol
// error: …` and the connection closed) while other connections keep being served and the data
// stays intact. Every case is sent to redis-server too: FlyDB must answer it the same way.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { startFlyDB, startRedisServer, type FlyDBProcess, type ServerProcess } from "../helpers/processes.ts";
import { RawConnection } from "../helpers/raw-socket.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

let redis: ServerProcess;
let flydb: FlyDBProcess;
let bystander: RespClient;

beforeAll(async () => {
  [redis, flydb] = await Promise.all([startRedisServer(), startFlyDB({ args: ["--fsync", "no"] })]);
  bystander = await RespClient.connect(flydb.port);
  expect(show(await bystander.call("SET", "precious", "data"))).toBe("+OK");
});

afterAll(async () => {
  bystander?.close();
  await Promise.all([redis?.stop(), flydb?.stop()]);
});

interface Outcome {
  readonly reply: string;
  readonly closed: boolean;
}

/**
 * Sends the bytes, then reads until the server closes or stays quiet for `quietMs`. With
 * `atLeast` (redis-server's outcome) it first waits, up to a few seconds, for as many bytes (and
 * the close) as redis produced, so a server slowed down by a loaded machine is not cut short.
 */
async function exchange(port: number, bytes: string | Uint8Array, quietMs = 150, atLeast?: Outcome): Promise<Outcome> {
  const conn = await RawConnection.connect(port);
  try {
    await conn.write(bytes);
    if (atLeast)
      await conn.readUntil((t) => t.length >= atLeast.reply.length && (!atLeast.closed || conn.isClosed), 5000);
    let seen = -1;
    while (!conn.isClosed && conn.received().length !== seen) {
      seen = conn.received().length;
      await conn.readUntil((t) => t.length !== seen, quietMs);
    }
    return { reply: conn.received(), closed: conn.isClosed };
  } finally {
    conn.close();
  }
}

/** redis-server's answer to the bytes, then FlyDB's, waiting for at least as much. */
async function both(flyPort: number, redisPort: number, bytes: string | Uint8Array): Promise<[Outcome, Outcome]> {
  const theirs = await exchange(redisPort, bytes);
  const ours = await exchange(flyPort, bytes, 150, theirs);
  return [ours, theirs];
}

async function stillServing(): Promise<void> {
  expect(show(await bystander.call("GET", "precious"))).toBe('$"data"');
  const fresh = await RespClient.connect(flydb.port);
  try {
    expect(show(await fresh.call("PING"))).toBe("+PONG");
  } finally {
    fresh.close();
  }
}

const PROTOCOL_ERRORS: [string, string | Uint8Array, string][] = [
  ["a 2 GB bulk length header", "*1\r\n$2147483648\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
  ["a negative bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
  ["a non-numeric bulk length", "*2\r\n$3\r\nGET\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
  ["a huge multibulk count", "*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
  ["a bulk without '$'", "*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"],
  ["a 1 MB inline line", "A".repeat(1024 * 1024), "-ERR Protocol error: too big inline request\r\n"],
  [
    "a 1 MB multibulk header line",
    `*${"1".repeat(1024 * 1024)}`,
    "-ERR Protocol error: too big mbulk count string\r\n",
  ],
  ["unbalanced quotes inline", 'SET "a b\r\n', "-ERR Protocol error: unbalanced quotes in request\r\n"],
];

describe("protocol errors", () => {
  for (const [what, bytes, expected] of PROTOCOL_ERRORS) {
    test(`${what}: -ERR Protocol error and close, like redis-server`, async () => {
      const [ours, theirs] = await both(flydb.port, redis.port, bytes);
      expect(theirs).toEqual({ reply: expected, closed: true });
      expect(ours).toEqual(theirs);
      await stillServing();
    });
  }

  test("commands before the bad bytes in the same packet are answered first", async () => {
    const bytes = "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$8\r\nprecious\r\n*1\r\n$2147483648\r\n";
    const [ours, theirs] = await both(flydb.port, redis.port, bytes);
    expect(ours.reply).toBe("+PONG\r\n$4\r\ndata\r\n-ERR Protocol error: invalid bulk length\r\n");
    expect(ours).toEqual({ ...theirs, reply: theirs.reply.replace("$-1", "$4\r\ndata") });
  });
});

describe("input that is not an error in Redis", () => {
  const CASES: [string, string][] = [
    ["*-5 (ignored)", "*-5\r\n*1\r\n$4\r\nPING\r\n"],
    ["*0 (ignored)", "*0\r\n*1\r\n$4\r\nPING\r\n"],
    ["empty inline lines (ignored)", "\r\n\n\r\nPING\r\n"],
    ["a '$' line outside a multibulk is an inline command", "$5\r\n"],
    ["binary garbage is an unknown inline command", "\x00\x01\xfe\xff garbage\r\n"],
    ["a UTF-8 unknown command is quoted back byte for byte", "*2\r\n$5\r\n\u00e9t\u00e9\r\n$3\r\n\u00fcx\r\n"],
    ["an inline command ending in a bare newline", "PING\n"],
  ];
  for (const [what, bytes] of CASES) {
    test(`${what}: same answer as redis-server, connection open`, async () => {
      const [ours, theirs] = await both(flydb.port, redis.port, bytes);
      expect(ours).toEqual(theirs);
      expect(ours.closed).toBe(false);
      await stillServing();
    });
  }
});

describe("with requirepass, before AUTH", () => {
  let securedRedis: ServerProcess;
  let securedFly: FlyDBProcess;
  beforeAll(async () => {
    [securedRedis, securedFly] = await Promise.all([
      startRedisServer({ args: ["--requirepass", "pw"] }),
      startFlyDB({ args: ["--requirepass", "pw", "--fsync", "no"] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([securedRedis?.stop(), securedFly?.stop()]);
  });

  const CASES: [string, string][] = [
    ["more than 10 arguments", "*11\r\n"],
    ["a bulk over 16 KB", "*1\r\n$16385\r\n"],
    ["10 arguments and a 16 KB bulk are still fine", `*2\r\n$4\r\nECHO\r\n$16384\r\n${"e".repeat(16384)}\r\n`],
    [
      "after AUTH the normal limits apply",
      `*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*12\r\n$4\r\nMGET\r\n${"$1\r\nk\r\n".repeat(11)}`,
    ],
  ];
  for (const [what, bytes] of CASES) {
    test(`${what}: answered like redis-server`, async () => {
      const [ours, theirs] = await both(securedFly.port, securedRedis.port, bytes);
      expect(ours).toEqual(theirs);
    });
  }
});

describe("limits are checked before allocating", () => {
  test("a 500 MB bulk header followed by a trickle does not make the server allocate it", async () => {
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${flydb.pid}/status`, "utf8"))![1]) * 1024;
    const before = rss();
    const conns = await Promise.all(Array.from({ length: 4 }, () => RawConnection.connect(flydb.port)));
    try {
      for (const c of conns)
        await c.write(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${500 * 1024 * 1024}\r\n${"z".repeat(64 * 1024)}`);
      await Bun.sleep(300);
      // Four claimed 500 MB values would be 2 GB; what arrived is 256 KB.
      expect(rss() - before).toBeLessThan(200 * 1024 * 1024);
      await stillServing();
    } finally {
      for (const c of conns) c.close();
    }
  });
});

describe("random bytes", () => {
  test("FlyDB answers arbitrary byte strings like redis-server and keeps serving", async () => {
    // Short inputs that start like RESP or like inline commands, with CR/LF sprinkled in. Bytes
    // stay below 0x80: FlyDB's error replies are UTF-8 text, so an unknown command made of other
    // bytes is echoed differently from Redis (which echoes raw bytes).
    const piece = fc.oneof(
      fc.constantFrom(
        "*",
        "$",
        "\r\n",
        "\n",
        "-1",
        "0",
        "3",
        "PING",
        "GET",
        " ",
        '"',
        "'",
        "\\x41",
        "*1\r\n$4\r\nPING\r\n",
      ),
      fc.uint8Array({ max: 0x7f, maxLength: 6 }).map((b) => Buffer.from(b).toString("latin1")),
    );
    const input = fc.array(piece, { minLength: 1, maxLength: 8 }).map((ps) => ps.join(""));
    await fc.assert(
      fc.asyncProperty(input, async (text) => {
        const bytes = Buffer.from(text, "latin1");
        const [ours, theirs] = await both(flydb.port, redis.port, bytes);
        expect({ input: text, ...ours }).toEqual({ input: text, ...theirs });
      }),
      { numRuns: 40, interruptAfterTimeLimit: 20_000 },
    );
    await stillServing();
  }, 40_000);
});
