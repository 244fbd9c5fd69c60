// The session's ordering rules, with the moment each proposal commits under the test's control:
// which command is proposed or run when cannot be pinned down through a real server, where it
// depends on how TCP splits a pipeline into packets. The backend records the order in which the
// session proposes writes and runs reads; the log's order is the proposal order.
import { SlowLog } from "../../src/commands/slowlog.ts";
import { KeyAccess } from "../../src/commands/key-access.ts";
import { LatencyMonitor } from "../../src/commands/latency.ts";
import { describe, expect, test } from "bun:test";
import { Session, type Backend } from "../../src/commands/session.ts";
import { BlockingRegistry } from "../../src/commands/blocking.ts";
import { aclCatalog } from "../../src/commands/acl.ts";
import { COMMANDS } from "../../src/commands/table.ts";
import { createSecurity } from "../../src/server/security.ts";
import { createLogger } from "../../src/log.ts";
import type { Op } from "../../src/commands/types.ts";
import { simple, type Reply } from "../../src/resp/reply.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function harness() {
  const events: string[] = [];
  const commits: ((r: Reply) => void)[] = [];
  const backend: Backend = {
    read: (_spec, argv) => {
      events.push(`read ${argv.map(text).join(" ")}`);
      return simple("READ");
    },
    propose: (op: Op) => {
      events.push(`propose ${op.cmds[0]!.map(text).join(" ")}`);
      return new Promise<Reply>((resolve) => commits.push(resolve));
    },
    now: () => 1_700_000_000_000,
    random: () => 0.5,
    server: {
      version: "test",
      nodeId: "t",
      port: 0,
      startedAt: 0,
      info: () => "",
      configValue: () => undefined,
      configNames: () => [],
      configSet: () => {},
      configRewrite: () => simple("OK"),
      resetStats: () => {},
      encodingLimits: () => undefined,
      slowlog: new SlowLog(),
      keyAccess: new KeyAccess(0),
      latency: new LatencyMonitor(),
      memoryStats: () => simple("OK"),
      shutdown: () => new Promise(() => {}),
      save: () => Promise.resolve(simple("OK")),
      lastSave: () => 0,
      sleep: () => Promise.resolve(),
    },
    security: createSecurity({
      commands: aclCatalog(COMMANDS),
      requirepass: "",
      aclfile: "",
      log: createLogger("error", "text"),
    }),
    cluster: undefined,
    clusterModeDefault: false,
    clients: () => [],
    kill: () => false,
    blocking: new BlockingRegistry(),
    after: () => () => {},
  };
  const session = new Session(backend, { id: 1, addr: "127.0.0.1:1", laddr: "127.0.0.1:2" });
  const run = (...argv: string[]) => session.execute(argv.map((a) => new TextEncoder().encode(a)));
  /** Commits the oldest outstanding proposal and lets every resulting microtask run. */
  const commit = async () => {
    commits.shift()!(simple("OK"));
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { events, run, commit };
}

describe("session ordering", () => {
  test("a write arriving later never overtakes writes deferred behind a read", async () => {
    const { events, run, commit } = harness();
    // First packet: a write, a read that must wait for it, then two more writes.
    run("SET", "a", "1");
    run("GET", "a");
    run("SET", "a", "2");
    run("SET", "a", "3");
    expect(events).toEqual(["propose SET a 1"]);
    await commit();
    // The read ran after its write; the writes behind it are proposed in order at once.
    expect(events).toEqual(["propose SET a 1", "read GET a", "propose SET a 2", "propose SET a 3"]);
    // Second packet, while SET a 2 is still being committed.
    run("SET", "a", "4");
    expect(events.at(-1)).toBe("propose SET a 4");
    expect(events.indexOf("propose SET a 4")).toBeGreaterThan(events.indexOf("propose SET a 3"));
  });

  test("a read behind deferred writes waits until all of them committed", async () => {
    const { events, run, commit } = harness();
    run("SET", "a", "1");
    run("GET", "a");
    run("SET", "a", "2");
    const last = run("GET", "a");
    await commit(); // SET a 1
    expect(events).toEqual(["propose SET a 1", "read GET a", "propose SET a 2"]);
    await commit(); // SET a 2
    expect(events.at(-1)).toBe("read GET a");
    expect(await last).toEqual(simple("READ"));
  });

  test("replies resolve in command order", async () => {
    const { run, commit } = harness();
    const replies = [run("SET", "a", "1"), run("GET", "a"), run("SET", "a", "2"), run("PING")];
    // PING is a connection command: it runs at once and needs no commit.
    expect(replies[3]).toEqual(simple("PONG"));
    await commit();
    await commit();
    expect(await Promise.all(replies)).toEqual([simple("OK"), simple("READ"), simple("OK"), simple("PONG")]);
  });
});
