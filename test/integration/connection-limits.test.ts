// Connection limits against a real FlyDB process (issue #18, item 7): a client over `maxclients`
// gets Redis's error at once, idle or not, and is closed; `timeout` closes idle clients; when the
// process runs short of file descriptors it stops accepting (it does not spin), says so once, and
// keeps serving the connections it has and /health.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { runTool, startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";
import { RawConnection } from "../helpers/raw-socket.ts";

const started: FlyDBProcess[] = [];
const conns: RawConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.close();
  await Promise.all(started.map((n) => n.stop()));
});

async function node(args: string[]): Promise<FlyDBProcess> {
  const n = await startFlyDB({ args });
  started.push(n);
  return n;
}

async function connect(port: number): Promise<RawConnection> {
  const c = await RawConnection.connect(port);
  conns.push(c);
  return c;
}

const PING = "*1\r\n$4\r\nPING\r\n";
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** User plus system CPU time of a process, in clock ticks (1/100 s). */
const cpuTicks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
};

describe("maxclients", () => {
  test("a client over the limit is answered -ERR max number of clients reached at once, without sending anything, and closed", async () => {
    const n = await node(["--maxclients", "3"]);
    const held = await Promise.all([1, 2, 3].map(() => connect(n.port)));
    const over = await connect(n.port);
    expect(await over.readUntil((t) => t.endsWith("\r\n"), 2000)).toBe("-ERR max number of clients reached\r\n");
    expect(await over.waitClosed(2000)).toBe(true);
    // redis-cli prints it as Redis's own error.
    expect((await runTool(["redis-cli", "-p", String(n.port), "PING"])).stdout).toContain(
      "max number of clients reached",
    );
    await held[0]!.write(PING);
    expect(await held[0]!.readUntil((t) => t.includes("\r\n"))).toBe("+PONG\r\n");
    // Idle connections over the limit do not hold descriptors: 200 of them come and go.
    const before = openFds(n.pid);
    const idle = await Promise.all(Array.from({ length: 200 }, () => connect(n.port)));
    await Promise.all(idle.map((c) => c.waitClosed(3000)));
    expect(idle.every((c) => c.isClosed)).toBe(true);
    expect(openFds(n.pid)).toBeLessThan(before + 10);
  });

  test("timeout closes idle clients and leaves active ones", async () => {
    const n = await node(["--timeout", "1"]);
    const idle = await connect(n.port);
    const active = await connect(n.port);
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      await active.write(PING);
      await Bun.sleep(300);
    }
    expect(idle.isClosed).toBe(true);
    expect(active.isClosed).toBe(false);
  });
});

describe("file descriptors running out", () => {
  test("the node stops accepting instead of spinning, logs it once, keeps serving its connections and /health, and accepts again once descriptors are free", async () => {
    const n = await node([]);
    const first = await connect(n.port);
    const limit = openFds(n.pid) + 100;
    expect((await runTool(["prlimit", "--pid", String(n.pid), `--nofile=${limit}:${limit}`])).code).toBe(0);
    // The node counts its descriptors at least once a second: the lowered limit is seen from then on.
    await Bun.sleep(1_100);
    // Far more than fit: the rest wait in the kernel's backlog or are refused.
    const flood = await Promise.allSettled(
      Array.from({ length: 250 }, () => RawConnection.connect(n.port, "127.0.0.1", 1000)),
    );
    const opened = flood.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    conns.push(...opened);
    await Bun.sleep(500);
    const t0 = cpuTicks(n.pid);
    await Bun.sleep(2000);
    const ticks = cpuTicks(n.pid) - t0;
    await first.write(PING);
    expect(await first.readUntil((t) => t.includes("\r\n"))).toBe("+PONG\r\n");
    expect((await fetch(`${n.http}/health`)).status).toBe(200);
    // Spinning on accept costs tens of ticks in 2 s; an idle node costs a few.
    expect(ticks).toBeLessThan(15);
    expect(n.log().match(/running out of file descriptors/g)?.length).toBe(1);
    for (const c of opened) c.close();
    const deadline = Date.now() + 5_000;
    let again: RawConnection | undefined;
    while (!again && Date.now() < deadline) {
      again = await RawConnection.connect(n.port, "127.0.0.1", 500).catch(() => undefined);
      if (!again) await Bun.sleep(200);
    }
    expect(again).toBeDefined();
    conns.push(again!);
    await again!.write(PING);
    expect(await again!.readUntil((t) => t.includes("\r\n"))).toBe("+PONG\r\n");
  });
});
