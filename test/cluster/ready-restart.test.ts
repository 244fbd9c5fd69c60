// /ready while a cluster forms and on a restarted member (issue #18, items 2 and 5), with real
// members on loopback: a founder (--bootstrap) and two nodes given it as --peers. Once all three
// /ready answer 200 every partition has all three as voters, so killing the founder right then
// leaves every partition a quorum and writes keep working (before: the founder alone held the
// partitions for ~0.5 s after that, and they stayed leaderless until it came back). The founder,
// restarted after kill -9, turns 200 once and stays 200 while nothing fails (no 200 → 503 → 200
// while the node reopens its partitions).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { keysInDistinctPartitions } from "../helpers/cluster-harness.ts";
import { startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";

setDefaultTimeout(90_000);
const PARTITIONS = 64;
const args = ["--fsync", "no"];
/** Failure detection and an election take a few seconds; a partition left without a quorum never recovers. */
const WRITABLE_WITHIN_MS = 15_000;

const members: ClusterMemberProcess[] = [];
afterAll(async () => {
  await Promise.all(members.map((m) => m.stop()));
});

const isReady = async (m: ClusterMemberProcess) =>
  (await fetch(`${m.http}/ready`).catch(() => undefined))?.status === 200;

test("once every member of a forming cluster is ready, killing the founder leaves every partition writable", async () => {
  const founder = await startClusterMember({ id: "ra", partitions: PARTITIONS, args });
  members.push(founder);
  members.push(
    ...(await Promise.all(
      ["rb", "rc"].map((id) => startClusterMember({ id, partitions: PARTITIONS, seed: founder.gossip, args })),
    )),
  );
  const deadline = Date.now() + 45_000;
  while (!(await Promise.all(members.map(isReady))).every(Boolean)) {
    if (Date.now() > deadline) throw new Error(`not all ready:\n${members.map((m) => m.log()).join("\n")}`);
    await Bun.sleep(20);
  }
  await founder.kill9();
  // One key per partition through a surviving member, all at once; a partition whose leader was
  // the founder is written once its election is over (detection and election: a few seconds).
  const client = new Redis(members[1]!.port, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    const until = Date.now() + WRITABLE_WITHIN_MS;
    const failed = await Promise.all(
      keysInDistinctPartitions(PARTITIONS, PARTITIONS, "founder-").map(async (key) => {
        for (;;) {
          const reply = await client.set(key, "v").catch((e: Error) => e.message);
          if (reply === "OK") return [];
          if (Date.now() > until) return [`${key}: ${reply}`];
          await Bun.sleep(200);
        }
      }),
    );
    expect(failed.flat()).toEqual([]);
  } finally {
    client.disconnect();
  }
});

test("a member restarted after kill -9 reports /ready 200 once, without flapping back to 503", async () => {
  const a = members[0]!;
  const restarted = await startClusterMember({
    id: a.id,
    partitions: PARTITIONS,
    args,
    restart: { dataDir: a.dataDir, resp: a.port, http: a.httpPort, gossip: a.gossip, raft: a.raft },
  });
  members[0] = restarted;
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
