// Pipelined commands on one connection must behave as if run one by one: a read never sees a
// later write and never misses an earlier one, even though writes wait for the group commit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { startNode, type RunningNode } from "../../src/node.ts";
import { createLogger } from "../../src/log.ts";

let node: RunningNode;
const dir = mkdtempSync(join(tmpdir(), "flydb-order-"));

beforeAll(async () => {
  const { config } = loadConfig({
    env: {},
    defaultConfigPath: join(dir, "none.toml"),
    flags: { bind_addr: "127.0.0.1:0", http_addr: "127.0.0.1:0", data_dir: join(dir, "data"), node_id: "order-test" },
  });
  node = await startNode(config, { log: createLogger("error", "text") });
});

afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cmd = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

/** Sends everything in one write and collects raw bytes until `expect` replies' worth arrived. */
function pipeline(payload: string, until: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(node.respPort, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(got)}`));
    }, 10_000);
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (until(got)) {
        clearTimeout(timer);
        sock.end();
        resolve(got);
      }
    });
    sock.on("error", reject);
    sock.write(payload);
  });
}

describe("pipelined ordering on one connection", () => {
  test("reads see exactly the writes before them", async () => {
    const payload =
      cmd("SET", "k", "1") +
      cmd("GET", "k") +
      cmd("SET", "k", "2") +
      cmd("GET", "k") +
      cmd("INCR", "k") +
      cmd("GET", "k") +
      cmd("DEL", "k") +
      cmd("GET", "k");
    const out = await pipeline(payload, (t) => t.endsWith("$-1\r\n"));
    expect(out).toBe("+OK\r\n$1\r\n1\r\n+OK\r\n$1\r\n2\r\n:3\r\n$1\r\n3\r\n:1\r\n$-1\r\n");
  });

  test("a long pipeline of writes and reads keeps order", async () => {
    let payload = "";
    let expected = "";
    for (let i = 0; i < 200; i++) {
      payload += cmd("SET", "p", String(i)) + cmd("GET", "p");
      expected += `+OK\r\n$${String(i).length}\r\n${i}\r\n`;
    }
    const out = await pipeline(payload, (t) => t.length >= expected.length);
    expect(out).toBe(expected);
  });

  test("HELLO behind a pending write switches the protocol for the replies after it", async () => {
    const payload = cmd("SET", "h", "v") + cmd("HELLO", "3") + cmd("GET", "missing");
    const out = await pipeline(payload, (t) => t.endsWith("_\r\n"));
    expect(out.startsWith("+OK\r\n%")).toBe(true);
    expect(out.endsWith("_\r\n")).toBe(true);
  });
});
