// Formation time and the lone-founder window (issue #18), on loopback: a founder (--bootstrap) and
// two nodes given it as --peers, all started at once, as docs/CLUSTER_SETUP.md option 1. Per run:
// start → all three /ready 200; start → every partition led with all three nodes as voters
// (/cluster/partitions); the founder window is the time between the two, during which losing
// the founder would leave partitions without a quorum although /ready says 200 everywhere. Since
// a member is first ready only once it holds its share (src/cluster/status.ts), it is 0 or
// negative: the healthy moment comes first (the difference is the polling between the two checks).
//
//   npx bun bench/formation.ts [runs=3] [partitions=256] [binary=dist]
import { startClusterMember, type ClusterMemberProcess } from "../test/helpers/processes.ts";

const RUNS = Number(process.argv[2] ?? 3);
const PARTITIONS = Number(process.argv[3] ?? 256);
const BINARY = process.argv[4] ?? "dist";

const ready = async (m: ClusterMemberProcess) =>
  (await fetch(`${m.http}/ready`).catch(() => undefined))?.status === 200;
/** Every partition led, with all three nodes as voters: losing any one node leaves a quorum. */
const healthy = async (m: ClusterMemberProcess) => {
  const s = (await fetch(`${m.http}/cluster/partitions`).then(
    (r) => r.json(),
    () => undefined,
  )) as { partitions?: { leader: string | null; voters: string[] }[] } | undefined;
  return s?.partitions?.every((p) => p.leader !== null && p.voters.length === 3) === true;
};

const s = (ms: number) => (ms / 1000).toFixed(2);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

const rows: { ready: number; healthy: number }[] = [];
for (let run = 0; run < RUNS; run++) {
  const started = performance.now();
  const args = ["--fsync", "always"];
  const founder = await startClusterMember({ id: "f1", partitions: PARTITIONS, binary: BINARY, args });
  const others = await Promise.all(
    ["f2", "f3"].map((id) =>
      startClusterMember({ id, partitions: PARTITIONS, binary: BINARY, args, seed: founder.gossip }),
    ),
  );
  const all = [founder, ...others];
  let readyAt = 0;
  let healthyAt = 0;
  const deadline = performance.now() + 180_000;
  while ((readyAt === 0 || healthyAt === 0) && performance.now() < deadline) {
    const now = performance.now() - started;
    if (readyAt === 0 && (await Promise.all(all.map(ready))).every(Boolean)) readyAt = now;
    if (healthyAt === 0 && (await healthy(founder))) healthyAt = now;
    await Bun.sleep(50);
  }
  await Promise.all(all.map((m) => m.stop()));
  rows.push({ ready: readyAt, healthy: healthyAt });
  console.log(
    `run ${run + 1}: all ready ${s(readyAt)} s, all partitions healthy ${s(healthyAt)} s, ` +
      `founder window ${s(healthyAt - readyAt)} s`,
  );
}
const windows = rows.map((r) => r.healthy - r.ready);
const p50 = (xs: number[]) => s(pct(xs, 0.5));
console.log(
  `partitions=${PARTITIONS} runs=${RUNS}: ready p50 ${p50(rows.map((r) => r.ready))} s; ` +
    `healthy p50 ${p50(rows.map((r) => r.healthy))} s; ` +
    `founder window p50 ${p50(windows)} s, max ${s(Math.max(...windows))} s`,
);
