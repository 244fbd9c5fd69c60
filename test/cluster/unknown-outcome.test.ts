// A write whose outcome is unknown must reach the application, not be sent again by the client
// library (src/cluster/core/write-outcome.ts). Two members and a real ioredis Cluster client: the
// other replica of the counter's partition is stopped (SIGSTOP), so its leader cannot commit the
// INCR it proposed, and after the router's 5 s the client is told the outcome is unknown. The
// member resumes and the INCR commits: applied exactly once. With the old answer, -TRYAGAIN,
// ioredis sent the INCR again by itself (a new write), both copies committed once the member
// resumed, and the counter moved by 2.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis, { Cluster } from "ioredis";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { waitFor } from "../helpers/cluster-nodes.ts";
import { type ClusterMemberProcess, ensureBinary, startClusterMember } from "../helpers/processes.ts";

setDefaultTimeout(90_000);
const PARTITIONS = 4;
const KEY = "{unknown}counter";
const KV_KEY = "{unknown}kv";

const members: ClusterMemberProcess[] = [];
const clients: (Redis | Cluster)[] = [];
let paused: ClusterMemberProcess | undefined;

interface Partitions {
  partitions: { replicas: string[]; leader: string | null; healthy: boolean }[];
}
const partitions = async (m: ClusterMemberProcess): Promise<Partitions> =>
  (await fetch(`${m.http}/cluster/partitions`)).json() as Promise<Partitions>;

beforeAll(async () => {
  const binary = ensureBinary();
  const args = ["--fsync", "no"];
  members.push(await startClusterMember({ id: "u1", partitions: PARTITIONS, binary, args }));
  members.push(await startClusterMember({ id: "u2", seed: members[0]!.gossip, partitions: PARTITIONS, binary, args }));
  await waitFor(
    "2 members replicating every partition, each with a leader",
    async () => {
      const { partitions: ps } = await partitions(members[0]!);
      return ps.length === PARTITIONS && ps.every((p) => p.healthy && p.leader !== null && p.replicas.length === 2);
    },
    40_000,
    250,
  );
});

afterAll(async () => {
  if (paused) process.kill(paused.pid, "SIGCONT");
  for (const c of clients) c.disconnect();
  await Promise.all(members.map((m) => m.stop()));
});

describe("a write whose outcome is unknown", () => {
  test("is answered -UNKNOWN (504 over HTTP), which ioredis does not resend: the INCR is applied once", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: members[0]!.port }]);
    cluster.on("error", () => {});
    clients.push(cluster);
    expect(await cluster.set(KEY, "10")).toBe("OK");

    const p = partitionOf(keySlot(new TextEncoder().encode(KEY)), PARTITIONS);
    const leaderId = (await partitions(members[0]!)).partitions[p]!.leader;
    const leader = members.find((m) => m.id === leaderId)!;
    const follower = members.find((m) => m.id !== leaderId)!;
    process.kill(follower.pid, "SIGSTOP");
    paused = follower;

    const outcome = cluster.incr(KEY).then(
      (v) => ({ reply: String(v) }),
      (e: Error) => ({ error: e.message }),
    );
    const put = fetch(`${leader.http}/kv/${encodeURIComponent(KV_KEY)}`, { method: "PUT", body: "v" });
    // The router answers after 5 s; the old -TRYAGAIN never settled here (ioredis kept resending).
    const answered = await Promise.race([outcome.then(() => true), Bun.sleep(8_000).then(() => false)]);
    process.kill(follower.pid, "SIGCONT");
    paused = undefined;

    const settled = await Promise.race([outcome, Bun.sleep(30_000).then(() => ({ error: "no answer in 30 s" }))]);
    const plain = new Redis({ host: "127.0.0.1", port: leader.port, maxRetriesPerRequest: 0 });
    plain.on("error", () => {});
    clients.push(plain);
    let value: string | null = "10";
    await waitFor(
      "the INCR proposed without a quorum to commit",
      async () => {
        value = await plain.get(KEY);
        return value !== "10";
      },
      20_000,
      100,
    );
    // Long enough for any copy a client resent to commit too.
    await Bun.sleep(1_000);
    expect({ value: await plain.get(KEY), answered, settled }).toEqual({
      value: "11",
      answered: true,
      settled: { error: expect.stringMatching(/^UNKNOWN .*the write may or may not have been applied$/) },
    });
    expect((await put).status).toBe(504);
    await waitFor("the PUT to commit as well", async () => (await plain.get(KV_KEY)) === "v", 10_000, 100);
  });
});
