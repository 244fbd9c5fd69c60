// Locality-aware reads in a cluster spread over three zones, on loopback processes: r1 and r4 in
// zone z1, r2 in z2, r3 in z3; every link between zones is 30 ms slower each way (the test-only
// FLYDB_TEST_LINK_DELAY_MS hook of src/transport/link-delay.ts). With 3 replicas of each
// partition on 4 nodes, every partition has one in z1 (r1 or r4, or both) and r4 holds some but
// not all of them. A client
// in z1 reads every partition through r4: under locality-aware, every read is served in z1 (r4
// itself, else r1, never across the slow links); under key-based, the leaders in z2 and z3 serve
// theirs. /metrics' flydb_reads_routed_total says where each read went.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { keysInDistinctPartitions, waitUntil } from "../helpers/cluster-harness.ts";
import { type ClusterMemberProcess, startClusterMember } from "../helpers/processes.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;
const DELAY_MS = 30;
const ZONES: Record<string, string> = { r1: "z1", r2: "z2", r3: "z3", r4: "z1" };
const members: ClusterMemberProcess[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(members.map((m) => m.stop(2000)));
});

/** Every other-zone member, delayed. */
const delays = (id: string) => ({
  FLYDB_TEST_LINK_DELAY_MS: Object.keys(ZONES)
    .filter((o) => ZONES[o] !== ZONES[id])
    .map((o) => `${o}=${DELAY_MS}`)
    .join(","),
});

/** flydb_reads_routed_total of a member for one strategy, by target. */
async function routed(m: ClusterMemberProcess, strategy: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${m.http}/metrics`)).text();
  const out: Record<string, number> = {};
  const re = new RegExp(`^flydb_reads_routed_total\\{strategy="${strategy}",target="([^"]+)"\\} (\\d+)`, "gm");
  for (const x of text.matchAll(re)) out[x[1]!] = Number(x[2]);
  return out;
}

test("locality-aware reads from zone z1 are served in z1; key-based ones cross to the leaders", async () => {
  for (const id of Object.keys(ZONES)) {
    const seed = members[0]?.gossip;
    members.push(
      await startClusterMember({
        id,
        partitions: PARTITIONS,
        ...(seed !== undefined ? { seed } : {}),
        args: ["--zone", ZONES[id]!],
        env: delays(id),
      }),
    );
  }
  const [, , , r4] = members as [
    ClusterMemberProcess,
    ClusterMemberProcess,
    ClusterMemberProcess,
    ClusterMemberProcess,
  ];
  // Settled: four members, every partition healthy, replicas placed across the three zones.
  const partitions = await waitUntil(
    async () => {
      const s = (await (await fetch(`${r4.http}/cluster/status`)).json()) as {
        members: { id: string; zone: string }[];
        partitions: { healthy: number };
      };
      if (s.members.length !== 4 || s.partitions.healthy !== PARTITIONS) return undefined;
      const p = (await (await fetch(`${r4.http}/cluster/partitions`)).json()) as {
        partitions: { partition: number; replicas: string[]; leader: string | null }[];
      };
      const placed = p.partitions.every((x) => x.replicas.length === 3 && x.replicas.some((r) => ZONES[r] === "z1"));
      return placed ? p.partitions : undefined;
    },
    45_000,
    "4 members, every partition healthy with 3 replicas, one of them in z1",
    250,
  );
  const status = (await (await fetch(`${r4.http}/cluster/status`)).json()) as {
    members: { id: string; zone: string }[];
  };
  expect(Object.fromEntries(status.members.map((m) => [m.id, m.zone]))).toEqual(ZONES);
  const held = partitions.filter((p) => p.replicas.includes("r4")).length;
  // r4 holds some partitions and r1 the rest of zone z1's: both rules (self, zone) are exercised.
  expect(held).toBeGreaterThan(0);
  expect(held).toBeLessThan(PARTITIONS);

  const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "zone-");
  const c = new Redis({ port: r4.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 5_000 });
  c.on("error", () => {});
  clients.push(c);
  for (const k of keys) expect(await c.set(k, k)).toBe("OK");

  const lines: string[] = [];
  const targets: Record<string, Record<string, number>> = {};
  for (const strategy of ["key-based", "locality-aware"]) {
    for (const m of members) {
      const s = new Redis({ port: m.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
      expect(await s.call("config", "set", "routing-strategy", strategy)).toBe("OK");
      s.disconnect();
    }
    // A warm-up round: a follower whose group went quiet (idle) may not know its leader yet and
    // sends its first read on to the leader; the rounds after it are measured.
    for (const k of keys) expect(await c.get(k)).toBe(k);
    const before = await routed(r4, strategy);
    const ms: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const k of keys) {
        const t = performance.now();
        expect(await c.get(k)).toBe(k);
        ms.push(performance.now() - t);
      }
    }
    ms.sort((a, b) => a - b);
    const after = await routed(r4, strategy);
    targets[strategy] = Object.fromEntries(
      Object.entries(after)
        .map(([id, n]) => [id, n - (before[id] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    lines.push(
      `${strategy}: reads by target ${JSON.stringify(targets[strategy])}, median ${ms[ms.length >> 1]!.toFixed(1)} ms`,
    );
  }
  console.log(lines.join("\n"));
  const local = targets["locality-aware"]!;
  // A replica gossip suspects for a moment (a starved machine) is skipped like a dead one, and
  // the read goes to the nearest other: a few may leave the zone, never most.
  const sum = (t: Record<string, number>, zone?: string) =>
    Object.entries(t)
      .filter(([id]) => zone === undefined || ZONES[id] === zone)
      .reduce((a, [, n]) => a + n, 0);
  expect(sum(local, "z1") / sum(local)).toBeGreaterThanOrEqual(0.9);
  expect(local.r1).toBeGreaterThan(0);
  expect(local.r4).toBeGreaterThan(0);
  const keyBased = targets["key-based"]!;
  expect(sum(keyBased, "z1") / sum(keyBased)).toBeLessThan(0.8);
}, 120_000);
