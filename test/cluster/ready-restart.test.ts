// /ready on a restarted member (issue #18, item 5): it turns 200 once and stays 200 while nothing
// fails (no 200 → 503 → 200 while the node reopens its partitions), and a 200 means every
// partition the map gives the node has a leader. Real members on loopback, kill -9 and restart.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";

setDefaultTimeout(90_000);

const members: ClusterMemberProcess[] = [];
afterAll(async () => {
  await Promise.all(members.map((m) => m.stop()));
});

async function waitReady(m: ClusterMemberProcess, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await fetch(`${m.http}/ready`).catch(() => undefined))?.status !== 200) {
    if (Date.now() > deadline) throw new Error(`${m.id} not ready:\n${m.log()}`);
    await Bun.sleep(100);
  }
}

test("a member restarted after kill -9 reports /ready 200 once, without flapping back to 503", async () => {
  const args = ["--fsync", "no"];
  const a = await startClusterMember({ id: "ra", partitions: 64, args });
  members.push(a);
  for (const id of ["rb", "rc"]) members.push(await startClusterMember({ id, partitions: 64, seed: a.gossip, args }));
  await Promise.all(members.map((m) => waitReady(m)));
  // Every partition replicated on all three: the restarted node hosts all 64.
  const healthy = async () =>
    ((await (await fetch(`${a.http}/cluster/status`)).json()) as { partitions: { healthy: number } }).partitions
      .healthy;
  const deadline = Date.now() + 60_000;
  while ((await healthy()) !== 64 && Date.now() < deadline) await Bun.sleep(250);
  const c = members[2]!;
  await c.kill9();
  const restarted = await startClusterMember({
    id: c.id,
    partitions: 64,
    args,
    restart: { dataDir: c.dataDir, resp: c.port, http: c.httpPort, gossip: c.gossip, raft: c.raft },
  });
  members[2] = restarted;
  // Sample /ready every 20 ms for 6 s after it first answers.
  const codes: number[] = [];
  const end = Date.now() + 20_000;
  let first = 0;
  while (Date.now() < end && (first === 0 || Date.now() - first < 6_000)) {
    const r = await fetch(`${restarted.http}/ready`).catch(() => undefined);
    if (r) {
      codes.push(r.status);
      if (r.status === 200 && first === 0) first = Date.now();
    }
    await Bun.sleep(20);
  }
  expect(first).toBeGreaterThan(0);
  const afterFirst = codes.slice(codes.indexOf(200));
  expect(afterFirst.filter((s) => s !== 200)).toEqual([]);
});
