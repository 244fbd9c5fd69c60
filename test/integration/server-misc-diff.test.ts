// SUBSTR, RESTORE-ASKING, the replication commands, LOLWUT, MODULE, BGREWRITEAOF and DEBUG against a
// real redis-server (DEBUG and MODULE enabled there, as the suites that use them run it): replies
// must match exactly where Redis's are deterministic. Where FlyDB answers differently on purpose
// (it replicates through Raft and loads no modules) the reply's shape is checked instead.
import { beforeAll, expect, test } from "bun:test";
import { useDiffServers } from "../helpers/diff-servers.ts";
import { show, type RespClient, type Wire } from "../helpers/resp-client.ts";

const { servers } = useDiffServers({ redisArgs: ["--enable-debug-command", "yes", "--enable-module-command", "yes"] });
let redis: RespClient;
let fly: RespClient;

beforeAll(() => {
  ({ redis, fly } = servers);
});

const both = async (...argv: string[]) => [show(await redis.call(...argv)), show(await fly.call(...argv))] as const;
const same = async (...argv: string[]) => {
  const [r, f] = await both(...argv);
  expect(`${argv.join(" ")} -> ${f}`).toBe(`${argv.join(" ")} -> ${r}`);
};
const error = (w: Wire): string => (w.t === "-" ? w.v : `not an error: ${show(w)}`);

test("replies that match redis-server exactly", async () => {
  const setup = [
    ["FLUSHALL"],
    ["SET", "s", "hello world"],
    ["RPUSH", "l", "a", "b"],
    ["SADD", "set", "1", "2"],
    ["HSET", "h", "f", "v"],
  ];
  for (const c of setup) await both(...c);
  const dump = await redis.call("DUMP", "s");
  const cases: string[][] = [
    ["SUBSTR", "s", "0", "4"],
    ["SUBSTR", "s", "-5", "-1"],
    ["SUBSTR", "s", "5", "1"],
    ["SUBSTR", "nokey", "0", "1"],
    ["SUBSTR", "l", "0", "1"],
    ["SUBSTR", "s", "x", "1"],
    ["SUBSTR", "s", "0"],
    ["RESTORE-ASKING", "s"],
    ["RESTORE-ASKING", "r", "0", "bad payload"],
    ["WAIT", "0", "0"],
    ["WAIT", "1", "20"],
    ["WAIT", "x", "1"],
    ["WAIT", "1", "x"],
    ["WAIT", "1", "-1"],
    ["WAIT", "1"],
    ["REPLICAOF", "no", "one"],
    ["REPLICAOF", "NO", "ONE"],
    ["SLAVEOF", "no", "one"],
    ["REPLICAOF", "127.0.0.1", "x"],
    ["REPLICAOF", "127.0.0.1", "70000"],
    ["REPLICAOF", "a"],
    ["ROLE", "x"],
    ["LOLWUT", "VERSION", "x"],
    ["MODULE", "LIST"],
    ["MODULE", "HELP"],
    ["MODULE", "UNLOAD", "x"],
    ["MODULE", "foo"],
    ["MODULE", "LIST", "x"],
    ["MODULE", "LOAD"],
    ["MODULE"],
    ["BGREWRITEAOF"],
    ["DEBUG", "foo"],
    ["DEBUG"],
    ["DEBUG", "OBJECT", "nokey"],
    ["DEBUG", "OBJECT"],
    ["DEBUG", "SLEEP", "0"],
    ["DEBUG", "SLEEP", "x"],
    ["DEBUG", "RELOAD"],
    ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ["DEBUG", "SET-ACTIVE-EXPIRE"],
    ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"],
    ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"],
    ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "x"],
    ["DEBUG", "LISTPACK", "h"],
    ["DEBUG", "LISTPACK", "s"],
    ["DEBUG", "LISTPACK", "nokey"],
    ["DEBUG", "CHANGE-REPL-ID"],
  ];
  for (const c of cases) await same(...c);
  // RESTORE-ASKING loads what RESTORE loads.
  expect(dump.t).toBe("$");
  const payload = (dump as { v: Buffer }).v;
  for (const c of [redis, fly]) expect(show(await c.call("RESTORE-ASKING", "copy", "0", payload))).toBe("+OK");
  await same("GET", "copy");
  await same("DEBUG", "SET-ACTIVE-EXPIRE", "1");
});

test("DEBUG OBJECT reports Redis's encoding and serialized length", async () => {
  await both("FLUSHALL");
  const setup = [
    ["SET", "str", "bar"],
    ["SET", "num", "12345"],
    ["SADD", "ints", "1", "2", "3"],
    ["SADD", "words", "a", "b"],
    ["ZADD", "z", "1", "a", "2", "b"],
    ["HSET", "h", "f", "v"],
  ];
  for (const c of setup) await both(...c);
  const fields = (w: Wire) => {
    const line = w.t === "+" ? w.v : show(w);
    const pairs = line.split(" ").map((kv) => kv.split(":"));
    return Object.fromEntries(pairs.filter((kv) => kv[0] === "encoding" || kv[0] === "serializedlength"));
  };
  for (const key of ["str", "num", "ints", "words", "z", "h"]) {
    expect(fields(await fly.call("DEBUG", "OBJECT", key))).toEqual(fields(await redis.call("DEBUG", "OBJECT", key)));
  }
  const line = /^\+Value at:\S+ refcount:1 encoding:embstr serializedlength:4 lru:\d+ lru_seconds_idle:\d+$/;
  expect(show(await fly.call("DEBUG", "OBJECT", "str"))).toMatch(line);
});

test("DEBUG SLEEP and WAIT for a replica that cannot come take their time; WAIT 1 0 does not block", async () => {
  let t = performance.now();
  expect(show(await fly.call("DEBUG", "SLEEP", "0.2"))).toBe("+OK");
  expect(performance.now() - t).toBeGreaterThanOrEqual(190);
  t = performance.now();
  expect(show(await fly.call("WAIT", "1", "150"))).toBe(":0");
  expect(performance.now() - t).toBeGreaterThanOrEqual(140);
  expect(show(await fly.call("WAIT", "1", "0"))).toBe(":0");
});

test("where FlyDB differs on purpose: Raft replication, no modules, its own LOLWUT", async () => {
  expect(show(await fly.call("ROLE"))).toBe(show(await redis.call("ROLE")).replace(/:\d+/, ":0"));
  // Redis names itself the same way for LOLWUT versions without art.
  expect(show(await redis.call("LOLWUT", "VERSION", "1"))).toMatch(/^\$"Redis ver\. \S+\\n"$/);
  expect(show(await fly.call("LOLWUT", "VERSION", "1"))).toMatch(/^\$"FlyDB ver\. \S+\\n"$/);
  const refused = [
    ["FAILOVER"],
    ["REPLICAOF", "127.0.0.1", "6379"],
    ["SLAVEOF", "127.0.0.1", "6379"],
    ["PSYNC", "?", "-1"],
    ["REPLCONF", "listening-port", "1"],
  ];
  for (const c of refused) {
    expect(error(await fly.call(...c))).toMatch(/^ERR \S+ is not supported: FlyDB replicates through Raft/);
  }
  // SYNC gives the RDB file alone (for redis-cli --rdb), no replication stream after it.
  expect(show(await fly.call("SYNC"))).toMatch(/^\$"REDIS0010/);
  expect(error(await fly.call("MODULE", "LOAD", "/x.so"))).toMatch(/^ERR Error loading the extension/);
  const unknown = "ERR unknown subcommand or wrong number of arguments for 'SEGFAULT'. Try DEBUG HELP.";
  expect(error(await fly.call("DEBUG", "SEGFAULT"))).toBe(unknown);
  const count = await fly.call("COMMAND", "COUNT");
  expect(count.t === ":" && Number(count.v)).toBeGreaterThanOrEqual(180);
});
