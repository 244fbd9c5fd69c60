// Gossip between member processes in network namespaces joined by a bridge that itself lives in
// a namespace (nothing appears on the host). One member's link goes down: the others suspect it,
// then declare it dead; the link comes back: it rejoins everywhere.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { FAST, MemberProc, waitFor } from "../helpers/gossip-procs.ts";
import { createNetns, skipNetns, type Netns } from "../helpers/netns.ts";

setDefaultTimeout(45_000);
const CLUSTER_ID = `fly-gsp-${process.pid}`;
const N = 4;
const procs: MemberProc[] = [];

describe.skipIf(skipNetns)("gossip in network namespaces", () => {
  let net: Netns;
  const ipOf = (i: number) => net.hosts[i]!.address;
  const nsOf = (i: number) => net.hosts[i]!.ns;

  beforeAll(() => {
    net = createNetns(N);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.close()));
    await net?.destroy();
  });

  test("an isolated member is suspected, then dead, and rejoins when its link returns", async () => {
    for (let i = 0; i < N; i++) {
      const p = new MemberProc(
        {
          nodeId: `ns${i}`,
          clusterId: CLUSTER_ID,
          bindAddr: `${ipOf(i)}:7946`,
          seeds: [`${ipOf(0)}:7946`],
          secret: "netns-secret",
          config: FAST,
        },
        nsOf(i),
      );
      procs.push(p);
    }
    const alive = (p: MemberProc) => Object.values(p.view).filter((s) => s === "alive").length;
    await waitFor(() => procs.every((p) => alive(p) === N), 20_000, "all members alive everywhere");

    const isolated = procs[N - 1] as MemberProc;
    const others = procs.slice(0, N - 1);
    const downAt = Date.now();
    await net.linkDown(nsOf(N - 1));
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
    await net.linkUp(nsOf(N - 1));
    await waitFor(() => procs.every((p) => alive(p) === N), 20_000, "isolated member back everywhere");
    for (const p of others) expect(p.eventsAbout(isolated.id, "joined").some((e) => (e.at ?? 0) >= upAt)).toBe(true);
  });
});
