import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import fc from "fast-check";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { RespEncoder } from "../../src/resp/encoder.ts";
import type { Protocol } from "../../src/resp/encoder.ts";
import * as R from "../../src/resp/reply.ts";
import type { Reply } from "../../src/resp/reply.ts";
import {
  startRespServer,
  type ConnectionControl,
  type ConnectionHandler,
  type RespServer,
} from "../../src/server/resp-server.ts";

const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

/** A small real handler: a few test commands, anything else echoed back as an array. */
function testHandler(conn: ConnectionControl, closed: number[]): ConnectionHandler {
  let protocol: Protocol = 2;
  return {
    protocol: () => protocol,
    onClose: () => closed.push(conn.id),
    onCommand(argv): Reply | Promise<Reply> {
      switch (text(argv[0]).toUpperCase()) {
        case "PING":
          return argv.length > 1 ? R.bulk(argv[1]) : R.simple("PONG");
        case "ECHO":
          return R.bulk(argv[1]);
        case "HELLO":
          protocol = Number(text(argv[1])) === 3 ? 3 : 2;
          return R.map([
            [R.bulk("server"), R.bulk("flydb-test")],
            [R.bulk("proto"), R.int(protocol)],
          ]);
        case "QUIT":
          conn.close();
          return R.OK;
        case "ASYNC": {
          const ms = Number(text(argv[1]));
          return new Promise((resolve) => setTimeout(() => resolve(R.bulk(argv[2])), ms));
        }
        case "FAIL":
          return Promise.reject(new Error("async boom"));
        case "THROW":
          throw new Error("sync boom");
        case "BIG":
          return R.bulk(new Uint8Array(Number(text(argv[1]))).fill(argv[2][0]));
        case "DOUBLE":
          return R.double(Number(text(argv[1])));
        case "NULL":
          return R.NULL_BULK;
        case "BADREPLY":
          return { t: "bulk", v: undefined } as unknown as Reply;
        case "WHOAMI":
          return R.bulk(`${conn.id} ${conn.remoteAddress} ${conn.localAddress}`);
        default:
          return R.bulkArray(argv);
      }
    },
  };
}

/** A raw TCP client that keeps everything it receives and honours write backpressure. */
class RawClient {
  private chunks: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private drained: (() => void) | null = null;
  closed = false;
  readonly done: Promise<void>;

  private constructor(
    private readonly socket: Socket<RawClient>,
    done: Promise<void>,
  ) {
    this.done = done;
  }

  static async connect(port: number): Promise<RawClient> {
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const socket = await Bun.connect<RawClient>({
      hostname: "127.0.0.1",
      port,
      socket: {
        binaryType: "uint8array",
        data(s, chunk) {
          s.data.chunks.push(chunk);
          s.data.notify();
        },
        drain(s) {
          s.data.drained?.();
        },
        close(s) {
          s.data.closed = true;
          s.data.drained?.();
          s.data.notify();
          markDone();
        },
      },
    });
    const client = new RawClient(socket, done);
    socket.data = client;
    return client;
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get byteLength(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  text(): string {
    return this.chunks.map(text).join("");
  }

  async send(data: string | Uint8Array): Promise<void> {
    let rest = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    while (rest.length > 0 && !this.closed) {
      const n = this.socket.write(rest);
      rest = rest.subarray(Math.max(n, 0));
      if (rest.length > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    }
  }

  /** Resolves with everything received once `until` holds; rejects after `ms`. */
  async waitFor(until: (received: string) => boolean, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.text();
      if (until(got)) return got;
      if (this.closed) throw new Error(`closed before the expected reply; got ${JSON.stringify(got.slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(got.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  async waitForBytes(n: number, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.byteLength < n) {
      if (Date.now() > deadline) throw new Error(`timed out with ${this.byteLength}/${n} bytes`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }
}

async function run(cmd: string[], stdin?: string | Uint8Array): Promise<{ out: string; code: number }> {
  const proc = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  if (stdin !== undefined && proc.stdin) {
    proc.stdin.write(stdin);
    await proc.stdin.end();
  }
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { out: out + err, code };
}

let server: RespServer;
const closedIds: number[] = [];

beforeAll(async () => {
  server = await startRespServer({
    host: "127.0.0.1",
    port: 0,
    onConnection: (conn) => testHandler(conn, closedIds),
  });
});

afterAll(async () => {
  await server.stop();
});

describe("real redis-cli", () => {
  test("commands and replies", async () => {
    const cli = (...args: string[]) => run(["redis-cli", "-p", String(server.port), ...args]);
    expect(await cli("PING")).toEqual({ out: "PONG\n", code: 0 });
    expect((await cli("ECHO", "hello world")).out).toBe("hello world\n");
    expect((await cli("--no-raw", "foo", "a b", "")).out).toBe('1) "foo"\n2) "a b"\n3) ""\n');
    expect((await cli("--no-raw", "NULL")).out).toBe("(nil)\n");
    expect((await cli("--no-raw", "THROW")).out).toBe("(error) ERR internal error: sync boom\n");
  });

  test("RESP3 through HELLO 3 (redis-cli -3)", async () => {
    const { out } = await run(["redis-cli", "-3", "--no-raw", "-p", String(server.port), "DOUBLE", "1.5"]);
    expect(out).toBe("(double) 1.5\n");
  });

  test("--pipe mass insertion", async () => {
    const lines = Array.from(
      { length: 2000 },
      (_, i) => `*3\r\n$3\r\nSET\r\n$${`k${i}`.length}\r\nk${i}\r\n$1\r\nv\r\n`,
    );
    const { out, code } = await run(["redis-cli", "-p", String(server.port), "--pipe"], lines.join(""));
    expect(code).toBe(0);
    expect(out).toContain("errors: 0, replies: 2000");
  });
});

describe("pipelining", () => {
  test("replies go out in command order with mixed sync and async replies", async () => {
    const c = await RawClient.connect(server.port);
    await c.send(
      "ASYNC 40 a\r\nPING\r\n*3\r\n$5\r\nASYNC\r\n$1\r\n5\r\n$1\r\nc\r\nECHO d\r\nFAIL\r\nTHROW\r\nASYNC 0 g\r\n" +
        "BADREPLY\r\nPING h\r\n",
    );
    const expected = new RegExp(
      "^" +
        "\\$1\r\na\r\n\\+PONG\r\n\\$1\r\nc\r\n\\$1\r\nd\r\n-ERR internal error: async boom\r\n" +
        "-ERR internal error: sync boom\r\n\\$1\r\ng\r\n" +
        "-ERR internal error: [^\r\n]+\r\n\\$1\r\nh\r\n$",
    );
    expect(await c.waitFor((s) => s.endsWith("$1\r\nh\r\n"))).toMatch(expected);
    c.end();
  });

  test("commands split across TCP packets byte by byte", async () => {
    const c = await RawClient.connect(server.port);
    const input = '*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nPING\r\nECHO "x y"\r\n';
    for (const ch of input) {
      await c.send(ch);
      await Bun.sleep(1);
    }
    const expected = "$5\r\nhello\r\n+PONG\r\n+PONG\r\n$3\r\nx y\r\n";
    expect(await c.waitFor((s) => s.length >= expected.length)).toBe(expected);
    c.end();
  });

  test("HELLO 3 switches the encoding from its own reply on", async () => {
    const c = await RawClient.connect(server.port);
    await c.send("DOUBLE 2.5\r\nHELLO 3\r\nDOUBLE 2.5\r\nNULL\r\nHELLO 2\r\nNULL\r\n");
    const expected =
      "$3\r\n2.5\r\n%2\r\n$6\r\nserver\r\n$10\r\nflydb-test\r\n$5\r\nproto\r\n:3\r\n,2.5\r\n_\r\n" +
      "*4\r\n$6\r\nserver\r\n$10\r\nflydb-test\r\n$5\r\nproto\r\n:2\r\n$-1\r\n";
    expect(await c.waitFor((s) => s.length >= expected.length)).toBe(expected);
    c.end();
  });

  test("QUIT answers, skips the rest and closes; onClose runs", async () => {
    const c = await RawClient.connect(server.port);
    await c.send("WHOAMI\r\n");
    const whoami = await c.waitFor((s) => /^\$\d+\r\n.*\r\n$/.test(s));
    const id = Number(whoami.split("\r\n")[1].split(" ")[0]);
    await c.send("ASYNC 20 x\r\nQUIT\r\nPING\r\n");
    await c.done;
    expect(c.text()).toEndWith("$1\r\nx\r\n+OK\r\n");
    await Bun.sleep(20);
    expect(closedIds).toContain(id);
  });

  test("a client that shuts down its sending side still gets its pending replies", async () => {
    // nc -N sends FIN after its input and reads until the server closes.
    const { out } = await run(["sh", "-c", `printf 'ASYNC 30 late\\r\\nPING\\r\\n' | nc -N 127.0.0.1 ${server.port}`]);
    expect(out).toBe("$4\r\nlate\r\n+PONG\r\n");
  });

  test("inline commands from nc", async () => {
    const { out } = await run([
      "sh",
      "-c",
      `printf 'PING\\r\\nECHO "hello world"\\n' | nc -q1 127.0.0.1 ${server.port}`,
    ]);
    expect(out).toBe("+PONG\r\n$11\r\nhello world\r\n");
  });

  test("connection ids are unique and addresses are ip:port", async () => {
    const a = await RawClient.connect(server.port);
    const b = await RawClient.connect(server.port);
    await Promise.all([a.send("WHOAMI\r\n"), b.send("WHOAMI\r\n")]);
    const [ra, rb] = await Promise.all([a, b].map((c) => c.waitFor((s) => /\r\n.*\r\n/.test(s))));
    const [idA, remoteA, localA] = ra.split("\r\n")[1].split(" ");
    const [idB] = rb.split("\r\n")[1].split(" ");
    expect(idA).not.toBe(idB);
    expect(remoteA).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(localA).toBe(`127.0.0.1:${server.port}`);
    a.end();
    b.end();
  });
});

describe("bad input", () => {
  test("a 2 GB bulk length header gets an error and a close while other connections keep working", async () => {
    const other = await RawClient.connect(server.port);
    const bad = await RawClient.connect(server.port);
    await bad.send("PING\r\n*1\r\n$2147483648\r\n");
    await bad.done;
    expect(bad.text()).toBe("+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    await other.send("PING\r\n");
    expect(await other.waitFor((s) => s.length >= 7)).toBe("+PONG\r\n");
    const fresh = await RawClient.connect(server.port);
    await fresh.send("ECHO ok\r\n");
    expect(await fresh.waitFor((s) => s.length >= 8)).toBe("$2\r\nok\r\n");
    other.end();
    fresh.end();
  });

  test("a 1 MB inline line gets an error and a close", async () => {
    const c = await RawClient.connect(server.port);
    void c.send(`${"a".repeat(1024 * 1024)}\r\n`);
    await c.done;
    expect(c.text()).toBe("-ERR Protocol error: too big inline request\r\n");
  });

  test("unbalanced quotes and a bad multibulk count get redis's errors", async () => {
    for (const [input, error] of [
      ['SET "a b\r\n', "unbalanced quotes in request"],
      ["*-x\r\n", "invalid multibulk length"],
      ["*1\r\n+PING\r\n", "expected '$', got '+'"],
    ]) {
      const c = await RawClient.connect(server.port);
      await c.send(input);
      await c.done;
      expect(c.text()).toBe(`-ERR Protocol error: ${error}\r\n`);
    }
  });

  test("garbage piped through nc gets the error text and a close", async () => {
    const { out } = await run(["sh", "-c", `printf '*1\\r\\n$abc\\r\\n' | nc -N 127.0.0.1 ${server.port}`]);
    expect(out).toBe("-ERR Protocol error: invalid bulk length\r\n");
  });
});

describe("authentication limits", () => {
  test("strangers get redis's small limits until AUTH, even within one pipelined write", async () => {
    const s = await startRespServer({
      host: "127.0.0.1",
      port: 0,
      onConnection: () => {
        let authed = false;
        return {
          onCommand: (argv) => {
            if (text(argv[0]) === "AUTH") {
              authed = true;
              return R.OK;
            }
            return R.int(argv.length);
          },
          protocol: () => 2,
          onClose: () => {},
          authenticated: () => authed,
        };
      },
    });
    const eleven = `*11\r\n${"$1\r\na\r\n".repeat(11)}`;
    const stranger = await RawClient.connect(s.port);
    await stranger.send(`PING\r\n${eleven}`);
    await stranger.done;
    expect(stranger.text()).toBe(":1\r\n-ERR Protocol error: unauthenticated multibulk length\r\n");
    const friend = await RawClient.connect(s.port);
    await friend.send(`AUTH pw\r\n${eleven}*1\r\n$20000\r\n${"x".repeat(20000)}\r\n`);
    expect(await friend.waitFor((r) => r.length >= 14)).toBe("+OK\r\n:11\r\n:1\r\n");
    friend.end();
    await s.stop();
  });
});

describe("garbage over real sockets", () => {
  // An echo server: its exact output for any input follows from the decoder and the encoder,
  // so the whole socket path is checked against the in-process codec.
  let echo: RespServer;
  beforeAll(async () => {
    echo = await startRespServer({
      host: "127.0.0.1",
      port: 0,
      limits: { maxBulkLength: 64, maxMultibulkLength: 8, maxInlineLength: 64 },
      onConnection: () => ({ onCommand: (argv) => R.bulkArray(argv), protocol: () => 2, onClose: () => {} }),
    });
  });
  afterAll(() => echo.stop());

  const piece = fc.oneof(
    fc.constantFrom("*", "*2\r\n", "$", "$3\r\n", "\r\n", "\r", "\n", "0", "1", "-", " ", '"', "'", "\\", "abc", "\0"),
    fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString("latin1")),
  );

  test("the socket answers exactly what the codec predicts, then closes on a protocol error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), async (pieces) => {
        const input = Buffer.from(pieces.join(""), "latin1");
        const decoder = new RespDecoder({ maxBulkLength: 64, maxMultibulkLength: 8, maxInlineLength: 64 });
        decoder.push(Uint8Array.from(input));
        const encoder = new RespEncoder();
        for (let argv = decoder.next(); argv !== null; argv = decoder.next()) encoder.encode(R.bulkArray(argv), 2);
        if (decoder.error !== null) encoder.encode(R.err(`ERR ${decoder.error}`), 2);
        const expected = text(encoder.bytes());

        const c = await RawClient.connect(echo.port);
        await c.send(input);
        if (decoder.error !== null) {
          await c.done;
          expect(c.text()).toBe(expected);
        } else {
          expect(await c.waitFor((got) => got.length >= expected.length)).toBe(expected);
          c.end();
        }
      }),
      { numRuns: 60 },
    );
    const c = await RawClient.connect(echo.port);
    await c.send("PING\r\n");
    expect(await c.waitFor((s) => s.length >= 14)).toBe("*1\r\n$4\r\nPING\r\n");
    c.end();
  });
});

describe("backpressure", () => {
  test("a client that does not read gets every byte in order once it does; others are served meanwhile", async () => {
    const slow = await RawClient.connect(server.port);
    slow.pause();
    const n = 24;
    const size = 1_000_000;
    const letters = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
    await slow.send(letters.map((l, i) => (i % 5 === 2 ? `ASYNC 1 ${l}\r\n` : `BIG ${size} ${l}\r\n`)).join(""));
    await Bun.sleep(200);
    const other = await RawClient.connect(server.port);
    await other.send("PING\r\n");
    expect(await other.waitFor((s) => s.length >= 7)).toBe("+PONG\r\n");
    other.end();
    slow.resume();
    const expectedBytes = letters.reduce((sum, _, i) => sum + (i % 5 === 2 ? 7 : `$${size}\r\n`.length + size + 2), 0);
    await slow.waitForBytes(expectedBytes);
    const got = slow.text();
    expect(got.length).toBe(expectedBytes);
    let at = 0;
    for (const [i, l] of letters.entries()) {
      if (i % 5 === 2) {
        expect(got.slice(at, at + 7)).toBe(`$1\r\n${l}\r\n`);
        at += 7;
      } else {
        const header = `$${size}\r\n`;
        expect(got.slice(at, at + header.length)).toBe(header);
        const body = got.slice(at + header.length, at + header.length + size);
        expect(body === l.repeat(size)).toBe(true);
        at += header.length + size + 2;
      }
    }
    slow.end();
  });
});

describe("pending replies", () => {
  /** A server whose commands wait until released; counts what was dispatched. */
  async function holdingServer() {
    const state = { received: 0, released: false, held: [] as (() => void)[] };
    const s = await startRespServer({
      host: "127.0.0.1",
      port: 0,
      onConnection: () => ({
        onCommand: () => {
          state.received++;
          if (state.released) return R.OK;
          return new Promise<Reply>((resolve) => state.held.push(() => resolve(R.OK)));
        },
        protocol: () => 2,
        onClose: () => {},
      }),
    });
    const settle = async () => {
      for (let last = -1; state.received !== last; ) {
        last = state.received;
        await Bun.sleep(100);
      }
    };
    return { s, state, settle };
  }

  test("at most 512 commands of a connection await replies; the rest wait undecoded until half are answered", async () => {
    const { s, state, settle } = await holdingServer();
    const c = await RawClient.connect(s.port);
    const n = 400_000;
    void c.send("HOLD\r\n".repeat(n));
    await settle();
    // Before the bound, every command Bun had read was dispatched (~60k of them here).
    expect(state.received).toBe(512);
    for (const release of state.held.splice(0, 255)) release();
    await settle();
    expect(state.received).toBe(512);
    state.held.shift()!();
    await settle();
    expect(state.received).toBe(768);
    state.released = true;
    for (const release of state.held.splice(0)) release();
    await c.waitForBytes(n * 5);
    expect(state.received).toBe(n);
    expect(c.text()).toBe("+OK\r\n".repeat(n));
    c.end();
    await s.stop();
  });

  test("input held back when the client shuts down its sending side still runs and is answered", async () => {
    const { s, state, settle } = await holdingServer();
    const n = 3000;
    // nc -N sends FIN after its input and reads until the server closes.
    const out = run(["nc", "-N", "127.0.0.1", String(s.port)], "HOLD\r\n".repeat(n));
    await settle();
    expect(state.received).toBe(512);
    state.released = true;
    for (const release of state.held.splice(0)) release();
    expect((await out).out).toBe("+OK\r\n".repeat(n));
    expect(state.received).toBe(n);
    await s.stop();
  });
});

describe("lifecycle", () => {
  test("stop() closes every connection, runs onClose and frees the port", async () => {
    const closed: number[] = [];
    const s = await startRespServer({ host: "127.0.0.1", port: 0, onConnection: (c) => testHandler(c, closed) });
    const clients = await Promise.all([1, 2, 3].map(() => RawClient.connect(s.port)));
    await clients[0].send("PING\r\n");
    await clients[0].waitFor((r) => r.length >= 7);
    await Bun.sleep(20);
    expect(s.connections()).toBe(3);
    await s.stop();
    expect(s.connections()).toBe(0);
    expect(closed).toHaveLength(3);
    await Promise.all(clients.map((c) => c.done));
    await expect(RawClient.connect(s.port)).rejects.toThrow();
  });

  test("limits are passed to the decoder", async () => {
    const s = await startRespServer({
      host: "127.0.0.1",
      port: 0,
      limits: { maxBulkLength: 4 },
      onConnection: (c) => testHandler(c, []),
    });
    const c = await RawClient.connect(s.port);
    await c.send("*2\r\n$4\r\nECHO\r\n$4\r\nfour\r\n*2\r\n$4\r\nECHO\r\n$5\r\nfive!\r\n");
    await c.done;
    expect(c.text()).toBe("$4\r\nfour\r\n-ERR Protocol error: invalid bulk length\r\n");
    await s.stop();
  });
});
