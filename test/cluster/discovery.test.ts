// mDNS discovery against independent stacks, in private network namespaces (never on the
// machine's real interfaces): python3-zeroconf browses a FlyDB advertiser and publishes a
// service the compiled flydb-discover must find; conflicts, goodbyes and junk traffic.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Avahi } from "../helpers/avahi.ts";
import { startAvahi } from "../helpers/avahi.ts";
import type { Netns, NsHost } from "../helpers/netns.ts";
import { createNetns, skipNetns } from "../helpers/netns.ts";
import { LineReader } from "../helpers/line-reader.ts";

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

/** One node as `flydb-discover --json` prints it (snake_case, as TXT records and the HTTP API). */
interface DiscoveredJson {
  instance: string;
  node_id: string;
  cluster_id: string | null;
  version: string | null;
  host: string;
  port: number;
  addresses: string[];
  ports: Record<string, number | null>;
  txt: Record<string, string>;
}

describe.skipIf(skipNetns)("mDNS discovery in network namespaces", () => {
  let lan: Netns;
  let h: NsHost[];
  let binDir: string;
  let discover: string;

  beforeAll(async () => {
    lan = createNetns(7);
    h = [...lan.hosts];
    // The compiled tool (as `npm run build` makes it), run from a directory without node_modules.
    binDir = mkdtempSync(join(tmpdir(), "fly-disc-bin-"));
    discover = join(binDir, "flydb-discover");
    const build = Bun.spawnSync(
      [BUN, "build", "--compile", "--bytecode", join(ROOT, "cli/flydb-discover.ts"), "--outfile", discover],
      { cwd: ROOT, stderr: "pipe" },
    );
    if (build.exitCode !== 0) throw new Error(`building flydb-discover failed: ${build.stderr.toString()}`);
  });

  // A failed test must not leave its advertisers answering in the next one.
  const running = new Set<Advertising>();
  afterEach(async () => {
    await Promise.all([...running].map(stop));
  });

  afterAll(async () => {
    await lan?.destroy();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  async function advertise(
    host: NsHost,
    nodeId: string,
    clusterId: string,
    extra: string[] = [],
  ): Promise<Advertising> {
    const proc = lan.spawn(host.ns, [BUN, join(FIXTURES, "advertise.ts"), nodeId, clusterId, ...extra], { cwd: ROOT });
    const out = new LineReader(proc.stdout);
    const line = await out.waitFor((l) => l.includes('"event":"announced"'), 10_000, `${nodeId} to announce`);
    const a: Advertising = { proc, out, instance: JSON.parse(line).instance };
    running.add(a);
    return a;
  }

  async function stop(a: Advertising): Promise<void> {
    running.delete(a);
    a.proc.kill("SIGTERM");
    await a.out.waitFor((l) => l.includes('"event":"stopped"'), 5000, "advertiser to stop");
    await a.proc.exited;
  }

  async function discoverJson(
    host: NsHost,
    args: string[],
  ): Promise<{ code: number | null; nodes: DiscoveredJson[]; stderr: string }> {
    const r = await lan.exec(host.ns, [discover, "--json", ...args], { cwd: binDir });
    return { code: r.code, nodes: r.code === 0 ? JSON.parse(r.stdout) : [], stderr: r.stderr };
  }

  test("python3-zeroconf finds a FlyDB advertiser and reads its SRV, A and TXT (txtvers first)", async () => {
    const a = await advertise(h[0], "zc-sees-me", "interop", ["7001", "alpha"]);
    const r = await lan.exec(h[1].ns, [PYTHON, join(FIXTURES, "zeroconf_browse.py"), h[1].address, "1.5"]);
    expect(r.code).toBe(0);
    const found = r.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(found).toEqual([
      {
        name: "zc-sees-me._flydb._tcp.local.",
        resolved: true,
        server: "alpha.local.",
        port: 7001,
        addresses: [h[0].address],
        txt: {
          txtvers: "1",
          node_id: "zc-sees-me",
          cluster_id: "interop",
          version: "9.9.9-test",
          resp: "6380",
          http: "8080",
          gossip: "7001",
          raft: "7947",
        },
        raw_txt: [
          "txtvers=1",
          "node_id=zc-sees-me",
          "cluster_id=interop",
          "version=9.9.9-test",
          "resp=6380",
          "http=8080",
          "gossip=7001",
          "raft=7947",
        ],
      },
    ]);
    await stop(a);
  });

  test("compiled flydb-discover finds a service published by python3-zeroconf (--json and --quiet, pinned interface)", async () => {
    const zc = lan.spawn(h[2].ns, [
      PYTHON,
      join(FIXTURES, "zeroconf_publish.py"),
      h[2].address,
      "zc-node",
      "zc-cluster",
      "7999",
    ]);
    const zcOut = new LineReader(zc.stdout);
    await zcOut.waitFor((l) => l === "registered", 10_000, "zeroconf to register");
    const byName = await discoverJson(h[1], [
      "--timeout",
      "1",
      "--cluster-id",
      "zc-cluster",
      "--interface",
      h[1].iface,
    ]);
    expect(byName.code).toBe(0);
    expect(byName.nodes).toEqual([
      expect.objectContaining({
        instance: "zc-node._flydb._tcp.local",
        node_id: "zc-node",
        cluster_id: "zc-cluster",
        host: "zc-zc-node.local",
        port: 7999,
        addresses: [h[2].address],
        ports: { resp: 6380, http: 8080, gossip: 7999, raft: 7947 },
        txt: {
          txtvers: "1",
          node_id: "zc-node",
          cluster_id: "zc-cluster",
          version: "zc",
          resp: "6380",
          http: "8080",
          gossip: "7999",
          raft: "7947",
        },
      }),
    ]);
    const quiet = await lan.exec(
      h[1].ns,
      [discover, "--quiet", "--timeout", "1", "--cluster-id", "zc-cluster", "--interface", h[1].address],
      { cwd: binDir },
    );
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe(`${h[2].address}:7999\n`);
    zc.kill("SIGTERM");
    await zc.exited;
  });

  test("three advertisers are all found by a browse with --timeout 1; none of another cluster exits 1", async () => {
    const ads = await Promise.all([
      advertise(h[0], "trio-a", "trio"),
      advertise(h[2], "trio-b", "trio"),
      advertise(h[3], "trio-c", "trio"),
    ]);
    // From another host, and from the host of one of them (answers loop back to the same machine).
    const [r, local] = await Promise.all([
      lan.exec(h[1].ns, [discover, "--quiet", "--timeout", "1", "--cluster-id", "trio"], { cwd: binDir }),
      lan.exec(h[0].ns, [discover, "--quiet", "--timeout", "1", "--cluster-id", "trio"], { cwd: binDir }),
    ]);
    const expected = [h[0], h[2], h[3]].map((x) => `${x.address}:7946`).sort();
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual(expected);
    expect(local.stdout.trim().split("\n").sort()).toEqual(expected);
    const table = await lan.exec(h[1].ns, [discover, "--timeout", "1", "--cluster-id", "trio"], { cwd: binDir });
    expect(table.stdout.split("\n")[0]).toMatch(/^NODE\s+CLUSTER\s+ADDRESS\s+RESP\s+HTTP\s+GOSSIP\s+RAFT\s+VERSION$/);
    expect(table.stdout).toContain("trio-b");
    // browse() with stopWhen returns as soon as all three are resolved, long before its timeout:
    // a browse that ignored stopWhen takes the whole 20 s; a resolved one takes ~1 s (printed).
    const early = await lan.exec(h[1].ns, [BUN, join(FIXTURES, "browse.ts"), "20000", "3", "trio"], { cwd: ROOT });
    const { elapsedMs, nodes } = JSON.parse(early.stdout);
    expect(nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(["trio-a", "trio-b", "trio-c"]);
    console.log(`browse with stopWhen returned after ${elapsedMs} ms`);
    expect(elapsedMs).toBeLessThan(19_000);
    const none = await lan.exec(h[1].ns, [discover, "--timeout", "0.5", "--cluster-id", "no-such-cluster"], {
      cwd: binDir,
    });
    expect(none.code).toBe(1);
    await Promise.all(ads.map(stop));
  });

  test("a cleanly stopped node disappears: its goodbye reaches a browse in progress, and the next browse lacks it", async () => {
    // Two nodes on one machine: they share port 5353 and the host name, and one leaving must not take the other along.
    const [keep, leave] = await Promise.all([advertise(h[0], "stays", "bye"), advertise(h[0], "leaves", "bye")]);
    const during = lan.spawn(h[1].ns, [discover, "--json", "--timeout", "3", "--cluster-id", "bye"], { cwd: binDir });
    await Bun.sleep(600); // the browse has seen both by now
    await stop(leave);
    const duringOut = JSON.parse(await new Response(during.stdout).text()) as DiscoveredJson[];
    expect(await during.exited).toBe(0);
    expect(duringOut.map((n) => n.node_id)).toEqual(["stays"]);
    const next = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "bye"]);
    expect(next.nodes.map((n) => n.node_id)).toEqual(["stays"]);
    await stop(keep);
  });

  test("two advertisers with the same node_id and host name end up with distinct names, both discoverable", async () => {
    // Same node_id and the same host label on two machines: both the instance and the host conflict.
    const [x, y] = await Promise.all([
      advertise(h[3], "twin", "twins", ["7946", "samehost"]),
      advertise(h[4], "twin", "twins", ["7946", "samehost"]),
    ]);
    expect([x.instance, y.instance].sort()).toEqual(["twin (2)._flydb._tcp.local", "twin._flydb._tcp.local"]);
    const renamed = [...x.out.lines, ...y.out.lines].filter((l) => l.includes("name conflict"));
    expect(renamed.length).toBeGreaterThan(0);
    const r = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "twins"]);
    expect(r.nodes.map((n) => n.instance).sort()).toEqual(["twin (2)._flydb._tcp.local", "twin._flydb._tcp.local"]);
    expect(new Set(r.nodes.map((n) => n.host)).size).toBe(2);
    expect(r.nodes.map((n) => n.addresses[0]).sort()).toEqual([h[3].address, h[4].address].sort());
    await Promise.all([stop(x), stop(y)]);
  });

  test("interfaces: by default every multicast interface is served; a pinned advertiser is silent on the others", async () => {
    // h[6] sits on the shared LAN and on a second network with h[4].
    const [mine, peer] = await lan.link(h[6], h[4]);
    const everywhere = await advertise(h[6], "multi", "ifs");
    const [onLan, onLink] = await Promise.all([
      discoverJson(h[1], ["--timeout", "1", "--cluster-id", "ifs"]),
      discoverJson(h[4], ["--timeout", "1", "--cluster-id", "ifs", "--interface", peer.iface]),
    ]);
    expect(onLan.nodes.map((n) => n.addresses[0])).toEqual([h[6].address]);
    expect(onLink.nodes.map((n) => n.addresses[0])).toEqual([mine.address]); // the address on the network it was found on leads
    expect(onLink.nodes[0].addresses.slice().sort()).toEqual([h[6].address, mine.address].sort());
    await stop(everywhere);

    const pinned = await advertise(h[6], "pinned", "ifs", ["7946", "", h[6].iface]);
    const [lanAgain, linkAgain] = await Promise.all([
      discoverJson(h[1], ["--timeout", "1", "--cluster-id", "ifs"]),
      lan.exec(h[4].ns, [discover, "--timeout", "1", "--cluster-id", "ifs", "--interface", peer.address], {
        cwd: binDir,
      }),
    ]);
    expect(lanAgain.nodes.map((n) => [n.node_id, n.addresses])).toEqual([["pinned", [h[6].address]]]);
    expect(linkAgain.code).toBe(1);
    await stop(pinned);
  });

  describe("with avahi-daemon", () => {
    let avahi: Avahi;
    beforeAll(async () => {
      avahi = await startAvahi(lan, h[5], "avahins");
    });
    afterAll(async () => {
      await avahi?.stop();
    });

    test("avahi-browse -rpt resolves a FlyDB advertiser beside avahi on 5353 and one on another host, TXT as sent", async () => {
      // One advertiser shares the namespace (and port 5353) with avahi-daemon, one is remote.
      const [beside, remote] = await Promise.all([
        advertise(h[5], "beside-avahi", "av", ["7005", "flyhost"]),
        advertise(h[0], "remote", "av", ["7001", "remotehost"]),
      ]);
      const r = await lan.exec(h[5].ns, ["avahi-browse", "-rpt", "_flydb._tcp"], { env: avahi.env });
      expect(r.code).toBe(0);
      const resolved = r.stdout
        .split("\n")
        .filter((l) => l.startsWith("=;"))
        .map((l) => l.split(";"));
      const txt = (node: string, gossip: number) =>
        // avahi-browse -p prints TXT strings in reverse wire order: this is txtvers=1 first on the wire.
        [
          "raft=7947",
          `gossip=${gossip}`,
          "http=8080",
          "resp=6380",
          "version=9.9.9-test",
          "cluster_id=av",
          `node_id=${node}`,
          "txtvers=1",
        ]
          .map((s) => `"${s}"`)
          .join(" ");
      expect(resolved.map((f) => [f[3], f[6], f[7], f[8], f[9]]).sort()).toEqual([
        ["beside-avahi", "flyhost.local", h[5].address, "7005", txt("beside-avahi", 7005)],
        ["remote", "remotehost.local", h[0].address, "7001", txt("remote", 7001)],
      ]);
      await Promise.all([stop(beside), stop(remote)]);
    });

    test("compiled flydb-discover finds a service published with avahi-publish", async () => {
      const pub = lan.spawn(
        h[5].ns,
        [
          "avahi-publish",
          "-s",
          "avahi-node",
          "_flydb._tcp",
          "7100",
          "txtvers=1",
          "node_id=avahi-node",
          "cluster_id=avc",
          "version=av",
          "resp=6380",
          "http=8080",
          "gossip=7100",
          "raft=7947",
        ],
        { env: avahi.env },
      );
      await new LineReader(pub.stderr).waitFor(
        (l) => l.includes("Established"),
        10_000,
        "avahi-publish to establish the service",
      );
      const r = await discoverJson(h[1], ["--timeout", "1", "--cluster-id", "avc"]);
      expect(r.code).toBe(0);
      expect(r.nodes).toEqual([
        expect.objectContaining({
          instance: "avahi-node._flydb._tcp.local",
          node_id: "avahi-node",
          host: "avahins.local",
          port: 7100,
          addresses: [h[5].address],
          ports: { resp: 6380, http: 8080, gossip: 7100, raft: 7947 },
        }),
      ]);
      pub.kill("SIGTERM");
      await pub.exited;
    });
  });

  test("flydb-discover exits 2 on errors: bad timeout, --json with --quiet, unknown interface", async () => {
    for (const args of [
      ["--timeout", "soon"],
      ["--json", "--quiet"],
      ["--interface", "no-such-if0"],
      ["--interface", "192.0.2.99"],
    ]) {
      const r = await lan.exec(h[1].ns, [discover, ...args], { cwd: binDir });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).not.toBe("");
    }
  });

  test("garbage and truncated packets on 5353 are counted and the advertiser keeps answering", async () => {
    const a = await advertise(h[0], "tough", "junk");
    const junk = await lan.exec(h[1].ns, [BUN, join(FIXTURES, "send-junk.ts"), h[0].address], { cwd: ROOT });
    expect(junk.code).toBe(0);
    const r = await discoverJson(h[2], ["--timeout", "1", "--cluster-id", "junk"]);
    expect(r.nodes.map((n) => n.node_id)).toEqual(["tough"]);
    running.delete(a);
    a.proc.kill("SIGTERM");
    const stopped = JSON.parse(await a.out.waitFor((l) => l.includes('"event":"stopped"'), 5000, "stop"));
    expect(stopped.stats.malformedPackets).toBeGreaterThanOrEqual(20);
    expect(await a.proc.exited).toBe(0);
  });
});
