// The cluster test harness, proven on standalone nodes: a node in one namespace is reached across
// the namespaced bridge, kill -9 under a concurrent workload keeps every acknowledged write and
// the history stays linearizable, a link taken down makes the node unreachable and bringing it up
// restores it, and destroy() leaves no namespace or process behind.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHarness, type Harness } from "../helpers/cluster-harness.ts";
import { skipNetns } from "../helpers/netns.ts";
import { checkHistory, describeFailures, finalReads, startWorkload } from "../helpers/workload.ts";

setDefaultTimeout(30_000);

describe.skipIf(skipNetns)("cluster harness on standalone nodes in network namespaces", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 1, mode: "standalone" });
    await h.startAll();
  });

  afterAll(async () => {
    await h?.destroy();
  });

  test("a node in one namespace answers redis-cli and curl from another across the bridge, and nothing is on the host", async () => {
    const [n1] = h.nodes;
    expect(n1!.host.ns).not.toBe(h.client.ns);
    expect(await h.redis(n1!, "SET", "greeting", "hello")).toBe("OK");
    expect(await h.redis(n1!, "GET", "greeting")).toBe("hello");
    expect(await h.redis(n1!, "GET", "missing")).toBeNull();
    expect(await h.redisTry(n1!, ["INCR", "greeting"])).toEqual({
      kind: "error",
      message: "ERR value is not an integer or out of range",
    });
    // One redis-cli for many commands; arguments with spaces, quotes and backslashes survive.
    const odd = 'a "quoted" \\ value with spaces';
    expect(
      await h.redisBatch(n1!, [
        ["SET", "odd", odd],
        ["GET", "odd"],
        ["INCR", "odd"],
        ["GET", "missing"],
      ]),
    ).toEqual([
      { kind: "reply", value: "OK" },
      { kind: "reply", value: odd },
      { kind: "error", message: "ERR value is not an integer or out of range" },
      { kind: "reply", value: null },
    ]);
    const health = await h.http(n1!, "/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });

    // The private /24 exists only inside the namespaces.
    const hostAddrs = Bun.spawnSync(["ip", "-o", "addr"], { stdout: "pipe" }).stdout.toString();
    expect(hostAddrs).not.toContain(`${h.net.subnet}.`);
  });

  test("kill -9 under a concurrent workload, then restart: every acknowledged write survives, history linearizable", async () => {
    const [n1] = h.nodes;
    const registerKeys = ["r1", "r2"];
    const counterKeys = ["c1"];
    const run = startWorkload(h.net, h.client.ns, {
      targets: [n1!.resp],
      clients: 4,
      registerKeys,
      counterKeys,
      maxOps: 20_000,
      maxMs: 10_000,
      opTimeoutMs: 1_000,
      thinkMs: 2,
      seed: 7,
    });
    await Bun.sleep(800);
    const killedAt = Date.now();
    await h.kill9(n1!);
    await h.start(n1!, { wait: "ready" });
    const restartedAt = Date.now();
    await Bun.sleep(700);
    run.stop();
    const { records, summary } = await run.done;

    console.log(`workload across kill -9: ${JSON.stringify(summary)}`);
    const finals = await finalReads(h, [n1!], [...registerKeys, ...counterKeys]);
    const checks = checkHistory(records, finals);
    expect(describeFailures(checks)).toEqual([]);
    expect(checks.map((c) => c.key).sort()).toEqual(["c1", "r1", "r2"]);
    // The run really crossed the crash: acknowledged writes before it and after the restart.
    const acked = records.filter((r) => r.op !== "get" && r.status === "ok");
    expect(acked.some((r) => r.ret! < killedAt)).toBe(true);
    expect(acked.some((r) => r.call > restartedAt)).toBe(true);
    expect(summary.ops).toBe(records.length);
    expect(n1!.starts).toBe(2);
  });

  test("link down makes the node unreachable; link up restores it with its data", async () => {
    const [n1] = h.nodes;
    expect(await h.redis(n1!, "SET", "across-link", "before")).toBe("OK");
    await h.net.linkDown(n1!.host.ns);
    const cut = await h.redisTry(n1!, ["GET", "across-link"], { timeoutMs: 1_500 });
    expect(["timeout", "unreachable"]).toContain(cut.kind);
    expect((await h.http(n1!, "/health", { timeoutMs: 1_000 })).status).toBe(0);
    // The node itself kept running; only its link went away.
    expect(h.isRunning(n1!)).toBe(true);

    await h.net.linkUp(n1!.host.ns);
    expect(await h.redis(n1!, "GET", "across-link")).toBe("before");
    const routes = await h.net.exec(n1!.host.ns, ["ip", "route"]);
    expect(routes.stdout).toContain("224.0.0.0/4 dev eth0");
  });

  test("SIGTERM stops the node cleanly and a restart keeps its data", async () => {
    const [n1] = h.nodes;
    expect(await h.redis(n1!, "SET", "graceful", "yes")).toBe("OK");
    expect(await h.stop(n1!)).toBe(0);
    expect(h.isRunning(n1!)).toBe(false);
    expect((await h.redisTry(n1!, ["PING"], { timeoutMs: 2_000 })).kind).toBe("unreachable");
    await h.restart(n1!);
    expect(await h.redis(n1!, "GET", "graceful")).toBe("yes");
  });

  test("destroy() kills the nodes and deletes every namespace", async () => {
    const [n1] = h.nodes;
    const pid = n1!.proc!.pid;
    const names = h.net.hosts.map((x) => x.ns);
    await h.destroy();
    expect(() => process.kill(pid, 0)).toThrow();
    const left = Bun.spawnSync(["ip", "netns", "list"], { stdout: "pipe" }).stdout.toString();
    for (const ns of names) expect(left).not.toContain(ns);
  });
});
