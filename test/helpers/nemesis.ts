// The nemesis (issue #13): a loopback cluster of real processes in lease-read mode, each node's
// clock skewed by a test-only offset (FLYDB_TEST_CLOCK_OFFSET_MS, src/wall-clock.ts) that changes at
// every restart, under a recorded workload (registers, counters, TTL keys) while a seeded schedule
// kill -9s and SIGSTOPs nodes, one at a time. Judged by the WGL checker (workload.ts) and a TTL
// check: a key read as expired is never read alive again. No partitions: cutting links needs the
// network namespaces (test/cluster/partition.test.ts), which a soak of 100 runs cannot afford.
// Used by test/cluster/nemesis.test.ts and scripts/soak.ts.
import Redis from "ioredis";
import { seededRandom } from "../../src/lib/prng.ts";
import { keysInDistinctPartitions, waitUntil } from "./cluster-harness.ts";
import { startClusterMember, type ClusterMemberProcess } from "./processes.ts";
import { checkHistory, describeFailures, startWorkload, type FinalRead, type OpRecord } from "./workload.ts";

export interface NemesisOptions {
  readonly seed: number;
  /** Workload length; faults stop 2 s before its end. */
  readonly workloadMs: number;
  /** Largest clock offset of a node, either way. */
  readonly maxSkewMs: number;
  readonly partitions?: number;
}

export interface NemesisResult {
  readonly seed: number;
  readonly faults: string[];
  /** Keys that failed the WGL check, and TTL keys read alive after being read expired. */
  readonly violations: string[];
  /** Acknowledged writes missing at the end (also counted in violations). */
  readonly lostWrites: string[];
  /** Per fault: ms from the fault until every workload key had an acknowledged write again. */
  readonly recoveryMs: number[];
  readonly ops: number;
  readonly ttlReads: number;
}

interface TtlRead {
  readonly key: string;
  readonly call: number;
  readonly ret: number;
  readonly alive: boolean;
}

const now = () => performance.timeOrigin + performance.now();

export async function runNemesis(o: NemesisOptions): Promise<NemesisResult> {
  const rnd = seededRandom(o.seed);
  const partitions = o.partitions ?? 8;
  const skew = () => ({ FLYDB_TEST_CLOCK_OFFSET_MS: String(Math.round((rnd() * 2 - 1) * o.maxSkewMs)) });
  const args = ["--read-consistency", "lease"];
  const members: ClusterMemberProcess[] = [];
  const redis: Redis[] = [];
  const client = (m: ClusterMemberProcess) => {
    const c = new Redis({ port: m.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 2_000 });
    c.on("error", () => {});
    redis.push(c);
    return c;
  };
  try {
    const first = await startClusterMember({ id: `nm${o.seed}-1`, partitions, args, env: skew() });
    members.push(first);
    for (const i of [2, 3]) {
      const id = `nm${o.seed}-${i}`;
      members.push(await startClusterMember({ id, seed: first.gossip, partitions, args, env: skew() }));
    }
    await waitUntil(
      async () => {
        const s = (await (await fetch(`${first.http}/cluster/status`)).json()) as {
          members: unknown[];
          partitions: { healthy: number; leaders_per_node: Record<string, number> };
        };
        const leading = Object.keys(s.partitions.leaders_per_node).length;
        return s.members.length === 3 && s.partitions.healthy === partitions && leading === 3;
      },
      60_000,
      "3 members, every partition healthy, each member leading some",
      250,
    );
    const keys = keysInDistinctPartitions(6, partitions, `nm${o.seed}-`);
    const registerKeys = keys.slice(0, 4);
    const counterKeys = keys.slice(4);
    const run = startWorkload(null, "", {
      targets: members.map((m) => `127.0.0.1:${m.port}`),
      clients: 6,
      registerKeys,
      counterKeys,
      maxOps: 50_000,
      maxMs: o.workloadMs,
      opTimeoutMs: 2_000,
      thinkMs: 5,
      seed: o.seed,
    });
    const started = now();
    const ttlReads: TtlRead[] = [];
    const ttl = ttlProbe(members, client, rnd, started + o.workloadMs, ttlReads);
    const faults: string[] = [];
    const faultTimes: number[] = [];
    while (now() < started + o.workloadMs - 4_000) {
      await Bun.sleep(1_000 + rnd() * 1_500);
      const i = Math.floor(rnd() * members.length);
      const m = members[i]!;
      faultTimes.push(Date.now());
      if (rnd() < 0.5) {
        faults.push(`kill -9 ${m.id}`);
        await m.kill9();
        await Bun.sleep(500 + rnd() * 1_500);
        const restart = { dataDir: m.dataDir, resp: m.port, http: m.httpPort, gossip: m.gossip, raft: m.raft };
        members[i] = await startClusterMember({ id: m.id, partitions, args, env: skew(), restart });
      } else {
        const ms = Math.round(500 + rnd() * 2_000);
        faults.push(`SIGSTOP ${m.id} ${ms} ms`);
        process.kill(m.pid, "SIGSTOP");
        await Bun.sleep(ms);
        process.kill(m.pid, "SIGCONT");
      }
    }
    const { records } = await run.done;
    await ttl;
    await waitUntil(
      async () => {
        const res = await fetch(`${members[0]!.http}/cluster/status`);
        const s = (await res.json()) as { partitions: { healthy: number } };
        return s.partitions.healthy === partitions;
      },
      30_000,
      "every partition healthy after the faults",
      250,
    );
    const finals: FinalRead[] = [];
    for (const m of members) {
      const c = client(m);
      for (const key of keys) {
        const call = Date.now();
        const read = async () => {
          const v = await c.get(key).catch(() => undefined);
          return v === undefined ? undefined : { v };
        };
        const { v } = await waitUntil(read, 20_000, `a final GET ${key} through ${m.id}`);
        finals.push({ key, value: v, call, ret: Date.now() });
      }
    }
    const checks = checkHistory(records, finals);
    const violations = [...describeFailures(checks), ...ttlViolations(ttlReads)];
    const lostWrites = checks.flatMap((c) => c.problems.filter((p) => /lost|null after/.test(p)));
    return {
      seed: o.seed,
      faults,
      violations,
      lostWrites,
      recoveryMs: faultTimes.map((t) => recovery(records, [...registerKeys, ...counterKeys], t)),
      ops: records.length,
      ttlReads: ttlReads.length,
    };
  } finally {
    for (const c of redis) c.disconnect();
    for (const m of members) {
      try {
        process.kill(m.pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await Promise.all(members.map((m) => m.stop(2_000)));
  }
}

/** ms from `at` until each key had an acknowledged write invoked after it (the slowest key). */
function recovery(records: readonly OpRecord[], keys: readonly string[], at: number): number {
  let worst = 0;
  for (const key of keys) {
    const first = records.find((r) => r.key === key && r.op !== "get" && r.status === "ok" && r.call >= at);
    worst = Math.max(worst, first ? first.ret! - at : Infinity);
  }
  return worst;
}

/**
 * Writes TTL keys (a fresh key per write, PX 150–600 ms) through random nodes and reads each
 * through random nodes until it has been read expired a few times.
 */
async function ttlProbe(
  members: ClusterMemberProcess[],
  client: (m: ClusterMemberProcess) => Redis,
  rnd: () => number,
  until: number,
  out: TtlRead[],
): Promise<void> {
  const pick = () => client(members[Math.floor(rnd() * members.length)]!);
  for (let n = 0; now() < until; n++) {
    const key = `ttl-${n}`;
    const w = pick();
    const set = await w.set(key, "v", "PX", Math.round(150 + rnd() * 450)).catch(() => null);
    w.disconnect();
    if (set !== "OK") continue;
    let expiredSeen = 0;
    while (expiredSeen < 3 && now() < until) {
      const r = pick();
      const call = now();
      const v = await r.get(key).catch(() => undefined);
      const ret = now();
      r.disconnect();
      if (v !== undefined) out.push({ key, call, ret, alive: v !== null });
      if (v === null) expiredSeen++;
      await Bun.sleep(rnd() * 60);
    }
  }
}

/** A TTL key read alive by a read that began after a read that found it expired had returned. */
function ttlViolations(reads: readonly TtlRead[]): string[] {
  const out: string[] = [];
  const byKey = new Map<string, TtlRead[]>();
  for (const r of reads) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const [key, rs] of byKey) {
    const firstExpired = Math.min(...rs.filter((r) => !r.alive).map((r) => r.ret));
    const back = rs.find((r) => r.alive && r.call > firstExpired);
    if (back) {
      out.push(`${key}: read alive at ${back.call.toFixed(0)} after it was read expired at ${firstExpired.toFixed(0)}`);
    }
  }
  return out;
}
