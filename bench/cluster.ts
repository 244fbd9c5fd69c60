// A 3-node FlyDB cluster on loopback against a standalone FlyDB node and redis-server, all in one
// run: redis-benchmark SET/GET through each cluster node (proxied to partition leaders) and with
// --cluster (straight to the leaders via CLUSTER SLOTS), then failover time (kill -9 of a
// partition's leader → first successful write to a key of that partition) over several kills.
//
//   npx bun bench/cluster.ts [--requests 20000] [--clients 50] [--kills 10] [--partitions 16]
//                            [--failover-only] [--trace]
//
// --trace runs the members at log level debug and prints, per kill, when the survivors' Raft
// views of the partition changed (pre-vote: leader forgotten, same term; vote: next term; leader
// elected), to split the failover time into detection, election and the proxy finding the leader.
import { parseArgs } from "node:util";
import Redis from "ioredis";
import { partitionOf } from "../src/keyspace/slot.ts";
import {
  ensureBinary,
  runTool,
  startClusterMember,
  startFlyDB,
  startRedisServer,
  type ClusterMemberOptions,
  type ClusterMemberProcess,
  type ServerProcess,
} from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    clients: { type: "string", default: "50" },
    kills: { type: "string", default: "10" },
    partitions: { type: "string", default: "16" },
    "failover-only": { type: "boolean", default: false },
    trace: { type: "boolean", default: false },
  },
});
const REQUESTS = Number(values.requests);
const CLIENTS = Number(values.clients);
const KILLS = Number(values.kills);
const PARTITIONS = Number(values.partitions);
const TRACE = values.trace === true;

type Member = ClusterMemberProcess;

const startMember = (binary: string, id: string, seed: number | undefined, restart?: ClusterMemberOptions["restart"]) =>
  startClusterMember({
    id,
    seed,
    partitions: PARTITIONS,
    binary,
    restart,
    args: ["--log-level", TRACE ? "debug" : "warn"],
  });

async function settled(m: Member, members: number): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    try {
      const s = (await (await fetch(`${m.http}/cluster/status`)).json()) as {
        members: unknown[];
        partitions: { healthy: number; leaders_per_node: Record<string, number> };
      };
      // Leaders start on the bootstrap node and spread; redis-benchmark --cluster refuses masters without slots.
      const spread = Object.keys(s.partitions.leaders_per_node).length === members;
      if (s.members.length === members && s.partitions.healthy === PARTITIONS && spread) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(200);
  }
  throw new Error("cluster did not settle (members, healthy partitions, leaders on every node) within 60 s");
}

async function rps(port: number, extra: string[] = []): Promise<Record<string, number>> {
  const out = await runTool(
    [
      "redis-benchmark",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-t",
      "set,get",
      "-r",
      "100000",
      "-n",
      String(REQUESTS),
      "-c",
      String(CLIENTS),
      "-q",
      "--csv",
      ...extra,
    ],
    { timeoutMs: 600_000 },
  );
  if (out.code !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}${out.stdout}`);
  const r: Record<string, number> = {};
  for (const line of out.stdout.split("\n").slice(1)) {
    const cols = line.split(",").map((c) => c.replaceAll('"', ""));
    if (cols[0] && cols[1]) r[cols[0]] = Number(cols[1]);
  }
  return r;
}

/** The leader of the key's slot according to CLUSTER SLOTS (asked of `via`). */
async function leaderOf(via: Redis, key: string): Promise<number> {
  const slot = (await via.call("cluster", "keyslot", key)) as number;
  const ranges = (await via.call("cluster", "slots")) as [number, number, [string, number]][];
  return ranges.find(([a, b]) => slot >= a && slot <= b)![2][1];
}

async function throughput(binary: string, members: Member[]): Promise<() => Promise<void>> {
  const redis: ServerProcess = await startRedisServer();
  const redisAof: ServerProcess = await startRedisServer({ aofAlways: true });
  const standalone = await startFlyDB({ binary, args: ["--log-level", "warn"] });
  const m1 = members[0]!;
  console.log(
    `# ${new Date().toISOString()}; redis-benchmark -t set,get -r 100000 -n ${REQUESTS} -c ${CLIENTS}; cluster: 3 nodes, ${PARTITIONS} partitions, rf 3, fsync always\n`,
  );
  const rows: [string, Record<string, number>][] = [
    ["redis-server (no persistence)", await rps(redis.port)],
    ["redis-server (appendfsync always)", await rps(redisAof.port)],
    ["FlyDB standalone (fsync always)", await rps(standalone.port)],
  ];
  for (const m of members) rows.push([`FlyDB cluster via ${m.id} (proxied)`, await rps(m.port)]);
  rows.push(["FlyDB cluster, redis-benchmark --cluster", await rps(m1.port, ["--cluster"])]);
  const base = rows[0]![1];
  const aof = rows[1]![1];
  console.log("| target | SET/s | GET/s | SET vs redis appendfsync always | GET vs redis |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${Math.round(r.SET ?? 0)} | ${Math.round(r.GET ?? 0)} | ${((r.SET ?? 0) / (aof.SET ?? 1)).toFixed(2)}× | ${((r.GET ?? 0) / (base.GET ?? 1)).toFixed(2)}× |`,
    );
  }
  return async () => {
    await standalone.stop();
    await redis.stop();
    await redisAof.stop();
  };
}

/** Leader changes of group `grp` logged by a member since `since` (epoch ms), relative to it. */
function leaderChanges(m: Member, grp: number, since: number): string[] {
  const out: string[] = [];
  for (const line of m.log().split("\n")) {
    const hit = /^(\S+) DEBUG leader change node=\S+ grp=(\d+) leader=(\S+) term=(\d+)/.exec(line);
    if (!hit || Number(hit[2]) !== grp) continue;
    const at = Date.parse(hit[1]!) - since;
    if (at >= 0) out.push(`${m.id}@${at}ms:${hit[3] === "null" ? "none" : hit[3]}/t${hit[4]}`);
  }
  return out;
}

/** The member that leads the key's partition, as it says itself (another member's view may lag a transfer). */
async function currentLeader(members: Member[], key: string): Promise<Member> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const via = new Redis({ port: members[0]!.port, maxRetriesPerRequest: 0 });
    const claimed = await leaderOf(via, key);
    via.disconnect();
    const leader = members.find((m) => m.port === claimed);
    if (leader) {
      const self = new Redis({ port: leader.port, maxRetriesPerRequest: 0 });
      const confirmed = (await leaderOf(self, key)) === leader.port;
      self.disconnect();
      if (confirmed) return leader;
    }
    await Bun.sleep(100);
  }
  throw new Error(`no member confirms it leads ${key}'s partition`);
}

async function main(): Promise<void> {
  const binary = ensureBinary();
  const m1 = await startMember(binary, "b1", undefined);
  const members = [m1, await startMember(binary, "b2", m1.gossip), await startMember(binary, "b3", m1.gossip)];
  await settled(m1, 3);
  const stopOthers = values["failover-only"] ? async () => {} : await throughput(binary, members);

  // Failover: kill the leader of a key's partition, time until a write to that key succeeds.
  console.log(
    `\n# failover: kill -9 the leader of a key's partition, time to the first successful SET of that key (${KILLS} kills)\n`,
  );
  const times: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const key = `failover-${k}`;
    const victim = await currentLeader(members, key);
    const survivor = members.find((m) => m !== victim)!;
    const client = new Redis({ port: survivor.port, maxRetriesPerRequest: 0, commandTimeout: 10_000 });
    const dataDir = victim.dataDir;
    const restart = { dataDir, resp: victim.port, http: victim.httpPort, gossip: victim.gossip, raft: victim.raft };
    const grp = partitionOf((await client.call("cluster", "keyslot", key)) as number, PARTITIONS) + 1;
    const killedAt = performance.now();
    const killedWall = Date.now();
    await victim.kill9();
    for (;;) {
      try {
        if ((await client.set(key, "x")) === "OK") break;
      } catch {
        // TRYAGAIN / CLUSTERDOWN while the partition elects a leader
      }
    }
    const ms = performance.now() - killedAt;
    times.push(ms);
    client.disconnect();
    console.log(`kill ${k + 1}: ${victim.id} (led ${key}'s partition) → first write after ${ms.toFixed(0)} ms`);
    if (TRACE)
      console.log(
        `  group ${grp}: ${members
          .filter((m) => m !== victim)
          .flatMap((m) => leaderChanges(m, grp, killedWall))
          .join(" ")}`,
      );
    // Bring the victim back on the same data dir and ports, and wait for the cluster to heal.
    const again = await startMember(binary, victim.id, undefined, restart);
    members[members.indexOf(victim)] = again;
    await settled(members[0] === victim ? again : members[0]!, 3);
  }
  times.sort((a, b) => a - b);
  console.log(
    `\nfailover: median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms, mean ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(0)} ms`,
  );

  for (const m of members) await m.stop(2000);
  await stopOthers();
}

await main();
