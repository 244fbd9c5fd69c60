// mDNS discovery against independent stacks, in private network namespaces (never on the
// machine's real interfaces): python3-zeroconf browses a FlyDB advertiser and publishes a
// service the compiled flydb-discover must find; conflicts, goodbyes and junk traffic.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Lan, LanHost } from "../support/netns.ts";
import { LineReader, createLan, skipNamespaceTests } from "../support/netns.ts";

setDefaultTimeout(30_000);

const ROOT = resolve(import.meta.dir, "../..");
const FIXTURES = join(ROOT, "test/fixtures/discovery");
const PYTHON = "/usr/bin/python3"; // Debian's, which has python3-zeroconf
const BUN = process.execPath;

interface Advertising {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly out: LineReader;
  readonly instance: string;
}

interface DiscoveredJson {
  instance: string;
  nodeId: string;
  clusterId: string | null;
  host: string;
  port: number;
  addresses: string[];
  ports: Record<string, number | null>;
  txt: Record<string, string>;
}

describe.skipIf(skipNamespaceTests)("mDNS discovery in network namespaces", () => {
  let lan: Lan;
  let h: LanHost[];
  let binDir: string;
  let discover: string;

  beforeAll(async () => {
    lan = createLan("disc", 6);
    h = [...lan.hosts];
    // The compiled tool, run from a directory without node_modules.
    binDir = mkdtempSync(join(tmpdir(), "fly-disc-bin-"));
    discover = join(binDir, "flydb-discover");
    const build = Bun.spawnSync([BUN, "build", "--compile", join(ROOT, "cli/flydb-discover.ts"), "--outfile", discover], { cwd: ROOT, stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`building flydb-discover failed: ${build.stderr.toString()}`);
  });

  afterAll(async () => {
    await lan?.destroy();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  async function advertise(host: LanHost, nodeId: string, clusterId: string, extra: string[] = []): Promise<Advertising> {
    const proc = lan.spawn(host, [BUN, join(FIXTURES, "advertise.ts"), nodeId, clusterId, ...extra], { cwd: ROOT });
    const out = new LineReader(proc.stdout);
    const line = await out.waitFor((l) => l.includes('"event":"announced"'), 10_000, `${nodeId} to announce`);
    return { proc, out, instance: JSON.parse(line).instance };
  }

  async function stop(a: Advertising): Promise<void> {
    a.proc.kill("SIGTERM");
    await a.out.waitFor((l) => l.includes('"event":"stopped"'), 5000, "advertiser to stop");
    await a.proc.exited;
  }

  async function discoverJson(host: LanHost, args: string[]): Promise<{ code: number; nodes: DiscoveredJson[]; stderr: string }> {
    const r = await lan.run(host, [discover, "--json", ...args], { cwd: binDir });
    return { code: r.code, nodes: r.code === 0 ? JSON.parse(r.stdout) : [], stderr: r.stderr };
  }

  test("python3-zeroconf finds a FlyDB advertiser and reads its SRV, A and TXT (txtvers first)", async () => {
    const a = await advertise(h[0], "zc-sees-me", "interop", ["7001", "alpha"]);
    const r = await lan.run(h[1], [PYTHON, join(FIXTURES, "zeroconf_browse.py"), h[1].address, "1.5"]);
    expect(r.code).toBe(0);
    const found = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(found).toEqual([
      {
        name: "zc-sees-me._flydb._tcp.local.",
        resolved: true,
        server: "alpha.local.",
        port: 7001,
        addresses: [h[0].address],
        txt: { txtvers: "1", node_id: "zc-sees-me", cluster_id: "interop", version: "9.9.9-test", resp: "6380", http: "8080", gossip: "7001", raft: "7947" },
        raw_txt: ["txtvers=1", "node_id=zc-sees-me", "cluster_id=interop", "version=9.9.9-test", "resp=6380", "http=8080", "gossip=7001", "raft=7947"],
      },
    ]);
    await stop(a);
  });

  test("compiled flydb-discover finds a service published by python3-zeroconf (--json and --quiet, pinned interface)", async () => {
    const zc = lan.spawn(h[2], [PYTHON, join(FIXTURES, "zeroconf_publish.py"), h[2].address, "zc-node", "zc-cluster", "7999"]);
    const zcOut = new LineReader(zc.stdout);
    await zcOut.waitFor((l) => l === "registered", 10_000, "zeroconf to register");
    const byName = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "zc-cluster", "--interface", h[1].iface]);
    expect(byName.code).toBe(0);
    expect(byName.nodes).toEqual([
      expect.objectContaining({
        instance: "zc-node._flydb._tcp.local",
        nodeId: "zc-node",
        clusterId: "zc-cluster",
        host: "zc-zc-node.local",
        port: 7999,
        addresses: [h[2].address],
        ports: { resp: 6380, http: 8080, gossip: 7999, raft: 7947 },
        txt: { txtvers: "1", node_id: "zc-node", cluster_id: "zc-cluster", version: "zc", resp: "6380", http: "8080", gossip: "7999", raft: "7947" },
      }),
    ]);
    const quiet = await lan.run(h[1], [discover, "--quiet", "--timeout", "1", "--cluster-id", "zc-cluster", "--interface", h[1].address], { cwd: binDir });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe(`${h[2].address}:7999\n`);
    zc.kill("SIGTERM");
    await zc.exited;
  });

  test("three advertisers are all found by a browse with --timeout 1; none of another cluster exits 1", async () => {
    const ads = await Promise.all([advertise(h[0], "trio-a", "trio"), advertise(h[2], "trio-b", "trio"), advertise(h[3], "trio-c", "trio")]);
    const r = await lan.run(h[1], [discover, "--quiet", "--timeout", "1", "--cluster-id", "trio"], { cwd: binDir });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual([h[0], h[2], h[3]].map((x) => `${x.address}:7946`).sort());
    const table = await lan.run(h[1], [discover, "--timeout", "1", "--cluster-id", "trio"], { cwd: binDir });
    expect(table.stdout.split("\n")[0]).toMatch(/^NODE\s+CLUSTER\s+ADDRESS\s+RESP\s+HTTP\s+GOSSIP\s+RAFT\s+VERSION$/);
    expect(table.stdout).toContain("trio-b");
    const none = await lan.run(h[1], [discover, "--timeout", "0.5", "--cluster-id", "no-such-cluster"], { cwd: binDir });
    expect(none.code).toBe(1);
    await Promise.all(ads.map(stop));
  });

  test("a cleanly stopped node disappears: its goodbye reaches a browse in progress, and the next browse lacks it", async () => {
    const [keep, leave] = await Promise.all([advertise(h[0], "stays", "bye"), advertise(h[3], "leaves", "bye")]);
    const during = lan.spawn(h[1], [discover, "--json", "--timeout", "3", "--cluster-id", "bye"], { cwd: binDir });
    await Bun.sleep(600); // the browse has seen both by now
    await stop(leave);
    const duringOut = JSON.parse(await new Response(during.stdout).text()) as DiscoveredJson[];
    expect(await during.exited).toBe(0);
    expect(duringOut.map((n) => n.nodeId)).toEqual(["stays"]);
    const next = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "bye"]);
    expect(next.nodes.map((n) => n.nodeId)).toEqual(["stays"]);
    await stop(keep);
  });

  test("two advertisers with the same node_id and host name end up with distinct names, both discoverable", async () => {
    // Same node_id and the same host label on two machines: both the instance and the host conflict.
    const [x, y] = await Promise.all([advertise(h[3], "twin", "twins", ["7946", "samehost"]), advertise(h[4], "twin", "twins", ["7946", "samehost"])]);
    expect([x.instance, y.instance].sort()).toEqual(["twin (2)._flydb._tcp.local", "twin._flydb._tcp.local"]);
    const renamed = [...x.out.lines, ...y.out.lines].filter((l) => l.includes("name conflict"));
    expect(renamed.length).toBeGreaterThan(0);
    const r = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "twins"]);
    expect(r.nodes.map((n) => n.instance).sort()).toEqual(["twin (2)._flydb._tcp.local", "twin._flydb._tcp.local"]);
    expect(new Set(r.nodes.map((n) => n.host)).size).toBe(2);
    expect(r.nodes.map((n) => n.addresses[0]).sort()).toEqual([h[3].address, h[4].address].sort());
    await Promise.all([stop(x), stop(y)]);
  });

  test("garbage and truncated packets on 5353 are counted and the advertiser keeps answering", async () => {
    const a = await advertise(h[0], "tough", "junk");
    const junk = await lan.run(h[1], [BUN, join(FIXTURES, "send-junk.ts"), h[0].address], { cwd: ROOT });
    expect(junk.code).toBe(0);
    const r = await discoverJson(h[2], ["--timeout", "1", "--cluster-id", "junk"]);
    expect(r.nodes.map((n) => n.nodeId)).toEqual(["tough"]);
    a.proc.kill("SIGTERM");
    const stopped = JSON.parse(await a.out.waitFor((l) => l.includes('"event":"stopped"'), 5000, "stop"));
    expect(stopped.stats.malformedPackets).toBeGreaterThanOrEqual(20);
    expect(await a.proc.exited).toBe(0);
  });
});
