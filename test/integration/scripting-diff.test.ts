// Differential test of Lua scripting: the same EVAL/EVALSHA/SCRIPT calls go to redis-server 7.0 and
// to FlyDB, and the replies must be equal (conversions both ways, redis.* API, errors with the
// script's name and line, the sandbox). Scripts stay inside what Lua 5.1 and 5.3 print alike.
import { describe, expect, test } from "bun:test";
import { compareSequence, sortWire, useDiffServers } from "../helpers/diff-servers.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

const LIB = [
  "#!lua name=mylib",
  "redis.register_function('setget', function(keys, args) redis.call('set', keys[1], args[1]) return redis.call('get', keys[1]) end)",
  "redis.register_function{function_name='reader', callback=function(keys) return redis.call('get', keys[1]) end,",
  "  flags={'no-writes'}, description='reads a key'}",
].join("\n");

/** Redis lists a library's functions in its hash table's order: arrays of arrays are compared as sets. */
function unordered(w: Wire): Wire {
  if (w.t !== "*") return w;
  const v = w.v.map(unordered);
  return v.length > 0 && v.every((x) => x.t === "*") ? sortWire({ t: "*", v }) : { t: "*", v };
}
const listsUnordered = (argv: readonly string[], reply: Wire) =>
  argv[0] === "FUNCTION" && argv[1] === "LIST" ? unordered(reply) : reply;

const CASES: Record<string, string[][]> = {
  "conversions Lua → reply": [
    ["EVAL", "return 1", "0"],
    ["EVAL", "return 3.99", "0"],
    ["EVAL", "return -2.5", "0"],
    ["EVAL", "return 'x'", "0"],
    ["EVAL", "return true", "0"],
    ["EVAL", "return false", "0"],
    ["EVAL", "return nil", "0"],
    ["EVAL", "return {1, 'a', {2, 3}, false, 4}", "0"],
    ["EVAL", "return {1, 2, nil, 4}", "0"],
    ["EVAL", "return {ok = 'FINE'}", "0"],
    ["EVAL", "return {err = 'MYERR bad thing'}", "0"],
    ["EVAL", "return redis.status_reply('PONG')", "0"],
    ["EVAL", "return redis.error_reply('MY custom')", "0"],
    ["EVAL", "return redis.error_reply('-OTHER x')", "0"],
    ["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k1", "k2", "a1", "a2"],
  ],
  "conversions reply → Lua": [
    ["SET", "s", "hello"],
    ["RPUSH", "l", "a", "b"],
    ["EVAL", "return redis.call('get', KEYS[1])", "1", "s"],
    ["EVAL", "return type(redis.call('get', 'nosuch'))", "0"],
    ["EVAL", "return redis.call('set', 'x', '1')", "0"],
    ["EVAL", "return type(redis.call('set', 'x', '1'))", "0"],
    ["EVAL", "return redis.call('set', 'x', '1')['ok']", "0"],
    ["EVAL", "return redis.call('incr', 'x') + 10", "0"],
    ["EVAL", "return redis.call('lrange', 'l', 0, -1)", "0"],
    ["EVAL", "return redis.call('hgetall', 'nosuch')", "0"],
    ["EVAL", "return redis.pcall('incr', 's')", "0"],
    ["EVAL", "local r = redis.pcall('incr', 's') return r['err']", "0"],
    ["EVAL", "return redis.call('set', 'n', 42.5)", "0"],
    ["GET", "n"],
    ["EVAL", "return redis.call('set', 'n', 7)", "0"],
    ["GET", "n"],
  ],
  errors: [
    ["EVAL", "return redis.call('incr', 's')", "0"],
    ["SET", "s", "x"],
    ["EVAL", "return redis.call('incr', 's')", "0"],
    ["EVAL", "return redis.call('nosuchcommand')", "0"],
    ["EVAL", "return redis.call('get')", "0"],
    ["EVAL", "return redis.call()", "0"],
    ["EVAL", "return redis.call('get', {})", "0"],
    ["EVAL", "return redis.call('multi')", "0"],
    ["EVAL", "return nosuchglobal", "0"],
    ["EVAL", "x = 1", "0"],
    ["EVAL", "error('boom')", "0"],
    ["EVAL", "error({err='CUSTOM boom'})", "0"],
    ["EVAL", "x = = 1", "0"],
    ["EVAL", "return 1", "-1"],
    ["EVAL", "return 1", "x"],
    ["EVAL", "return 1", "2", "a"],
    ["EVAL_RO", "return redis.call('set', 'a', 'b')", "0"],
    ["EVAL_RO", "return redis.call('get', 's')", "0"],
  ],
  sandbox: [
    ["EVAL", "return type(os)", "0"],
    ["EVAL", "return type(io)", "0"],
    ["EVAL", "return type(loadfile)", "0"],
    ["EVAL", "return type(dofile)", "0"],
    ["EVAL", "string.foo = 1", "0"],
    ["EVAL", "return type(string.foo)", "0"],
    ["EVAL", "return redis.sha1hex('')", "0"],
    ["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
    ["EVAL", "return cjson.encode({1, 2, 'three'})", "0"],
    ["EVAL", "return cjson.encode({a = 1})", "0"],
    ["EVAL", 'return cjson.decode(\'[1,2,{"x":"y"}]\')[3].x', "0"],
    ["EVAL", "return cmsgpack.unpack(cmsgpack.pack({1, 2, 'abc'}))", "0"],
    ["EVAL", "return cmsgpack.pack({1, 300, 70000, -5, 'hi'})", "0"],
    ["EVAL", "return {bit.band(12, 10), bit.bor(12, 10), bit.bxor(12, 10), bit.bnot(0), bit.lshift(1, 4)}", "0"],
    ["EVAL", "return bit.tohex(65535)", "0"],
  ],
  "struct: pack, unpack and size as Redis's lua_struct.c": [
    ["EVAL", "return struct.pack('>i2HBbl', 1000, 65535, 7, -3, -2)", "0"],
    ["EVAL", "return struct.pack('<I3i', 0x123456, -1)", "0"],
    ["EVAL", "return {struct.unpack('>i2HBbl', struct.pack('>i2HBbl', 1000, 65535, 7, -3, -2))}", "0"],
    ["EVAL", "return {struct.unpack('<I3i', struct.pack('<I3i', 0x123456, -1))}", "0"],
    ["EVAL", "return struct.pack('!4bi bh', 1, 2, 3, 4)", "0"],
    ["EVAL", "return {struct.unpack('!4bi bh', struct.pack('!4bi bh', 1, 2, 3, 4))}", "0"],
    ["EVAL", "return struct.pack('c3sc0', 'abcdef', 'zz', 'tail')", "0"],
    ["EVAL", "return {struct.unpack('Bc0s', struct.pack('Bc0s', 3, 'xyz', 'end'))}", "0"],
    ["EVAL", "return {struct.unpack('>d', struct.pack('>d', 2.5))}", "0"],
    ["EVAL", "return {struct.unpack('<f', struct.pack('<f', -0.25))}", "0"],
    ["EVAL", "return {struct.unpack('i16', struct.pack('i16', -5))}", "0"],
    ["EVAL", "return {struct.unpack('>h', 'xx\\1\\2', 3)}", "0"],
    ["EVAL", "return {struct.size('>i2Hbl'), struct.size('!8bd'), struct.size('c9x'), struct.size('!bT')}", "0"],
    ["EVAL", "return struct.pack('z', 1)", "0"],
    ["EVAL", "return struct.unpack('>i4', 'ab')", "0"],
    ["EVAL", "return struct.size('s')", "0"],
    ["EVAL", "return struct.pack('c5', 'ab')", "0"],
    ["EVAL", "return struct.unpack('s', 'abc')", "0"],
    ["EVAL", "return struct.pack('i40', 1)", "0"],
    ["EVAL", "return struct.pack('!3i', 1)", "0"],
  ],
  "script cache": [
    ["SCRIPT", "FLUSH"],
    ["SCRIPT", "LOAD", "return 'loaded'"],
    ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
    ["EVALSHA_RO", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["EVALSHA", "short", "0"],
    ["EVAL", "return 'cached by eval'", "0"],
    ["SCRIPT", "EXISTS", "0d7f4b9d1b1a9a2e6d5c8e2d7e6f8a4f2b2c3d1e"],
    ["SCRIPT", "LOAD", "x = = 1"],
    ["SCRIPT", "FLUSH", "bogus"],
    ["SCRIPT", "FLUSH", "ASYNC"],
    ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
    ["SCRIPT", "KILL"],
    ["MULTI"],
    ["EVAL", "return redis.call('incr', KEYS[1])", "1", "ctr"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["EXEC"],
  ],
  functions: [
    ["FUNCTION", "FLUSH"],
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "LOAD", "REPLACE", LIB],
    ["FCALL", "setget", "1", "k", "v1"],
    ["FCALL", "SETGET", "1", "k", "v2"],
    ["FCALL_RO", "setget", "1", "k", "v"],
    ["FCALL_RO", "reader", "1", "k"],
    ["FCALL", "nosuch", "0"],
    ["FCALL", "reader", "x"],
    ["FUNCTION", "LIST"],
    ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"],
    ["FUNCTION", "STATS"],
    ["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('setget', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=bad-name\nredis.register_function('f', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua\nredis.register_function('f', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"],
    ["FUNCTION", "LOAD", "#!lua name=sandbox\nreturn math.random()"],
    ["FUNCTION", "LOAD", "no shebang"],
    ["FUNCTION", "DELETE", "nosuch"],
    ["FUNCTION", "DELETE", "mylib"],
    ["FUNCTION", "LIST"],
    ["FUNCTION", "RESTORE", "garbage"],
    ["FUNCTION", "FLUSH", "bogus"],
  ],
  "shebang flags": [
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'a')", "0"],
    ["EVAL_RO", "#!lua\nreturn redis.call('get', 'a')", "0"],
    ["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    ["EVAL", "#!python\nreturn 1", "0"],
  ],
};

describe("scripting matches redis-server 7.0", () => {
  for (const [name, cmds] of Object.entries(CASES)) {
    test(name, async () => {
      await compareSequence(servers, cmds, listsUnordered);
    });
  }

  test("RESP3 client and redis.setresp(3)", async () => {
    await compareSequence(resp3, [
      ["EVAL", "return true", "0"],
      ["EVAL", "return false", "0"],
      ["EVAL", "return {double = 3.5}", "0"],
      ["EVAL", "return {map = {a = 1}}", "0"],
      ["HSET", "h", "f", "v"],
      ["EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')", "0"],
      ["EVAL", "redis.setresp(3) return redis.call('get', 'nosuch') == nil", "0"],
      ["EVAL", "redis.setresp(4)", "0"],
    ]);
  });

  test("FUNCTION DUMP payloads restore across the two servers, both ways", async () => {
    const { redis, fly } = servers;
    for (const [from, to, lib] of [
      [redis, fly, "fromredis"],
      [fly, redis, "fromfly"],
    ] as const) {
      await from.call("FUNCTION", "FLUSH");
      await to.call("FUNCTION", "FLUSH");
      const code = `#!lua name=${lib}\nredis.register_function('${lib}', function() return '${lib}' end)`;
      await from.call("FUNCTION", "LOAD", code);
      const dump = await from.call("FUNCTION", "DUMP");
      expect(dump.t).toBe("$");
      expect(await to.call("FUNCTION", "RESTORE", (dump as { v: Buffer }).v)).toEqual({ t: "+", v: "OK" });
      expect(await to.call("FCALL", lib, "0")).toEqual({ t: "$", v: Buffer.from(lib) });
    }
  });

  test("EVALSHA pipelined right behind the EVAL that loads the script finds it (ioredis sends both at once)", async () => {
    const script = "return redis.call('incr', KEYS[1])";
    const sha = new Bun.CryptoHasher("sha1").update(script).digest("hex");
    for (const c of [servers.redis, servers.fly]) {
      await c.call("SCRIPT", "FLUSH");
      await c.call("DEL", "pipelined");
      const replies: Wire[] = await Promise.all([
        c.call("EVAL", script, "1", "pipelined"),
        ...Array.from({ length: 5 }, () => c.call("EVALSHA", sha, "1", "pipelined")),
      ]);
      expect(replies).toEqual([1n, 2n, 3n, 4n, 5n, 6n].map((v): Wire => ({ t: ":", v })));
    }
  });

  test("a write the script made before its error stays, as in Redis", async () => {
    await compareSequence(servers, [
      ["EVAL", "redis.call('set', 'w', '1') error('after the write')", "0"],
      ["GET", "w"],
    ]);
  });

  test("a runaway script that wrote is ended by FlyDB's instruction budget and the server keeps serving", async () => {
    const r = await servers.fly.call(
      "EVAL",
      "redis.call('set', 'w', '2') local i = 0 while true do i = i + 1 end",
      "0",
    );
    expect(r.t === "-" && r.v).toContain("instruction budget");
    expect(await servers.fly.call("GET", "w")).toEqual({ t: "$", v: Buffer.from("2") });
    expect(await servers.fly.call("PING")).toEqual({ t: "+", v: "PONG" });
  });
});

describe("a busy script (past busy-reply-threshold), as Redis", () => {
  const LOOP_LIB = "#!lua name=busylib\nredis.register_function('spin', function() while true do end end)";
  const SIDES = ["redis", "fly"] as const;

  /** `c`'s PING reply once it is an error (-BUSY), polled for up to 5 s. */
  async function untilBusy(c: RespClient): Promise<Wire> {
    const deadline = Date.now() + 5_000;
    let reply = await c.call("PING");
    while (reply.t !== "-" && Date.now() < deadline) {
      await Bun.sleep(20);
      reply = await c.call("PING");
    }
    return reply;
  }

  /** A connection that starts `argv` (not awaited) and another one, with busy-reply-threshold 100 ms. */
  async function clients(side: (typeof SIDES)[number]) {
    const [runner, other] = [(await servers.connect())[side], (await servers.connect())[side]];
    await other.call("CONFIG", "SET", "busy-reply-threshold", "100");
    return { runner, other };
  }

  test("other clients get -BUSY, FUNCTION KILL says SCRIPT KILL, which ends a script that has not written", async () => {
    for (const side of SIDES) {
      const { runner, other } = await clients(side);
      const running = runner.call("EVAL", "local i = 0 while true do i = i + 1 end", "0");
      const busy = await untilBusy(other);
      expect(busy).toEqual({
        t: "-",
        v: "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
      });
      expect(await other.call("FUNCTION", "KILL")).toEqual(busy);
      expect(await other.call("SCRIPT", "KILL")).toEqual({ t: "+", v: "OK" });
      const ended = await running;
      expect(ended.t === "-" && ended.v).toStartWith("ERR Script killed by user with SCRIPT KILL...");
      expect(await other.call("PING")).toEqual({ t: "+", v: "PONG" });
      expect(await other.call("SCRIPT", "KILL")).toEqual({ t: "-", v: "NOTBUSY No scripts in execution right now." });
      await other.call("CONFIG", "SET", "busy-reply-threshold", "5000");
    }
  });

  test("FUNCTION KILL ends a busy function, SCRIPT KILL does not, FUNCTION STATS shows it running", async () => {
    const busyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
    for (const side of SIDES) {
      const { runner, other } = await clients(side);
      await other.call("FUNCTION", "LOAD", "REPLACE", LOOP_LIB);
      const running = runner.call("FCALL", "spin", "0");
      expect(await untilBusy(other)).toEqual({ t: "-", v: busyFunction });
      expect(await other.call("SCRIPT", "KILL")).toEqual({ t: "-", v: busyFunction });
      const stats = await other.call("FUNCTION", "STATS");
      const script = stats.t === "*" ? stats.v[1] : undefined;
      expect(script?.t === "*" && script.v.slice(0, 4)).toEqual([
        { t: "$", v: Buffer.from("name") },
        { t: "$", v: Buffer.from("spin") },
        { t: "$", v: Buffer.from("command") },
        { t: "*", v: ["FCALL", "spin", "0"].map((a): Wire => ({ t: "$", v: Buffer.from(a) })) },
      ]);
      expect(await other.call("FUNCTION", "KILL")).toEqual({ t: "+", v: "OK" });
      const ended = await running;
      expect(ended.t === "-" && ended.v).toStartWith("ERR Script killed by user with SCRIPT KILL...");
      expect(await other.call("PING")).toEqual({ t: "+", v: "PONG" });
      await other.call("FUNCTION", "DELETE", "busylib");
      await other.call("CONFIG", "SET", "busy-reply-threshold", "5000");
    }
  });
});
