// Redis Cluster clients on a 3-node cluster of real processes. Multi-key commands: -CROSSSLOT for
// those not declared splittable (RENAME, SMOVE, LMOVE) across partitions, while MGET/DEL split;
// a connection in cluster mode gets Redis Cluster's stricter per-slot rule. -MOVED names the
// partition's leader, also after that leader is killed (-9) and after leaderships are transferred
// back to it once it restarts; a client following redirects (raw RESP, and ioredis's Cluster)
// reaches the leader in a bounded number of hops and never loops.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Redis from "ioredis";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { keysInDistinctPartitions, waitUntil } from "../helpers/cluster-harness.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

setDefaultTimeout(90_000);
const PARTITIONS = 8;
const CROSSSLOT = "-CROSSSLOT Keys in request don't hash to the same slot";
/** Redis Cluster clients give up after 16 redirects (ioredis's maxRedirections); a correct cluster needs 1. */
const MAX_HOPS = 5;
let c: LoopbackCluster;
const conns: RespClient[] = [];

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "rd" });
  await c.settled();
});

afterAll(async () => {
  for (const x of conns) x.close();
  await c?.stop();
});

const slotOf = (key: string) => keySlot(new TextEncoder().encode(key));
const partOf = (key: string) => partitionOf(slotOf(key), PARTITIONS);
/** One key per partition. */
const probes = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "rd-probe-");

/** A raw connection; in Redis Cluster mode (READONLY) when asked. */
async function open(m: LoopbackMember | number, clusterMode = false): Promise<RespClient> {
  const x = await RespClient.connect(typeof m === "number" ? m : m.proc.port);
  conns.push(x);
  if (clusterMode) expect(show(await x.call("READONLY"))).toBe("+OK");
  return x;
}
const run = async (x: RespClient, ...argv: string[]) => show(await x.call(...argv));

/** What a Redis Cluster client does: send, follow -MOVED to the named node, until a real reply. */
async function follow(from: LoopbackMember, argv: string[]): Promise<{ reply: string; path: number[] }> {
  const path = [from.proc.port];
  for (;;) {
    const x = await open(path[path.length - 1]!, true);
    const reply = await run(x, ...argv);
    x.close();
    const moved = /^-MOVED (\d+) ([\d.]+):(\d+)$/.exec(reply);
    if (!moved) return { reply, path };
    expect(Number(moved[1])).toBe(slotOf(argv[1]!));
    path.push(Number(moved[3]));
    if (path.length > MAX_HOPS + 1)
      throw new Error(`${argv.join(" ")}: more than ${MAX_HOPS} redirects: ${path.join(" → ")}`);
  }
}

/**
 * Every up member answers a cluster-mode GET of each probe with -MOVED to the member that says it
 * leads it, or serves it itself.
 */
async function movedNamesLeaders(timeoutMs = 30_000): Promise<void> {
  let last = "";
  await waitUntil(
    async () => {
      for (const key of probes) {
        const leader = await c.leaderOf(key);
        for (const m of c.members.filter((x) => x.up)) {
          const reply = await run(await open(m, true), "GET", key);
          // The leader serves the probe's value (written once, or by the writers since).
          const ok =
            m === leader
              ? new RegExp(`^\\$"v-${key}(-\\d+)?"$`).test(reply)
              : reply === `-MOVED ${slotOf(key)} 127.0.0.1:${leader.proc.port}`;
          if (!ok) {
            last = `${m.id} answered ${reply} for ${key} (leader ${leader.id})`;
            return false;
          }
        }
      }
      return true;
    },
    timeoutMs,
    "every member's -MOVED to name the leader",
    200,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last: ${last}`);
  });
}

describe("multi-key commands across slots", () => {
  test("proxied: RENAME, SMOVE, LMOVE across partitions answer -CROSSSLOT; MGET and DEL split", async () => {
    const [a, b] = keysInDistinctPartitions(2, PARTITIONS, "xk-");
    const x = await open(c.members[0]!);
    expect(await run(x, "SET", a!, "1")).toBe("+OK");
    expect(await run(x, "SADD", `${a}s`, "m")).toBe(":1");
    expect(await run(x, "RPUSH", `${a}l`, "e")).toBe(":1");
    const crossing = [
      ["RENAME", a!, b!],
      ["SMOVE", `${a}s`, b!, "m"],
      ["LMOVE", `${a}l`, b!, "LEFT", "RIGHT"],
    ];
    for (const [cmd, k1, k2, ...rest] of crossing) {
      if (partOf(k1!) === partOf(k2!)) continue;
      expect(await run(x, cmd!, k1!, k2!, ...rest)).toBe(CROSSSLOT);
    }
    // Nothing moved.
    expect(await run(x, "MGET", a!, b!)).toBe(`*[$"1", nil($)]`);
    expect(await run(x, "SCARD", `${a}s`)).toBe(":1");
    expect(await run(x, "LLEN", `${a}l`)).toBe(":1");
    // Split commands work across partitions; every other one does within a partition (hash tag).
    expect(await run(x, "SET", b!, "2")).toBe("+OK");
    expect(await run(x, "MGET", a!, b!, `${a}-none`)).toBe(`*[$"1", $"2", nil($)]`);
    expect(await run(x, "DEL", a!, b!, `${a}-none`)).toBe(":2");
    expect(await run(x, "MSET", "{tag}x", "1", "{tag}y", "2")).toBe("+OK");
    expect(await run(x, "RENAME", "{tag}x", "{tag}z")).toBe("+OK");
    expect(await run(x, "MGET", "{tag}x", "{tag}z")).toBe(`*[nil($), $"1"]`);
  });

  test("in Redis Cluster mode, any multi-key command across slots answers -CROSSSLOT, MGET/DEL too", async () => {
    const [a, b] = keysInDistinctPartitions(2, PARTITIONS, "xc-");
    const leader = await c.leaderOf(a!);
    const x = await open(leader, true);
    for (const argv of [
      ["MGET", a!, b!],
      ["DEL", a!, b!],
      ["RENAME", a!, b!],
      ["SMOVE", a!, b!, "m"],
      ["LMOVE", a!, b!, "LEFT", "LEFT"],
    ]) {
      expect(await run(x, ...argv)).toBe(CROSSSLOT);
    }
    // One slot (hash tag) is fine, through redirects when needed.
    expect((await follow(c.members[0]!, ["MSET", "{ct}a", "1", "{ct}b", "2"])).reply).toBe("+OK");
    expect((await follow(c.members[0]!, ["MGET", "{ct}a", "{ct}b"])).reply).toBe(`*[$"1", $"2"]`);
  });
});

describe("-MOVED after leader changes", () => {
  test("-MOVED names the leader, and one hop reaches it", async () => {
    const writer = await open(c.members[0]!);
    for (const key of probes) expect(await run(writer, "SET", key, `v-${key}`)).toBe("+OK");
    await movedNamesLeaders();
    for (const key of probes) {
      for (const m of c.members) {
        const { reply, path } = await follow(m, ["GET", key]);
        expect(reply).toBe(`$"v-${key}"`);
        expect(path.length).toBeLessThanOrEqual(2);
      }
    }
  });

  test("kill -9 of a leader, its restart and transfers back: -MOVED follows, no client loops", async () => {
    const seeds = c.members.map((m) => ({ host: "127.0.0.1", port: m.proc.port }));
    const cluster = new Redis.Cluster(seeds, {
      redisOptions: { maxRetriesPerRequest: 0, commandTimeout: 10_000 },
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      slotsRefreshTimeout: 2_000,
    });
    cluster.on("error", () => {});
    try {
      for (const key of probes) expect(await cluster.get(key)).toBe(`v-${key}`);
      // A member that leads a probe's partition and is not the only one up afterwards.
      const victim = await c.leaderOf(probes[0]!);
      // Writes through the Cluster client throughout: each probe gets increasing values.
      let stop = false;
      const errors: string[] = [];
      const acked = new Map<string, number>();
      const writing = (async () => {
        for (let n = 1; !stop; n++) {
          await Promise.all(
            probes.map((key) =>
              cluster.set(key, `v-${key}-${n}`).then(
                () => void acked.set(key, n),
                (e: Error) => void errors.push(e.message),
              ),
            ),
          );
        }
      })();
      await Bun.sleep(500);
      await c.kill9(victim);
      const killedAt = performance.now();
      // Raw clients following redirects from each survivor, while the others elect.
      const paths: string[] = [];
      while (performance.now() - killedAt < 4_000) {
        for (const m of c.members.filter((x) => x.up)) {
          for (const key of probes) {
            try {
              const { reply, path } = await follow(m, ["GET", key]);
              if (path.length > 2) paths.push(`${key}: ${path.join(" → ")} (${reply})`);
            } catch (e) {
              // A redirect to the killed member: refused until the survivors learn the new leader.
              if (!/ECONNREFUSED|closed/i.test((e as Error).message)) throw e;
            }
          }
        }
      }
      await c.settled();
      await movedNamesLeaders();
      console.log(`after kill -9 of ${victim.id}: redirect paths longer than one hop: ${JSON.stringify(paths)}`);

      await c.restart(victim);
      await c.settled();
      // The controller spreads leaders again: some move back to the restarted member by transfer.
      await waitUntil(
        async () => (await Promise.all(probes.map((k) => c.leaderOf(k)))).includes(victim),
        30_000,
        `${victim.id} to lead a probe's partition again after its restart`,
        250,
      );
      await movedNamesLeaders();
      stop = true;
      await writing;
      // The Cluster client ends up served everywhere, each probe holding its last acknowledged value or a later one.
      for (const key of probes) {
        const v = await cluster.get(key);
        const n = Number(/-(\d+)$/.exec(v ?? "")?.[1]);
        expect(n).toBeGreaterThanOrEqual(acked.get(key) ?? 1);
      }
      const loops = errors.filter((e) => /Too many Cluster redirections/.test(e) && /MOVED/.test(e));
      console.log(`ioredis Cluster: ${errors.length} failed writes (${[...new Set(errors)].slice(0, 5).join(" | ")})`);
      expect(loops).toEqual([]);
      expect(await cluster.set(probes[0]!, "final")).toBe("OK");
      expect(await cluster.get(probes[0]!)).toBe("final");
    } finally {
      cluster.disconnect();
    }
  });
});
