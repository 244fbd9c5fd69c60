// Differential test of the server-introspection commands against a real redis-server 7.0: CONFIG
// SET/GET round trips and their errors (all or nothing), OBJECT ENCODING following thresholds
// changed at run time, COMMAND GETKEYS, SLOWLOG's shape and trimming, QUIT, and the fixed texts
// (HELP, MEMORY USAGE on a missing key). Replies that depend on timing or on each server's
// internals (durations, CONFIG GET's order, memory figures) are compared by shape only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startDiffServers, sortWire, type DiffServers, type Pair } from "../helpers/diff-servers.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";

let servers: DiffServers;

beforeAll(async () => {
  servers = await startDiffServers();
});
afterAll(async () => {
  await servers?.stop();
});

async function same(argv: string[], pair: Pair = servers): Promise<Wire> {
  const r = await pair.redis.call(...argv);
  const f = await pair.fly.call(...argv);
  expect({ argv, reply: f }).toEqual({ argv, reply: r });
  return r;
}

/** Both servers, with the map/array of CONFIG GET compared as a set of pairs. */
async function sameConfig(pattern: string): Promise<void> {
  const r = await servers.redis.call("CONFIG", "GET", pattern);
  const f = await servers.fly.call("CONFIG", "GET", pattern);
  expect({ pattern, reply: sortWire(f, true) }).toEqual({ pattern, reply: sortWire(r, true) });
}

describe("CONFIG SET / GET", () => {
  test("round trips of run-time parameters, under Redis's names and the old ziplist aliases", async () => {
    await same(["CONFIG", "SET", "hash-max-ziplist-entries", "7", "zset-max-listpack-value", "20"]);
    await sameConfig("hash-max-*");
    await sameConfig("zset-max-*");
    await same(["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    await sameConfig("notify-keyspace-events");
    await same(["CONFIG", "SET", "notify-keyspace-events", "Kgx"]);
    await sameConfig("notify-keyspace-events");
    await same(["CONFIG", "SET", "slowlog-max-len", "64", "timeout", "0", "maxclients", "2000"]);
    await sameConfig("slowlog-max-len");
    await sameConfig("maxclients");
    await same(["CONFIG", "SET", "proto-max-bulk-len", "2mb"]);
    await sameConfig("proto-max-bulk-len");
    await same([
      "CONFIG",
      "SET",
      "hash-max-listpack-entries",
      "512",
      "zset-max-listpack-value",
      "64",
      "proto-max-bulk-len",
      "512mb",
    ]);
    await same(["CONFIG", "SET", "notify-keyspace-events", ""]);
  });

  test("errors: unknown, immutable, duplicate, bad values, arity; the first one found wins", async () => {
    for (const argv of [
      ["CONFIG", "SET", "nosuch", "1"],
      ["CONFIG", "SET", "databases", "3"],
      ["CONFIG", "SET", "daemonize", "no"],
      ["CONFIG", "SET", "timeout", "1", "timeout", "2"],
      ["CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"],
      ["CONFIG", "SET", "maxclients", "abc"],
      ["CONFIG", "SET", "maxclients", "0"],
      ["CONFIG", "SET", "timeout", "-1"],
      ["CONFIG", "SET", "slowlog-log-slower-than", "-5"],
      ["CONFIG", "SET", "proto-max-bulk-len", "1"],
      ["CONFIG", "SET", "notify-keyspace-events", "Z"],
      ["CONFIG", "SET", "timeout", "5", "daemonize", "no", "nosuch", "2"],
      ["CONFIG", "SET", "timeout", "5", "nosuch", "2", "daemonize", "3"],
      // Every name is checked before any value.
      ["CONFIG", "SET", "timeout", "abc", "timeout", "1"],
      ["CONFIG", "SET", "maxmemory", "7", "maxmemory", "8"],
      ["CONFIG", "SET", "replicaof", ""],
      ["CONFIG", "GET", "slaveof"],
      ["CONFIG", "GET", "maxmemory-clients"],
      // A hidden parameter answers by name only.
      ["CONFIG", "GET", "key-load-delay"],
      ["CONFIG", "GET", "key-load-*"],
      ["CONFIG", "SET", "timeout"],
      ["CONFIG", "GET"],
      ["CONFIG", "RESETSTAT", "x"],
      ["CONFIG", "FOO"],
      ["CONFIG", "HELP"],
    ])
      await same(argv);
  });

  test("FlyDB's own key names: the run-time ones change, the start-up ones are immutable", async () => {
    const fly = servers.fly;
    expect(await fly.call("CONFIG", "SET", "slowlog_max_len", "99")).toEqual({ t: "+", v: "OK" });
    const got = await fly.call("CONFIG", "GET", "slowlog-max-len");
    expect(got.t === "*" && got.v[1]!.t === "$" ? got.v[1]!.v.toString() : got).toBe("99");
    expect(await fly.call("CONFIG", "SET", "data_dir", "/tmp/elsewhere")).toEqual({
      t: "-",
      v: "ERR CONFIG SET failed (possibly related to argument 'data_dir') - can't set immutable config",
    });
    // routing_strategy: one of the schema's choices, at run time (src/cluster/read-routing.ts).
    expect(await fly.call("CONFIG", "SET", "routing-strategy", "Round-Robin")).toEqual({ t: "+", v: "OK" });
    const strategy = await fly.call("CONFIG", "GET", "routing_strategy");
    expect(strategy.t === "*" && strategy.v[1]!.t === "$" ? strategy.v[1]!.v.toString() : strategy).toBe("round-robin");
    expect(await fly.call("CONFIG", "SET", "routing-strategy", "random")).toEqual({
      t: "-",
      v:
        "ERR CONFIG SET failed (possibly related to argument 'routing-strategy') - argument must be one of " +
        "key-based, round-robin, least-loaded, locality-aware, hybrid",
    });
    expect(await fly.call("CONFIG", "SET", "routing-strategy", "key-based")).toEqual({ t: "+", v: "OK" });
    const secret = await fly.call("CONFIG", "GET", "cluster_secret");
    expect(secret.t === "*" ? secret.v.length : -1).toBe(2);
    await same(["CONFIG", "SET", "slowlog-max-len", "128"]);
  });

  test("CONFIG GET * restores with CONFIG SET pair by pair (Redis's CONFIG sanity), FlyDB's own keys too", async () => {
    const fly = servers.fly;
    const pairs = async () => {
      const all = await fly.call("CONFIG", "GET", "*");
      if (all.t !== "*") throw new Error(`CONFIG GET * answered ${JSON.stringify(all)}`);
      const out = new Map<string, string>();
      const text = (w: Wire | undefined) => (w && w.t === "$" ? w.v.toString() : JSON.stringify(w));
      for (let i = 0; i < all.v.length; i += 2) out.set(text(all.v[i]), text(all.v[i + 1]));
      return out;
    };
    const before = await pairs();
    // The immutable ones of Redis's own that its test skips as well (tests/unit/introspection.tcl).
    const skip = new Set(["databases", "daemonize", "cluster-enabled", "replicaof", "slaveof", "requirepass"]);
    const refused: string[] = [];
    for (const [k, v] of before) {
      if (skip.has(k)) continue;
      const r = await fly.call("CONFIG", "SET", k, v);
      if (r.t !== "+") refused.push(`${k}=${v}: ${JSON.stringify(r)}`);
    }
    expect(refused).toEqual([]);
    expect(await pairs()).toEqual(before);
    // A start-up key still refuses any other value; true/false is how FlyDB's names spell booleans.
    expect(await fly.call("CONFIG", "SET", "fsync", before.get("fsync") === "no" ? "always" : "no")).toEqual({
      t: "-",
      v: "ERR CONFIG SET failed (possibly related to argument 'fsync') - can't set immutable config",
    });
    expect(await fly.call("CONFIG", "SET", "protected_mode", "maybe")).toEqual({
      t: "-",
      v: "ERR CONFIG SET failed (possibly related to argument 'protected_mode') - argument must be 'yes' or 'no'",
    });
  });

  test("a refused call changes nothing (all or nothing)", async () => {
    await same(["CONFIG", "SET", "slowlog-max-len", "33", "maxclients", "0"]);
    await sameConfig("slowlog-max-len");
  });

  test("requirepass set at run time: new connections must AUTH, this one stays authenticated", async () => {
    await same(["CONFIG", "SET", "requirepass", "s3cret"]);
    const other = await servers.connect();
    try {
      await same(["GET", "nosuch"], other);
      await same(["AUTH", "wrong"], other);
      await same(["AUTH", "s3cret"], other);
      await same(["GET", "nosuch"], other);
      await same(["GET", "nosuch"]);
    } finally {
      await same(["CONFIG", "SET", "requirepass", ""]);
    }
  });

  test("CONFIG REWRITE without a config file is refused as Redis refuses it", async () => {
    await same(["CONFIG", "REWRITE"]);
  });
});

describe("OBJECT ENCODING follows the thresholds in force", () => {
  test("hash, set and zset convert past the configured limits", async () => {
    await same([
      "CONFIG",
      "SET",
      "hash-max-listpack-entries",
      "4",
      "set-max-intset-entries",
      "3",
      "zset-max-listpack-entries",
      "2",
    ]);
    await same(["HSET", "enc:h", "a", "1", "b", "2", "c", "3", "d", "4"]);
    await same(["OBJECT", "ENCODING", "enc:h"]);
    await same(["HSET", "enc:h", "e", "5"]);
    await same(["OBJECT", "ENCODING", "enc:h"]);
    await same(["SADD", "enc:s", "1", "2", "3"]);
    await same(["OBJECT", "ENCODING", "enc:s"]);
    await same(["SADD", "enc:s", "4"]);
    await same(["OBJECT", "ENCODING", "enc:s"]);
    await same(["ZADD", "enc:z", "1", "a", "2", "b"]);
    await same(["OBJECT", "ENCODING", "enc:z"]);
    await same(["ZADD", "enc:z", "3", "c"]);
    await same(["OBJECT", "ENCODING", "enc:z"]);
    await same(["CONFIG", "SET", "hash-max-listpack-value", "3"]);
    await same(["HSET", "enc:h2", "f", "abcd"]);
    await same(["OBJECT", "ENCODING", "enc:h2"]);
    await same([
      "CONFIG",
      "SET",
      "hash-max-listpack-entries",
      "512",
      "hash-max-listpack-value",
      "64",
      "set-max-intset-entries",
      "512",
      "zset-max-listpack-entries",
      "128",
    ]);
    await same(["HSET", "enc:h3", "f", "abcd"]);
    await same(["OBJECT", "ENCODING", "enc:h3"]);
    await same(["DEL", "enc:h", "enc:h2", "enc:h3", "enc:s", "enc:z"]);
  });
});

describe("COMMAND", () => {
  test("GETKEYS and its errors", async () => {
    for (const argv of [
      ["COMMAND", "GETKEYS", "GET", "a"],
      ["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
      ["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
      ["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
      ["COMMAND", "GETKEYS", "PING", "x"],
      ["COMMAND", "GETKEYS", "NOSUCH", "x"],
      ["COMMAND", "GETKEYS", "GET"],
      ["COMMAND", "GETKEYS", "GET", "a", "b"],
      ["COMMAND", "GETKEYSANDFLAGS", "GET", "a"],
      // Scripts may name no keys; a keyless command says so before its arity is checked.
      ["COMMAND", "GETKEYS", "EVAL", "return 1", "0"],
      ["COMMAND", "GETKEYS", "FCALL_RO", "f", "0"],
      ["COMMAND", "GETKEYS", "EVALSHA", "x", "2", "a", "b", "c"],
      ["COMMAND", "GETKEYS", "ECHO", "a", "b"],
      ["COMMAND", "GETKEYS", "SORT_RO", "a", "BY", "w_*"],
      ["COMMAND", "HELP"],
    ])
      await same(argv);
  });

  test("GETKEYSANDFLAGS: each key's access flags as Redis's key specs give them", async () => {
    for (const call of [
      "SET k v",
      "GET k",
      "DEL a b",
      "GETDEL k",
      "INCR k",
      "APPEND k v",
      "LPUSH l a",
      "RPOP l",
      "LMOVE a b LEFT RIGHT",
      "RPOPLPUSH a b",
      "HSET h f v",
      "HGET h f",
      "SADD s a",
      "SMOVE a b m",
      "SINTERSTORE d a b",
      "ZADD z 1 a",
      "ZUNIONSTORE d 2 a b",
      "EXPIRE k 1",
      "RENAME a b",
      "COPY a b",
      "SETNX k v",
      "MSET a 1 b 2",
      "EXISTS a b",
      "PFCOUNT h",
      "PFMERGE d a b",
      "BITOP AND d a b",
      "SORT l STORE d",
      "MSETNX a 1 b 2",
      "TTL k",
      "TYPE k",
      "RESTORE k 0 x",
      "ZPOPMIN z",
      "GEORADIUS g 1 1 1 km STORE d",
      "LMPOP 2 a b LEFT",
      "SET k v GET",
      "SET k v NX",
      "BITFIELD k GET u8 0",
      "BITFIELD k SET u8 0 1",
    ])
      await same(["COMMAND", "GETKEYSANDFLAGS", ...call.split(" ")]);
  });

  test("COMMAND INFO key specs of commands whose keys are at fixed positions, RESP2 and RESP3", async () => {
    const resp3 = await servers.connect();
    await resp3.redis.call("HELLO", "3");
    await resp3.fly.call("HELLO", "3");
    /** The key specs: the ninth field of the command's row. */
    const specs = (w: Wire) => (w.t === "*" && w.v[0]?.t === "*" ? w.v[0].v[8] : w);
    const names = [
      "get",
      "set",
      "mset",
      "del",
      "exists",
      "lmove",
      "rename",
      "copy",
      "sinterstore",
      "sunionstore",
      "bitop",
      "getdel",
      "incr",
      "hset",
      "bitfield",
      "hget",
      "zadd",
      "zrangestore",
      "pfcount",
      "pfmerge",
      "geosearchstore",
      "lcs",
      "ping",
    ];
    for (const pair of [servers, resp3]) {
      for (const name of names) {
        const [r, f] = await Promise.all([pair.redis, pair.fly].map((c) => c.call("COMMAND", "INFO", name)));
        expect({ name, specs: specs(f!) }).toEqual({ name, specs: specs(r!) });
      }
    }
  });

  test("COMMAND LIST names subcommands as container|sub, COUNT counts commands, GETKEYS of subcommands", async () => {
    const names = async (c: RespClient, ...filter: string[]) => {
      const w = await c.call("COMMAND", "LIST", ...filter);
      return w.t === "*" ? w.v.map((n) => (n.t === "$" ? n.v.toString() : "")).sort() : [];
    };
    const [redis, fly] = [await names(servers.redis), await names(servers.fly)];
    for (const n of ["config|get", "memory|usage", "object|encoding", "client|list", "command|getkeys"]) {
      expect(fly).toContain(n);
    }
    // Each subcommand FlyDB lists is Redis's but its own CLIENT ROUTING (docs/API.md, "Read routing"),
    // and every one Redis has of the containers named above.
    expect(fly.filter((n) => n.includes("|") && !redis.includes(n))).toEqual(["client|routing"]);
    for (const container of ["config", "memory", "object", "command", "slowlog", "pubsub"]) {
      const of = (list: string[]) => list.filter((n) => n.startsWith(`${container}|`));
      expect(of(fly)).toEqual(of(redis));
    }
    const count = await servers.fly.call("COMMAND", "COUNT");
    expect(count).toEqual({ t: ":", v: BigInt(fly.filter((n) => !n.includes("|")).length) });
    expect(await names(servers.fly, "FILTERBY", "PATTERN", "config*")).toEqual(
      await names(servers.redis, "FILTERBY", "PATTERN", "config*"),
    );
    for (const call of [
      "MEMORY USAGE k",
      "MEMORY USAGE k SAMPLES 5",
      "MEMORY NOSUCH k",
      "MEMORY USAGE",
      "MEMORY STATS",
      "OBJECT ENCODING k",
      "OBJECT ENCODING",
      "OBJECT HELP",
      "CONFIG GET x",
      "CONFIG NOSUCH x",
    ]) {
      await same(["COMMAND", "GETKEYS", ...call.split(" ")]);
      await same(["COMMAND", "GETKEYSANDFLAGS", ...call.split(" ")]);
    }
  });

  test("COMMAND INFO flags movablekeys where a function finds the keys", async () => {
    const info = await servers.fly.call("COMMAND", "INFO", "zunionstore", "get", "sort_ro");
    const flags = (w: Wire) => (w.t === "*" && w.v[2]!.t === "*" ? w.v[2]!.v.map((f) => (f.t === "+" ? f.v : "")) : []);
    expect(info.t).toBe("*");
    if (info.t !== "*") return;
    expect(flags(info.v[0]!)).toContain("movablekeys");
    expect(flags(info.v[1]!)).not.toContain("movablekeys");
    // Redis finds SORT_RO's one key with a function too (tests/unit/introspection-2.tcl checks it).
    expect(flags(info.v[2]!)).toContain("movablekeys");
  });
});

describe("CLIENT LIST / INFO", () => {
  test("flags= and multi= show MULTI (x, queued count), a blocked client (b) and tracking (t, tB)", async () => {
    const [a, b] = [await servers.connect(), await servers.connect()];
    const fields = async (c: RespClient, id: Wire | undefined) => {
      const list = await c.call("CLIENT", "LIST", "ID", String(id?.t === ":" ? id.v : -1n));
      const line = list.t === "$" ? list.v.toString() : "";
      return ["flags", "multi", "cmd"].map((f) => line.match(new RegExp(` ${f}=(\\S*)`))?.[1]).join(" ");
    };
    const seen: string[][] = [[], []];
    for (const [i, [c, other]] of (
      [
        [a.redis, b.redis],
        [a.fly, b.fly],
      ] as const
    ).entries()) {
      const id = await c.call("CLIENT", "ID");
      await c.call("MULTI");
      await c.call("SET", "flags-k", "1");
      await c.call("INCR", "flags-n");
      seen[i]!.push(await fields(other, id));
      await c.call("EXEC");
      seen[i]!.push(await fields(other, id));
      const blocked = c.call("BLPOP", "flags-empty", "0");
      for (let tries = 0; tries < 200 && !(await fields(other, id)).startsWith("b "); tries++) await Bun.sleep(10);
      seen[i]!.push(await fields(other, id));
      await other.call("RPUSH", "flags-empty", "x");
      await blocked;
      await c.call("CLIENT", "TRACKING", "ON", "BCAST");
      seen[i]!.push(await fields(other, id));
      await c.call("CLIENT", "TRACKING", "OFF");
      await c.call("CLIENT", "TRACKING", "ON");
      seen[i]!.push(await fields(other, id));
      await c.call("CLIENT", "TRACKING", "OFF");
    }
    expect(seen[0]).toEqual(["x 2 incr", "N -1 exec", "b -1 blpop", "tB -1 client|tracking", "t -1 client|tracking"]);
    expect(seen[1]).toEqual(seen[0]!);
  });

  test("sub=, psub=, ssub= count the client's subscriptions; a subscribed client is flagged P", async () => {
    const subscriber = await servers.connect();
    const fields = async (c: RespClient, id: bigint) => {
      const list = await c.call("CLIENT", "LIST", "ID", String(id));
      const line = list.t === "$" ? list.v.toString() : "";
      return ["flags", "sub", "psub", "ssub"].map((f) => line.match(new RegExp(` ${f}=(\\S*)`))?.[1]);
    };
    const ids = await Promise.all([subscriber.redis, subscriber.fly].map((c) => c.call("CLIENT", "ID")));
    const id = (w: Wire | undefined) => (w?.t === ":" ? w.v : -1n);
    const both = () => Promise.all([fields(servers.redis, id(ids[0])), fields(servers.fly, id(ids[1]))]);
    const [before] = await both();
    expect(before).toEqual(["N", "0", "0", "0"]);
    const info = await subscriber.fly.call("CLIENT", "INFO");
    expect(info.t === "$" && info.v.toString()).toContain(" flags=N db=0 sub=0 psub=0 ssub=0 ");
    for (const c of [subscriber.redis, subscriber.fly]) {
      // One name per call: each confirmation is one reply.
      await c.call("SUBSCRIBE", "a");
      await c.call("SUBSCRIBE", "b");
      await c.call("PSUBSCRIBE", "p*");
      await c.call("SSUBSCRIBE", "s");
      await c.call("UNSUBSCRIBE", "b");
    }
    const [r, f] = await both();
    expect(r).toEqual(["P", "1", "1", "1"]);
    expect(f).toEqual(r);
  });
});

describe("SLOWLOG", () => {
  test("entries: id, unix time, µs, argv trimmed to 32 arguments and 128 bytes, addr, name", async () => {
    const long = "x".repeat(200);
    const many = Array.from({ length: 40 }, (_, i) => `a${i}`);
    for (const c of [servers.redis, servers.fly]) {
      await c.call("CONFIG", "SET", "slowlog-log-slower-than", "0");
      await c.call("SLOWLOG", "RESET");
      await c.call("CLIENT", "SETNAME", "slowpoke");
      await c.call("ECHO", long);
      await c.call("EXISTS", ...many);
      await c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000");
    }
    // Ids count every slow command since start (earlier tests differ in timing): compared as steps.
    const shape = (w: Wire) => {
      if (w.t !== "*") return w;
      const ids = w.v.map((e) => (e.t === "*" && e.v[0]!.t === ":" ? Number(e.v[0]!.v) : NaN));
      return w.v.map((e, i) => {
        if (e.t !== "*") return e;
        const [, time, micros, argv, addr, name] = e.v;
        return { step: ids[0]! - ids[i]!, time: time?.t, micros: micros?.t, argv, addr: addr?.t, name };
      });
    };
    const r = await servers.redis.call("SLOWLOG", "GET", "3");
    const f = await servers.fly.call("SLOWLOG", "GET", "3");
    expect(shape(f)).toEqual(shape(r));
    for (const argv of [
      ["SLOWLOG", "GET", "-2"],
      ["SLOWLOG", "GET", "x"],
      ["SLOWLOG", "LEN", "x"],
      ["SLOWLOG", "FOO"],
      ["SLOWLOG", "HELP"],
    ]) {
      await same(argv);
    }
    await same(["SLOWLOG", "RESET"]);
    await same(["SLOWLOG", "LEN"]);
  });
});

describe("introspection texts", () => {
  test("MEMORY and TOUCH replies that do not depend on the allocator", async () => {
    await same(["SET", "mem:s", "abc"]);
    for (const argv of [
      ["MEMORY", "USAGE", "nosuch"],
      ["MEMORY", "USAGE", "mem:s", "SAMPLES"],
      ["MEMORY", "USAGE", "mem:s", "SAMPLES", "x"],
      ["MEMORY", "HELP"],
      ["MEMORY", "FOO"],
      ["TOUCH", "mem:s", "nosuch", "mem:s"],
      ["SHUTDOWN", "ABORT"],
      ["SHUTDOWN", "SAVE", "NOSAVE"],
      ["BGSAVE", "x"],
    ])
      await same(argv);
    const usage = await servers.fly.call("MEMORY", "USAGE", "mem:s");
    expect(usage.t).toBe(":");
    await same(["DEL", "mem:s"]);
  });

  test("INFO has every section Redis has, and RESETSTAT empties commandstats", async () => {
    const info = await servers.fly.call("INFO", "everything");
    const text = info.t === "$" ? info.v.toString() : "";
    for (const s of [
      "Server",
      "Clients",
      "Memory",
      "Persistence",
      "Stats",
      "Replication",
      "CPU",
      "Modules",
      "Errorstats",
      "Commandstats",
      "Cluster",
      "Keyspace",
    ]) {
      expect(text.toLowerCase()).toContain(`# ${s.toLowerCase()}\r\n`);
    }
    expect(text).toContain("cluster_enabled:0");
    await servers.fly.call("CONFIG", "RESETSTAT");
    const stats = await servers.fly.call("INFO", "commandstats");
    // Only the RESETSTAT call itself is counted since.
    expect(stats.t === "$" ? stats.v.toString() : "").toMatch(
      /^# Commandstats\r\ncmdstat_config\|resetstat:calls=1,[^\r]*\r\n$/,
    );
  });

  test("OBJECT IDLETIME counts from the last access; TTL, TYPE and EXISTS do not touch", async () => {
    // Whole seconds on a clock of its own in each server: compared with a second's tolerance.
    const idle = async (c: RespClient) => {
      const r = await c.call("OBJECT", "IDLETIME", "idle:k");
      return r.t === ":" ? Number(r.v) : Number.NaN;
    };
    await same(["SET", "idle:k", "v"]);
    await same(["OBJECT", "IDLETIME", "idle:none"]);
    for (const c of [servers.redis, servers.fly]) expect(await idle(c)).toBeLessThanOrEqual(1);
    await Bun.sleep(2100);
    for (const argv of [
      ["TTL", "idle:k"],
      ["TYPE", "idle:k"],
      ["EXISTS", "idle:k"],
    ])
      await same(argv);
    for (const c of [servers.redis, servers.fly]) expect(await idle(c)).toBeGreaterThanOrEqual(2);
    await same(["GET", "idle:k"]);
    for (const c of [servers.redis, servers.fly]) expect(await idle(c)).toBeLessThanOrEqual(1);
    await same(["OBJECT", "FREQ", "idle:k"]);
    await same(["DEL", "idle:k"]);
  });

  test("LATENCY basics", async () => {
    for (const argv of [
      ["LATENCY", "LATEST"],
      ["LATENCY", "HISTORY", "command"],
      ["LATENCY", "HISTORY"],
      ["LATENCY", "RESET"],
      ["LATENCY", "RESET", "command"],
      ["LATENCY", "DOCTOR"],
      ["LATENCY", "FOO"],
      ["LATENCY", "HELP"],
      ["CONFIG", "SET", "latency-monitor-threshold", "100"],
      ["CONFIG", "SET", "latency-monitor-threshold", "0"],
    ])
      await same(argv);
  });

  test("QUIT answers +OK before the connection closes", async () => {
    const extra = await servers.connect();
    await same(["QUIT"], extra);
  });
});
