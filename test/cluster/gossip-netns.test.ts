// Gossip between member processes in network namespaces joined by a bridge that itself lives in
// a namespace (nothing appears on the host). One member's link goes down: the others suspect it,
// then declare it dead; the link comes back: it rejoins everywhere.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { FAST, MemberProc, waitFor } from "../helpers/gossip-procs.ts";

setDefaultTimeout(45_000);
const isRoot = process.getuid?.() === 0;
const canRun = isRoot || process.env.CI === "true"; // In CI a non-root run must fail, not skip.
const PREFIX = `fly-gsp-${process.pid}`;
const BRIDGE_NS = `${PREFIX}-br`;
const N = 4;
const memberNs = (i: number) => `${PREFIX}-m${i}`;
const ipOf = (i: number) => `10.213.7.${i + 1}`;
const created: string[] = [];
const procs: MemberProc[] = [];

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
}

function addNs(name: string): void {
  ip("netns", "add", name);
  created.push(name);
  ip("-n", name, "link", "set", "lo", "up");
}

describe.if(canRun)("gossip in network namespaces", () => {
  beforeAll(() => {
    addNs(BRIDGE_NS);
    ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge");
    ip("-n", BRIDGE_NS, "link", "set", "br0", "up");
    for (let i = 0; i < N; i++) {
      addNs(memberNs(i));
      // Create the veth pair inside the namespaces directly: no interface ever shows on the host.
      ip("-n", memberNs(i), "link", "add", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", BRIDGE_NS);
      ip("-n", memberNs(i), "addr", "add", `${ipOf(i)}/24`, "dev", "eth0");
      ip("-n", memberNs(i), "link", "set", "eth0", "up");
      ip("-n", BRIDGE_NS, "link", "set", `p${i}`, "master", "br0");
      ip("-n", BRIDGE_NS, "link", "set", `p${i}`, "up");
    }
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.close()));
    for (const ns of created.reverse()) Bun.spawnSync(["ip", "netns", "del", ns]);
  });

  test("an isolated member is suspected, then dead, and rejoins when its link returns", async () => {
    for (let i = 0; i < N; i++) {
      const p = new MemberProc(
        {
          nodeId: `ns${i}`,
          clusterId: PREFIX,
          bindAddr: `${ipOf(i)}:7946`,
          seeds: [`${ipOf(0)}:7946`],
          secret: "netns-secret",
          config: FAST,
        },
        memberNs(i),
      );
      procs.push(p);
    }
    const alive = (p: MemberProc) => Object.values(p.view).filter((s) => s === "alive").length;
    await waitFor(() => procs.every((p) => alive(p) === N), 20_000, "all members alive everywhere");

    const isolated = procs[N - 1] as MemberProc;
    const others = procs.slice(0, N - 1);
    const downAt = Date.now();
    ip("-n", memberNs(N - 1), "link", "set", "eth0", "down");
    await waitFor(() => others.every((p) => p.view[isolated.id] === "dead"), 20_000, "isolated member dead everywhere");
    for (const p of others) {
      const suspect = p.eventsAbout(isolated.id, "suspect").find((e) => (e.at ?? 0) >= downAt);
      const dead = p.eventsAbout(isolated.id, "dead").find((e) => (e.at ?? 0) >= downAt);
      expect(suspect).toBeDefined();
      expect(dead).toBeDefined();
      expect(suspect?.at ?? Infinity).toBeLessThanOrEqual(dead?.at ?? 0);
    }
    expect(isolated.exited).toBe(false);

    const upAt = Date.now();
    ip("-n", memberNs(N - 1), "link", "set", "eth0", "up");
    await waitFor(() => procs.every((p) => alive(p) === N), 20_000, "isolated member back everywhere");
    for (const p of others) expect(p.eventsAbout(isolated.id, "joined").some((e) => (e.at ?? 0) >= upAt)).toBe(true);
  });
});
