// Three nodes form a cluster by --peers (n1 --bootstrap, n2 and n3 --peers n1), each in its own
// network namespace: they settle and serve writes through any node. Then, while clients read and
// write keys in every partition through every node, kill -9 a node that leads data partitions
// (not the metadata leader): writes resume in every partition, the killed node restarts, catches
// up and serves, and the history is linearizable with every acknowledged write present at the
// end. Then a partition leader is paused (SIGSTOP) and woken: the others take over meanwhile and
// the history stays linearizable. Then every node is killed at once and restarted: nothing
// acknowledged is lost and nothing reads empty after the restart.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { clusterStatus, createHarness, waitUntil, type FlyNode, type Harness } from "../helpers/cluster-harness.ts";
import { formationTests, runWithFault, workloadKeys, writeResumedAfter } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";
import { describeFailures } from "../helpers/workload.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("3 nodes by --peers: formation, then kill -9 under load", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 3, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await h?.destroy();
  });

  formationTests(() => h, PARTITIONS);

  test("writes resume in every partition, no acknowledged write is lost, the history is linearizable, the node catches up", async () => {
    // A key in every partition, so whichever partitions the victim leads are under load.
    const keys = workloadKeys(PARTITIONS, 12, 4);
    // The controller spreads partition leaders over the members by leadership transfer.
    const [victimId, led] = await waitUntil(
      async () => {
        const s = await clusterStatus(h, h.nodes[0]!);
        const best = Object.entries(s.partitions.leaders_per_node)
          .filter(([id]) => id !== s.metadata_leader)
          .sort((a, b) => b[1] - a[1])[0];
        return best !== undefined && best[1] > 0 ? best : undefined;
      },
      20_000,
      "a node other than the metadata leader to lead data partitions",
    );
    const victim: FlyNode = h.nodes.find((n) => n.id === victimId)!;
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      keys,
      workloadMs: 10_000,
      faultAfterMs: 2_000,
      fault: () => h.kill9(victim),
      holdMs: 4_000,
      repair: () => h.start(victim, { wait: "ready", timeoutMs: 20_000 }),
    });
    const resumedMs = Math.max(
      ...[...keys.registerKeys, ...keys.counterKeys].map((k) => writeResumedAfter(run.records, k, run.faultAt)),
    );
    console.log(
      `failover (${victim.id}, leader of ${led} partitions): every key written again within ${resumedMs.toFixed(0)} ms of kill -9; ${JSON.stringify(run.summary)}`,
    );
    expect(describeFailures(run.checks)).toEqual([]);
    // The issue asks for < 2 s; the bound here leaves room for a loaded CI machine.
    expect(resumedMs).toBeLessThan(5_000);
    expect(run.records.some((r) => r.op !== "get" && r.status === "ok" && r.call > run.repairedAt)).toBe(true);

    // The restarted node serves: a write through it is read back through the others, and the
    // other way round.
    const others = h.nodes.filter((n) => n !== victim);
    expect(await h.redis(victim, "SET", "after-restart", "from-victim")).toBe("OK");
    for (const n of others) expect(await h.redis(n, "GET", "after-restart")).toBe("from-victim");
    expect(await h.redis(others[0]!, "SET", "after-restart-2", "to-victim")).toBe("OK");
    expect(await h.redis(victim, "GET", "after-restart-2")).toBe("to-victim");

    // What an operator reads (src/cluster/core/cluster-events.ts): each survivor logged the victim
    // going (suspected or dead, at the default level) and coming back.
    const gone = new RegExp(`(member is suspected|member is dead)[^\n]* member=${victim.id}\\b`);
    const back = new RegExp(`member is alive[^\n]* member=${victim.id} was=(suspect|dead)`);
    for (const n of others)
      await waitUntil(
        async () => {
          const log = readFileSync(n.logPath, "utf8");
          return gone.test(log) && back.test(log) ? true : undefined;
        },
        15_000,
        `${n.id}'s log to report ${victim.id} gone and back`,
      );
  });

  test("SIGSTOP of a partition leader for 4 s under load, then SIGCONT: the others take over, the history is linearizable, the paused node rejoins", async () => {
    // Jepsen's pause: the victim wakes up still believing it leads. Its reads must not be served
    // from that belief (ReadIndex needs a quorum) and its old proposals must not win.
    const keys = workloadKeys(PARTITIONS, 6, 3);
    const victimId = await waitUntil(
      async () => {
        const s = await clusterStatus(h, h.nodes[0]!);
        return Object.entries(s.partitions.leaders_per_node).find(([id, n]) => id !== s.metadata_leader && n > 0)?.[0];
      },
      20_000,
      "a node other than the metadata leader to lead data partitions",
    );
    const victim: FlyNode = h.nodes.find((n) => n.id === victimId)!;
    const pid = victim.proc!.pid;
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      keys,
      workloadMs: 9_000,
      faultAfterMs: 2_000,
      fault: async () => void process.kill(pid, "SIGSTOP"),
      holdMs: 4_000,
      repair: async () => void process.kill(pid, "SIGCONT"),
      seed: 7,
    });
    const resumedMs = Math.max(
      ...[...keys.registerKeys, ...keys.counterKeys].map((k) => writeResumedAfter(run.records, k, run.faultAt)),
    );
    console.log(
      `pause of ${victim.id} for 4 s: every key written again within ${resumedMs.toFixed(0)} ms; ${JSON.stringify(run.summary)}`,
    );
    expect(describeFailures(run.checks)).toEqual([]);
    // Writes went on while the victim was stopped: the others took over before SIGCONT. The window
    // is the stop itself (at least the 4 s hold, longer when the test process is slow to wake).
    expect(resumedMs).toBeLessThan(run.repairedAt - run.faultAt);
    // The woken node serves again, in both directions.
    await h.waitReady(victim, 30_000);
    expect(await h.redis(victim, "SET", "after-pause", "from-victim")).toBe("OK");
    for (const n of h.nodes.filter((x) => x !== victim))
      expect(await h.redis(n, "GET", "after-pause")).toBe("from-victim");
  });

  test("kill -9 of every node under load, then restart: no acknowledged write lost, none applied twice", async () => {
    const keys = workloadKeys(PARTITIONS, 3, 2);
    const run = await runWithFault(h, {
      partitionCount: PARTITIONS,
      keys,
      // Long enough for writes after all three restarts even when a loaded machine makes a restart
      // to ready take several seconds.
      workloadMs: 12_000,
      faultAfterMs: 2_000,
      fault: () => Promise.all(h.nodes.map((n) => h.kill9(n))).then(() => undefined),
      holdMs: 500,
      repair: async () => {
        await Promise.all(h.nodes.map((n) => h.start(n, { wait: "health" })));
        await Promise.all(h.nodes.map((n) => h.waitReady(n, 30_000)));
      },
      seed: 11,
    });
    console.log(`crash of all nodes: ${JSON.stringify(run.summary)}`);
    expect(describeFailures(run.checks)).toEqual([]);
    const acked = run.records.filter((r) => r.op !== "get" && r.status === "ok");
    expect(acked.some((r) => r.ret! < run.faultAt)).toBe(true);
    expect(acked.some((r) => r.call > run.repairedAt)).toBe(true);
  });
});
