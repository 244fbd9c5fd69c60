// MULTI/EXEC/WATCH on a 3-node cluster of real processes, sent to members that do not lead the
// keys' partition (so the session's state lives on one member and the transaction runs on
// another): a transaction commits atomically (readers through the other members never see half
// of it); WATCH broken by a write through another member makes EXEC answer nil and run nothing;
// an unbroken WATCH commits; and a transaction whose keys, WATCHed keys included, span partitions
// answers -CROSSSLOT and runs nothing.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { keysInDistinctPartitions } from "../helpers/cluster-harness.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 8;
const CROSSSLOT = "-CROSSSLOT Keys in request don't hash to the same slot";
let c: LoopbackCluster;
const conns: RespClient[] = [];

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "tx" });
  await c.settled();
});

afterAll(async () => {
  for (const x of conns) x.close();
  await c?.stop();
});

const open = async (m: LoopbackMember) => {
  const x = await RespClient.connect(m.proc.port);
  conns.push(x);
  return x;
};
/** Sends a command and renders its reply exactly (wire type included). */
const run = async (x: RespClient, ...argv: string[]) => show(await x.call(...argv));

/** The key's leader and the two members that do not lead it. */
async function roles(key: string): Promise<{ leader: LoopbackMember; others: LoopbackMember[] }> {
  await c.settled();
  const leader = await c.leaderOf(key);
  return { leader, others: c.members.filter((m) => m !== leader) };
}

describe("cluster transactions through proxying members", () => {
  test("a transaction sent to a member that does not lead its partition commits atomically", async () => {
    const [a, b, l] = ["{tx}a", "{tx}b", "{tx}list"];
    const { leader, others } = await roles(a);
    const writer = await open(others[0]!);
    expect(await run(writer, "MSET", a, "0", b, "0")).toBe("+OK");
    // Readers through the other non-leader and through the leader: one MGET reads both keys at
    // one point of the partition's log, so it sees both increments of a transaction or neither.
    const readers = await Promise.all([open(others[1]!), open(leader), open(others[0]!)]);
    let stop = false;
    const torn: string[] = [];
    let reads = 0;
    const reading = readers.map(async (r) => {
      while (!stop) {
        const v = await run(r, "MGET", a, b);
        reads++;
        const m = /^\*\[\$"(\d+)", \$"(\d+)"\]$/.exec(v);
        if (!m || m[1] !== m[2]) torn.push(v);
      }
    });
    const ROUNDS = 60;
    for (let i = 1; i <= ROUNDS; i++) {
      expect(await run(writer, "MULTI")).toBe("+OK");
      expect(await run(writer, "INCR", a)).toBe("+QUEUED");
      expect(await run(writer, "RPUSH", l, `e${i}`)).toBe("+QUEUED");
      expect(await run(writer, "INCR", b)).toBe("+QUEUED");
      expect(await run(writer, "EXEC")).toBe(`*[:${i}, :${i}, :${i}]`);
    }
    stop = true;
    await Promise.all(reading);
    console.log(`${ROUNDS} transactions through ${others[0]!.id} (leader ${leader.id}), ${reads} MGETs alongside`);
    expect(torn).toEqual([]);
    expect(reads).toBeGreaterThan(ROUNDS);
    for (const m of c.members) {
      const x = await open(m);
      expect(await run(x, "MGET", a, b)).toBe(`*[$"${ROUNDS}", $"${ROUNDS}"]`);
      expect(await run(x, "LLEN", l)).toBe(`:${ROUNDS}`);
    }
  });

  test("WATCH broken by a write through another member: EXEC answers nil and runs nothing", async () => {
    const [k, n] = ["{w1}k", "{w1}n"];
    const { leader, others } = await roles(k);
    // The watcher and the interfering writer on different members; the writer once through the
    // other non-leader, once through the leader itself.
    for (const [round, via] of [others[1]!, leader].entries()) {
      const watcher = await open(others[0]!);
      const writer = await open(via);
      expect(await run(writer, "SET", k, `before-${round}`)).toBe("+OK");
      expect(await run(watcher, "WATCH", k)).toBe("+OK");
      expect(await run(watcher, "GET", k)).toBe(`$"before-${round}"`);
      expect(await run(writer, "SET", k, `theirs-${round}`)).toBe("+OK");
      expect(await run(watcher, "MULTI")).toBe("+OK");
      expect(await run(watcher, "SET", k, `mine-${round}`)).toBe("+QUEUED");
      expect(await run(watcher, "INCR", n)).toBe("+QUEUED");
      expect(await run(watcher, "EXEC")).toBe("nil(*)");
      for (const m of c.members) {
        const x = await open(m);
        expect(await run(x, "GET", k)).toBe(`$"theirs-${round}"`);
        expect(await run(x, "EXISTS", n)).toBe(":0");
      }
    }
  });

  test("WATCH broken by a DEL through another member, and an unbroken WATCH commits", async () => {
    const [k, other] = ["{w2}k", "{w2}other"];
    const { leader, others } = await roles(k);
    const watcher = await open(others[0]!);
    const writer = await open(others[1]!);
    expect(await run(writer, "SET", k, "v")).toBe("+OK");
    expect(await run(watcher, "WATCH", k)).toBe("+OK");
    expect(await run(writer, "DEL", k)).toBe(":1");
    expect(await run(watcher, "MULTI")).toBe("+OK");
    expect(await run(watcher, "SET", k, "mine")).toBe("+QUEUED");
    expect(await run(watcher, "EXEC")).toBe("nil(*)");
    expect(await run(writer, "EXISTS", k)).toBe(":0");

    // Writes to another key of the same partition, through the leader, do not break it.
    const bystander = await open(leader);
    expect(await run(watcher, "WATCH", k)).toBe("+OK");
    expect(await run(bystander, "SET", other, "x")).toBe("+OK");
    expect(await run(watcher, "MULTI")).toBe("+OK");
    expect(await run(watcher, "SET", k, "mine")).toBe("+QUEUED");
    expect(await run(watcher, "GET", other)).toBe("+QUEUED");
    expect(await run(watcher, "EXEC")).toBe(`*[+OK, $"x"]`);
    for (const m of c.members) expect(await run(await open(m), "GET", k)).toBe(`$"mine"`);
  });

  test("a transaction across partitions answers -CROSSSLOT at EXEC and runs nothing", async () => {
    const [k1, k2] = keysInDistinctPartitions(2, PARTITIONS, "xs-");
    const { others } = await roles(k1!);
    const x = await open(others[0]!);
    expect(await run(x, "MULTI")).toBe("+OK");
    expect(await run(x, "SET", k1!, "1")).toBe("+QUEUED");
    expect(await run(x, "SET", k2!, "2")).toBe("+QUEUED");
    expect(await run(x, "EXEC")).toBe(CROSSSLOT);
    expect(await run(x, "MGET", k1!, k2!)).toBe("*[nil($), nil($)]");
    // The connection is out of the transaction and works on.
    expect(await run(x, "SET", k1!, "after")).toBe("+OK");
  });

  test("WATCH of a key in another partition than the transaction's answers -CROSSSLOT at EXEC", async () => {
    // The EXEC op commits in the transaction's partition log, whose replicas would each compare
    // the watched key's version against their own, unsynchronised copy of the other partition.
    const [watched, written] = keysInDistinctPartitions(2, PARTITIONS, "xw-");
    const { others } = await roles(written!);
    const x = await open(others[0]!);
    const y = await open(others[1]!);
    expect(await run(x, "WATCH", watched!)).toBe("+OK");
    expect(await run(y, "SET", watched!, "changed")).toBe("+OK");
    expect(await run(x, "MULTI")).toBe("+OK");
    expect(await run(x, "SET", written!, "mine")).toBe("+QUEUED");
    expect(await run(x, "EXEC")).toBe(CROSSSLOT);
    expect(await run(y, "EXISTS", written!)).toBe(":0");
    // Unwatched after EXEC, as always: the same transaction alone commits.
    expect(await run(x, "MULTI")).toBe("+OK");
    expect(await run(x, "SET", written!, "mine")).toBe("+QUEUED");
    expect(await run(x, "EXEC")).toBe("*[+OK]");
  });
});
