// Scripts and functions on a 3-node loopback cluster of dist/flydb: a script sent to a node that does
// not lead its keys' partition runs there once (through the leader's log), the body travels in the
// op (EVALSHA works on a node whose replicas never saw SCRIPT LOAD), keys in two slots are refused,
// an undeclared key of another partition is an error, FUNCTION libraries reach every member
// and survive kill -9 and a restart, and a keyless script (numkeys 0) runs through any node in the
// partition of the first key it touches (src/cluster/keyless-script.ts), applied once; a looping
// keyless script makes its node answer -BUSY while the cluster goes on, and SCRIPT KILL ends it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { keysInDistinctPartitions } from "../helpers/cluster-harness.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 4;
let c: LoopbackCluster;

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "lua" });
  await c.settled();
}, 90_000);

afterAll(async () => {
  await c?.stop();
});

async function nonLeader(key: string): Promise<LoopbackMember> {
  const leader = await c.leaderOf(key);
  return c.members.find((m) => m !== leader && m.up)!;
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    (v) => `no error: ${JSON.stringify(v)}`,
    (e: Error) => e.message,
  );

describe("scripting in a cluster", () => {
  test("EVAL with hash-tagged keys through a node that does not lead them: applied once, read everywhere", async () => {
    const via = c.client(await nonLeader("{acct}:balance"));
    const script = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('incrby', KEYS[2], ARGV[2])";
    expect(await via.eval(script, 2, "{acct}:owner", "{acct}:balance", "ann", "5")).toBe(5);
    expect(await via.eval(script, 2, "{acct}:owner", "{acct}:balance", "bob", "7")).toBe(12);
    for (const m of c.members) {
      expect(await c.client(m).mget("{acct}:owner", "{acct}:balance")).toEqual(["bob", "12"]);
    }
  });

  test("EVALSHA after SCRIPT LOAD on the node the client talks to, whoever leads the key", async () => {
    const m = await nonLeader("{sha}:k");
    const sha = (await c.client(m).call("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")) as string;
    expect(await c.client(m).evalsha(sha, 1, "{sha}:k")).toBe(1);
    expect(await c.client(m).evalsha(sha, 1, "{sha}:k")).toBe(2);
  });

  test("keys of two slots: CROSSSLOT; an undeclared key of another partition: refused inside the script", async () => {
    const [a, b] = keysInDistinctPartitions(2, PARTITIONS, "lua-x");
    const via = c.client(c.members[0]!);
    expect(await errorOf(via.eval("return 1", 2, a!, b!))).toContain("CROSSSLOT");
    expect(await errorOf(via.eval("return redis.call('get', ARGV[1])", 1, a!, b!))).toContain(
      "Script attempted to access a non local key in a cluster node",
    );
  });

  test("FUNCTION LOAD reaches every member and survives kill -9 and restart", async () => {
    const code =
      "#!lua name=counter\nredis.register_function('bump', function(keys) return redis.call('incr', keys[1]) end)";
    expect(await c.client(c.members[1]!).call("FUNCTION", "LOAD", code)).toBe("counter");
    for (const m of c.members) expect(await c.client(m).call("FCALL", "bump", "1", "{fn}:n")).toBeGreaterThan(0);
    const victim = c.members[2]!;
    await c.kill9(victim);
    await c.restart(victim);
    await c.settled();
    expect(await c.client(victim).call("FCALL", "bump", "1", "{fn}:n")).toBe(4);
    const list = (await c.client(victim).call("FUNCTION", "LIST")) as unknown[][];
    expect(list.map((lib) => lib[1])).toEqual(["counter"]);
  });

  test("keyless EVAL/FCALL through every node: runs, follows its first key's partition, applied once", async () => {
    const keys = keysInDistinctPartitions(PARTITIONS, PARTITIONS, "keyless");
    const incr = "return redis.call('incr', ARGV[1])";
    for (const [i, m] of c.members.entries()) {
      const via = c.client(m);
      expect(await via.eval("return {1, redis.call('ping'), ARGV[1]}", 0, "a")).toEqual([1, "PONG", "a"]);
      // Every partition's key through every node: whichever partition the script starts in.
      for (const k of keys) expect(await via.eval(incr, 0, k)).toBe(i + 1);
      expect(await via.call("EVAL_RO", "return redis.call('get', ARGV[1])", "0", keys[1]!)).toBe(String(i + 1));
      // A read before its first key does not pin it (the suite's "Scripts can run non-deterministic commands").
      const rk = "redis.pcall('randomkey') return redis.pcall('set', ARGV[1], 'ciao')";
      for (const k of keys) expect(await via.eval(rk, 0, `${k}:s`)).toBe("OK");
    }
    for (const m of c.members) expect(await c.client(m).mget(keys[0]!, keys[3]!)).toEqual(["3", "3"]);
    // Its second key in another partition: Redis's non-local error, as with declared keys.
    const two = "redis.call('set', ARGV[1], 'x') return redis.call('set', ARGV[2], 'x')";
    expect(await errorOf(c.client(c.members[0]!).eval(two, 0, keys[0]!, keys[1]!))).toContain(
      "Script attempted to access a non local key in a cluster node",
    );
    const code =
      "#!lua name=keyless\nredis.register_function('bumpk', function(_, args) return redis.call('incr', args[1]) end)\n" +
      "redis.register_function{function_name='getk', callback=function(_, args) return redis.call('get', args[1]) end," +
      " flags={'no-writes'}}";
    await c.client(c.members[0]!).call("FUNCTION", "LOAD", code);
    for (const m of c.members) expect(await c.client(m).call("FCALL", "bumpk", "0", keys[2]!)).toBeGreaterThan(3);
    expect(await c.client(c.members[1]!).call("FCALL_RO", "getk", "0", keys[2]!)).toBe("6");
  });

  test("a keyless script that loops: -BUSY on its node, every partition keeps taking writes, SCRIPT KILL ends it", async () => {
    // A node that leads a partition: a keyless script starts in one it leads (keyless-script.ts).
    const leader = await c.leaderOf("busy");
    const node = c.client(leader);
    const runner = node.duplicate();
    try {
      await node.call("CONFIG", "SET", "busy-reply-threshold", "100");
      const running = errorOf(runner.eval("local i = 0 while true do i = i + 1 end", 0));
      const deadline = Date.now() + 5_000;
      let busy = await errorOf(node.ping());
      while (!busy.startsWith("BUSY") && Date.now() < deadline) {
        await Bun.sleep(20);
        busy = await errorOf(node.ping());
      }
      expect(busy).toBe("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
      // The script runs in slices on its node: Raft heartbeats and apply go on between them.
      const other = c.client(c.members.find((m) => m !== leader && m.up)!);
      for (const k of keysInDistinctPartitions(PARTITIONS, PARTITIONS, "busy"))
        expect(await other.set(k, "v")).toBe("OK");
      expect(await node.call("SCRIPT", "KILL")).toBe("OK");
      expect(await running).toStartWith("ERR Script killed by user with SCRIPT KILL...");
      expect(await node.ping()).toBe("PONG");
    } finally {
      runner.disconnect();
      await node.call("CONFIG", "SET", "busy-reply-threshold", "5000");
    }
  });
});
