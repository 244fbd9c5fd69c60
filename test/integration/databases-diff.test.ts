// Differential test of databases against redis-server 7.0: SELECT, MOVE, SWAPDB, COPY … DB,
// FLUSHDB/FLUSHALL and the per-database DBSIZE, KEYS and INFO keyspace, in random sequences over
// a few keys and databases, plus the WATCH cases of Redis's multi.tcl (a watched key is a
// (database, key) pair; SWAPDB and FLUSHDB touch it as Redis does).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareSequence, sortWire, text, useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import type { Wire } from "../helpers/resp-client.ts";

const { servers } = useDiffServers();

type Cmd = string[];
const c = fc.constantFrom;
const key = c("k1", "k2", "{k1}x");
const db = c("0", "1", "2", "3", "15", "16", "-1", "x", "99999999999");
const cmd = (...parts: (fc.Arbitrary<string> | string)[]): fc.Arbitrary<Cmd> =>
  fc.tuple(...parts.map((p) => (typeof p === "string" ? fc.constant(p) : p)));

const commands: fc.Arbitrary<Cmd>[] = [
  cmd("SELECT", db),
  cmd("SET", key, c("a", "b", "1")),
  cmd("GET", key),
  cmd("RPUSH", key, c("x", "y")),
  cmd("SADD", key, c("x", "y")),
  cmd("HSET", key, "f", c("x", "y")),
  cmd("ZADD", key, c("1", "2"), c("x", "y")),
  cmd("TYPE", key),
  cmd("DEL", key),
  cmd("EXISTS", key),
  cmd("INCR", key),
  cmd("EXPIRE", key, "1000"),
  cmd("TTL", key),
  cmd("MOVE", key, db),
  cmd("SWAPDB", db, db),
  cmd("COPY", key, key),
  cmd("COPY", key, key, "DB", db),
  cmd("COPY", key, key, "DB", db, "REPLACE"),
  cmd("RENAME", key, key),
  cmd("FLUSHDB"),
  cmd("DBSIZE"),
  cmd("KEYS", "*"),
  cmd("SCAN", "0", "COUNT", "100"),
  cmd("RANDOMKEY"),
  cmd("INFO", "keyspace"),
  cmd("CLIENT", "INFO"),
  cmd("LRANGE", key, "0", "-1"),
  cmd("SMEMBERS", key),
  cmd("HGETALL", key),
];

/** What differs between the servers by design: avg_ttl (FlyDB keeps none), CLIENT INFO's other fields, orders. */
function normalise(argv: readonly string[], w: Wire): unknown {
  const name = argv[0]!.toLowerCase();
  if (name === "info") return text(w)?.replace(/avg_ttl=\d+/g, "avg_ttl=_");
  if (name === "client") return text(w)?.match(/ db=\d+ /)?.[0];
  if (name === "scan" && w.t === "*") return sortWire(w.v[1]!);
  if (name === "keys" || name === "smembers") return sortWire(w);
  if (name === "hgetall") return sortWire(w, true);
  if (name === "randomkey" || name === "hello") return w.t;
  return w;
}

async function run(pair: Pair, cmds: Cmd[]): Promise<void> {
  for (const p of [pair.redis, pair.fly]) await p.call("SELECT", "0");
  await compareSequence(pair, cmds, normalise);
  // Every database ends up the same on both.
  for (let i = 0; i < 16; i++) {
    const dump = async (p: typeof pair.redis) => {
      await p.call("SELECT", String(i));
      return sortWire(await p.call("KEYS", "*"));
    };
    expect({ db: i, keys: await dump(pair.fly) }).toEqual({ db: i, keys: await dump(pair.redis) });
  }
}

const RUNS = Number(process.env.DATABASES_DIFF_RUNS ?? 40);

describe("databases reply like redis-server 7.0", () => {
  test("random sequences of SELECT, MOVE, SWAPDB, COPY DB, FLUSHDB and per-database reads", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(...commands), { minLength: 10, maxLength: 50 }), (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);

  test("FLUSHALL empties every database; FLUSHDB only the selected one", async () => {
    await run(servers, [
      ["SELECT", "2"],
      ["SET", "a", "1"],
      ["SELECT", "3"],
      ["SET", "a", "1"],
      ["FLUSHDB"],
      ["DBSIZE"],
      ["SELECT", "2"],
      ["DBSIZE"],
      ["INFO", "keyspace"],
      ["FLUSHALL"],
      ["DBSIZE"],
      ["INFO", "keyspace"],
    ]);
  });

  test("SELECT inside MULTI switches the database of the commands after it, and stays selected", async () => {
    await run(servers, [
      ["MULTI"],
      ["SET", "a", "0"],
      ["SELECT", "4"],
      ["SET", "a", "4"],
      ["SELECT", "99"],
      ["GET", "a"],
      ["EXEC"],
      ["GET", "a"],
      ["CLIENT", "INFO"],
      ["SELECT", "0"],
      ["GET", "a"],
    ]);
  });

  test("pipelined SELECTs apply to exactly the commands sent after them", async () => {
    const script: Cmd[] = [];
    for (let i = 0; i < 20; i++)
      script.push(["SELECT", String(i % 4)], ["SET", `p${i % 3}`, String(i)], ["INCR", "n"], ["GET", "p0"]);
    // Not INFO or CLIENT INFO: connection commands run at once, ahead of the pipeline (docs/design/commands.md).
    script.push(["SELECT", "2"], ["DBSIZE"], ["KEYS", "*"]);
    const replies = async (p: typeof servers.redis) => {
      await p.call("SELECT", "0");
      await p.call("FLUSHALL");
      return (await Promise.all(script.map((argv) => p.call(...argv)))).map((w, i) => normalise(script[i]!, w));
    };
    expect(await replies(servers.fly)).toEqual(await replies(servers.redis));
  });

  test("RESET goes back to database 0; HELLO keeps the database", async () => {
    await run(servers, [
      ["SELECT", "5"],
      ["SET", "a", "5"],
      ["HELLO", "2"],
      ["GET", "a"],
      ["RESET"],
      ["GET", "a"],
      ["CLIENT", "INFO"],
    ]);
  });
});

describe("WATCH identifies (database, key) as Redis does", () => {
  const exec = async (p: Pair, setup: Cmd[]): Promise<void> => {
    await run(p, [...setup, ["MULTI"], ["PING"], ["EXEC"]]);
    // The same again with a data command in the transaction (the check then runs inside apply).
    await run(p, [...setup, ["MULTI"], ["INCR", "n"], ["EXEC"]]);
  };

  test("SWAPDB touches a watched key that exists", () =>
    exec(servers, [
      ["SELECT", "0"],
      ["SET", "x", "30"],
      ["WATCH", "x"],
      ["SWAPDB", "0", "1"],
    ]));

  test("SWAPDB touches a watched key that does not exist but is swapped in", () =>
    exec(servers, [
      ["SELECT", "1"],
      ["SET", "x", "30"],
      ["SELECT", "0"],
      ["WATCH", "x"],
      ["SWAPDB", "0", "1"],
    ]));

  test("SWAPDB of two databases without the key leaves the WATCH intact", () =>
    exec(servers, [
      ["SELECT", "1"],
      ["WATCH", "x"],
      ["SWAPDB", "2", "3"],
      ["SWAPDB", "1", "4"],
    ]));

  test("a write of the same key name in another database leaves the WATCH intact", () =>
    exec(servers, [
      ["SELECT", "5"],
      ["SET", "x", "30"],
      ["WATCH", "x"],
      ["SELECT", "1"],
      ["SET", "x", "10"],
      ["SELECT", "5"],
    ]));

  test("FLUSHDB touches a watched key that existed, but not one of another database", async () => {
    await exec(servers, [["SELECT", "2"], ["SET", "x", "1"], ["WATCH", "x"], ["FLUSHDB"]]);
    await exec(servers, [
      ["SELECT", "2"],
      ["SET", "x", "1"],
      ["WATCH", "x"],
      ["SELECT", "3"],
      ["FLUSHDB"],
      ["SELECT", "2"],
    ]);
  });

  test("MOVE touches the watched key in both databases", async () => {
    await exec(servers, [
      ["SELECT", "0"],
      ["SET", "x", "1"],
      ["WATCH", "x"],
      ["MOVE", "x", "1"],
    ]);
    await exec(servers, [
      ["SELECT", "1"],
      ["WATCH", "x"],
      ["SELECT", "0"],
      ["SET", "x", "1"],
      ["MOVE", "x", "1"],
      ["SELECT", "1"],
    ]);
  });
});
