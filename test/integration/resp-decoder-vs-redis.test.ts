// Differential test of the decoder against the real redis-server: the same bytes (well-formed
// commands mixed with protocol-ish garbage) go to redis and through RespDecoder, and both must
// see the same number of commands and the same protocol error. redis runs with requirepass, so
// whatever the garbage spells, nothing is executed: every command is answered with one line
// (-NOAUTH, -ERR unknown command …), which makes redis's command count the reply count. For
// unknown commands redis's error quotes the arguments it parsed, so those are compared too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../helpers/ports.ts";
import type { Subprocess } from "bun";
import fc from "fast-check";
import { RespDecoder } from "../../src/resp/decoder.ts";

let redis: Subprocess;
let port: number;

/** Sends input, half-closes, and returns everything redis answered before it closed. */
async function exchange(input: Uint8Array): Promise<string> {
  let received = "";
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    allowHalfOpen: true,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk) {
        received += Buffer.from(chunk).toString("latin1");
      },
      close() {
        resolve(received);
      },
    },
  });
  socket.write(input);
  socket.shutdown(); // FIN; note: shutdown(true) would stop our reading instead
  const timer = setTimeout(() => socket.terminate(), 5000);
  const out = await promise;
  clearTimeout(timer);
  return out;
}

beforeAll(async () => {
  port = freePort();
  redis = Bun.spawn(
    [
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--requirepass",
      `pw-${process.pid}-${port}`,
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    try {
      if ((await exchange(Buffer.from("PING\r\n"))).startsWith("-NOAUTH")) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`redis-server did not start on port ${port}`);
});

afterAll(async () => {
  redis.kill();
  await redis.exited;
});

/** redis 7.0's processCommand text for an unknown command (C strings: a NUL ends an argument). */
function unknownCommandError(argv: Uint8Array[]): string {
  const cString = (b: Uint8Array): string => {
    const nul = b.indexOf(0);
    return Buffer.from(nul < 0 ? b : b.subarray(0, nul)).toString("latin1");
  };
  let args = "";
  for (let i = 1; i < argv.length && args.length < 128; i++)
    args += `'${cString(argv[i]).slice(0, 128 - args.length)}' `;
  const line = `-ERR unknown command '${cString(argv[0]).slice(0, 128)}', with args beginning with: ${args}`;
  return line.replace(/[\r\n]/g, " ");
}

const piece = fc.oneof(
  fc.constantFrom(
    "*",
    "*1\r\n",
    "*2\r\n",
    "*12\r\n",
    "$",
    "$4\r\nPING\r\n",
    "$3\r\n",
    "$16385\r\n",
    "\r\n",
    "\r",
    "\n",
    "0",
    "1",
    "-",
    " ",
    "\t",
    '"',
    "'",
    "\\",
    "\\x41",
    "PING",
    "GET k",
    "abc",
    "*-1\r\n",
    "*0\r\n",
  ),
  fc.uint8Array({ maxLength: 5 }).map((b) => Buffer.from(b).toString("latin1")),
);

test("redis-server and RespDecoder agree on the commands and the protocol error", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { maxLength: 30 }), async (pieces) => {
      const input = Buffer.from(pieces.join(""), "latin1");
      const decoder = new RespDecoder();
      decoder.setAuthenticated(false); // like every connection to this redis
      decoder.push(Uint8Array.from(input));
      const commands: Uint8Array[][] = [];
      for (let argv = decoder.next(); argv !== null; argv = decoder.next()) commands.push(argv.map((a) => a.slice()));

      const lines = (await exchange(input)).split("\r\n").slice(0, -1);
      fc.pre(!lines.includes("+OK")); // the garbage spelled QUIT: redis closed early
      const last = lines.at(-1) ?? "";
      const redisError = last.startsWith("-ERR Protocol error: ") ? last.slice(5) : null;
      expect({ commands: lines.length - (redisError === null ? 0 : 1), error: redisError }).toEqual({
        commands: commands.length,
        error: decoder.error,
      });
      for (const [i, argv] of commands.entries()) {
        if (lines[i].startsWith("-ERR unknown command '")) expect(lines[i]).toBe(unknownCommandError(argv));
      }
    }),
    { numRuns: 300 },
  );
});
