// Differential test of keyspace notifications against redis-server 7.0: a subscriber to
// __key*__:* on each server, the same command script on a second connection, and the bytes the
// subscriber receives (every keyspace and keyevent message, in order) must be identical.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "bun:test";
import { useRawDiffServers } from "../helpers/diff-servers.ts";
import { startFlyDB } from "../helpers/processes.ts";
import { RawConnection } from "../helpers/raw-socket.ts";
import { encodeCommand } from "../helpers/resp-client.ts";

const servers = useRawDiffServers();
const open = (port: number) => servers.open(port);

const END = "__end__";

/** Sends the commands one at a time (each reply awaited) and then `PING __end__`; all bytes up to its reply. */
async function run(c: RawConnection, cmds: readonly (readonly string[])[]): Promise<string> {
  const before = c.received().length;
  for (const argv of [...cmds, ["PING", END]]) {
    const mark = c.received().length;
    await c.write(encodeCommand(argv));
    await c.readUntil((t) => t.length > mark);
  }
  const text = await c.readUntil((t) => t.endsWith(`${END}\r\n`));
  return text.slice(before);
}

/** The messages a __key*__:* subscriber receives while `script` runs with notify-keyspace-events `flags`. */
type Script = readonly (readonly string[])[];

async function events(port: number, flags: string, script: Script, waitMs = 0): Promise<string> {
  const [sub, cli] = await Promise.all([open(port), open(port)]);
  await run(cli, [["FLUSHALL"], ["CONFIG", "SET", "notify-keyspace-events", flags]]);
  await run(sub, [["PSUBSCRIBE", "__key*__:*"]]);
  const mark = sub.received().length;
  await run(cli, script);
  if (waitMs > 0) await Bun.sleep(waitMs);
  await run(sub, []);
  await run(cli, [["CONFIG", "SET", "notify-keyspace-events", ""]]);
  return sub.received().slice(mark);
}

async function same(flags: string, script: readonly (readonly string[])[], waitMs = 0): Promise<string> {
  const expected = await events(servers.redis.port, flags, script, waitMs);
  expect(await events(servers.fly.port, flags, script, waitMs)).toBe(expected);
  return expected;
}

const GENERIC_AND_STRINGS = [
  ["SET", "s", "1"],
  ["SET", "s", "2", "EX", "100"],
  ["SET", "s", "3", "NX"],
  ["SETNX", "n", "x"],
  ["SETEX", "t", "100", "v"],
  ["GETSET", "s", "4"],
  ["MSET", "a", "1", "b", "2"],
  ["INCR", "a"],
  ["DECRBY", "a", "5"],
  ["INCRBYFLOAT", "b", "1.5"],
  ["APPEND", "s", "x"],
  ["SETRANGE", "s", "1", "yz"],
  ["SETRANGE", "s", "1", ""],
  ["EXPIRE", "s", "100"],
  ["EXPIRE", "nosuch", "100"],
  ["PERSIST", "s"],
  ["PERSIST", "s"],
  ["GETEX", "t", "PERSIST"],
  ["GETEX", "t", "EX", "50"],
  ["RENAME", "s", "s2"],
  ["COPY", "s2", "c"],
  ["GETDEL", "c"],
  ["DEL", "a", "nosuch", "b"],
  ["EXPIRE", "n", "-1"],
  ["UNLINK", "t", "s2"],
  ["MSET", "r1", "1", "r2", "2"],
  ["RENAME", "r1", "r2"],
  ["COPY", "r2", "r3"],
  ["COPY", "r2", "r3", "REPLACE"],
  ["RENAMENX", "r2", "r3"],
  ["SETBIT", "bm", "7", "1"],
  ["SETBIT", "bm", "7", "1"],
  ["BITOP", "OR", "bo", "bm"],
  ["BITOP", "OR", "bo", "nosuch"],
  ["BITFIELD", "bf", "SET", "u8", "0", "5"],
  ["PFADD", "hll", "a", "b"],
  ["PFADD", "hll", "a"],
  ["PFMERGE", "hll2", "hll"],
];

const COLLECTIONS = [
  ["LPUSH", "l", "a", "b", "c"],
  ["RPUSH", "l", "d"],
  ["LPUSHX", "nol", "x"],
  ["LSET", "l", "0", "z"],
  ["LINSERT", "l", "BEFORE", "z", "y"],
  ["LREM", "l", "1", "a"],
  ["LTRIM", "l", "0", "1"],
  ["LMOVE", "l", "l2", "LEFT", "RIGHT"],
  ["RPOPLPUSH", "l2", "l2"],
  ["LPOP", "l"],
  ["RPOP", "l2", "5"],
  ["HSET", "h", "f", "1", "g", "2"],
  ["HSETNX", "h", "f", "x"],
  ["HINCRBY", "h", "f", "2"],
  ["HINCRBYFLOAT", "h", "g", "0.5"],
  ["HDEL", "h", "f", "nosuch"],
  ["HDEL", "h", "g"],
  ["SADD", "st", "a", "b", "c"],
  ["SADD", "st", "a"],
  ["SREM", "st", "a", "zz"],
  ["SMOVE", "st", "st2", "b"],
  ["SUNIONSTORE", "su", "st", "st2"],
  ["SINTERSTORE", "su", "nosuch"],
  ["SPOP", "st"],
  ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
  ["ZADD", "z", "1", "a"],
  ["ZINCRBY", "z", "5", "a"],
  ["ZADD", "z", "INCR", "1", "b"],
  ["ZREM", "z", "b"],
  ["ZUNIONSTORE", "zu", "1", "z"],
  ["ZRANGESTORE", "zr", "z", "0", "0"],
  ["ZREMRANGEBYSCORE", "zu", "0", "4"],
  ["ZPOPMIN", "z"],
  ["ZPOPMAX", "z", "5"],
  ["ZREMRANGEBYRANK", "zu", "0", "-1"],
  ["RPUSH", "sl", "3", "1", "2"],
  ["SORT", "sl", "STORE", "so"],
  ["SORT", "nosuch", "STORE", "so"],
  ["GEOADD", "g", "13.36", "38.11", "Palermo", "15.08", "37.50", "Catania"],
  ["GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
];

test("generic and string commands with KEA: every keyspace and keyevent message, in order", async () => {
  const out = await same("KEA", GENERIC_AND_STRINGS);
  expect(out).toContain("__keyevent@0__:rename_from");
});

test("list, hash, set and sorted set commands with KEA", async () => {
  const out = await same("KEA", COLLECTIONS);
  expect(out).toContain("__keyevent@0__:zincr");
});

test("stream commands with KEA and Kt (class t)", async () => {
  const script: Script = [
    ["XADD", "x", "1-0", "f", "v"],
    ["XADD", "x", "MAXLEN", "1", "2-0", "f", "v"],
    ["XADD", "nox", "NOMKSTREAM", "1-0", "f", "v"],
    ["XGROUP", "CREATE", "x", "g", "0"],
    ["XGROUP", "CREATE", "y", "g", "$", "MKSTREAM"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "x", ">"],
    ["XGROUP", "CREATECONSUMER", "x", "g", "bob"],
    ["XCLAIM", "x", "g", "carol", "0", "2-0"],
    ["XAUTOCLAIM", "x", "g", "dave", "0", "0"],
    ["XACK", "x", "g", "2-0"],
    ["XGROUP", "SETID", "x", "g", "0"],
    ["XGROUP", "DELCONSUMER", "x", "g", "bob"],
    ["XGROUP", "DESTROY", "x", "g"],
    ["XSETID", "x", "9-0"],
    ["XDEL", "x", "2-0"],
    ["XADD", "x", "10-0", "f", "v"],
    ["XTRIM", "x", "MAXLEN", "0"],
    ["DEL", "x"],
  ];
  await same("KEA", script);
  await same("Kt", script);
});

test("class and channel filters: Elg, K$, Kh, Ez", async () => {
  for (const flags of ["Elg", "K$", "Kh", "Ez"]) await same(flags, [...GENERIC_AND_STRINGS, ...COLLECTIONS]);
});

test("expired events from the expiry sweep (Kx)", async () => {
  // One key: Redis's sweep visits several in hash-table order.
  const out = await same(
    "KEx",
    [
      ["SET", "e1", "v", "PX", "20"],
      ["SET", "p", "v", "PX", "100000"],
    ],
    1000,
  );
  expect(out).toContain("__keyevent@0__:expired");
});

test("databases: SELECT, MOVE and COPY … DB report the right database", async () => {
  await same("KEA", [
    ["SELECT", "3"],
    ["SET", "k", "v"],
    ["MOVE", "k", "4"],
    ["SELECT", "4"],
    ["COPY", "k", "k2", "DB", "5"],
    ["SELECT", "0"],
  ]);
});

test("new-key events (n) come before the write's own events, once per created key", async () => {
  const out = await same("KEAn", [...GENERIC_AND_STRINGS, ...COLLECTIONS]);
  expect(out).toContain("__keyevent@0__:new");
  await same("En", [
    ["SET", "foo", "bar"],
    ["SET", "foo", "baz"],
    ["SET", "bar", "bar"],
    ["RPOPLPUSH", "nosuch", "x"],
  ]);
});

test("off by default and with no K or E", async () => {
  expect(await same("", [["SET", "a", "1"]])).toBe("*2\r\n$4\r\npong\r\n$7\r\n__end__\r\n");
  await same("A", [["SET", "a", "1"]]);
});

test("a restart replays the log without publishing its writes' events again", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "flydb-kevents-"));
  const args = ["--fsync", "no", "--notify-keyspace-events", "KEA"];
  try {
    const first = await startFlyDB({ args, dataDir, nodeId: "kevents" });
    const cli = await RawConnection.connect(first.port);
    await run(cli, [
      ["SET", "before", "1"],
      ["LPUSH", "l", "a"],
    ]);
    cli.close();
    // kill -9: data.db has not been committed, so the next start replays these writes from the log.
    await first.kill9();
    const second = await startFlyDB({ args, dataDir, nodeId: "kevents" });
    try {
      const [sub, w] = await Promise.all([RawConnection.connect(second.port), RawConnection.connect(second.port)]);
      await run(sub, [["PSUBSCRIBE", "__keyevent@0__:*"]]);
      const mark = sub.received().length;
      await run(w, [["SET", "after", "2"]]);
      await run(sub, []);
      expect(sub.received().slice(mark)).toBe(
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:set\r\n$5\r\nafter\r\n" +
          "*2\r\n$4\r\npong\r\n$7\r\n__end__\r\n",
      );
      sub.close();
      w.close();
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
