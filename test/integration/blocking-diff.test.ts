// Blocking pops (src/commands/blocking.ts) against a real redis-server: replies of the paths that
// do not wait (data present, errors, MULTI, short fractional timeouts) must be equal; the waiting
// paths (FIFO wake-up, CLIENT UNBLOCK, a blocked connection holding its later commands) must give
// what Redis gives for the same interleaving.
import { afterAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { compareSequence, useDiffServers } from "../helpers/diff-servers.ts";
import { startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";
import type { RespClient, Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

const NON_BLOCKING: string[][] = [
  ["RPUSH", "l1", "a", "b", "c"],
  ["BLPOP", "none", "l1", "0"],
  ["BRPOP", "l1", "none", "0.5"],
  ["BLPOP", "none", "0.01"],
  ["BRPOP", "none", "0.02"],
  ["BLPOP", "l1", "-1"],
  ["BLPOP", "l1", "abc"],
  ["BLPOP", "l1", ""],
  ["BLPOP", "l1"],
  ["BLPOP", "none", "1e-2"],
  ["BLPOP", "none", "inf"],
  ["BLPOP", "none", "-inf"],
  ["BLPOP", "none", "1e400"],
  ["SET", "str", "x"],
  ["BLPOP", "str", "0"],
  ["BLPOP", "none", "str", "0"],
  ["BZPOPMIN", "str", "0"],
  ["RPUSH", "l2", "1", "2", "3", "4"],
  ["BLMPOP", "0", "2", "none", "l2", "LEFT", "COUNT", "3"],
  ["BLMPOP", "0.01", "1", "none", "RIGHT"],
  ["BLMPOP", "0", "0", "l2", "LEFT"],
  ["BLMPOP", "-1", "1", "l2", "LEFT"],
  ["BLMPOP", "0", "1", "l2", "MIDDLE"],
  ["BLMPOP", "0", "1", "l2", "LEFT", "COUNT", "0"],
  ["RPUSH", "src", "x", "y"],
  ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
  ["BRPOPLPUSH", "src", "dst", "0"],
  ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0.01"],
  ["BRPOPLPUSH", "src", "dst", "0.01"],
  ["BLMOVE", "src", "dst", "UP", "RIGHT", "0"],
  ["BLMOVE", "dst", "str", "LEFT", "RIGHT", "0"],
  ["LRANGE", "dst", "0", "-1"],
  ["ZADD", "z", "1", "a", "2.5", "b", "3", "c", "4", "d"],
  ["BZPOPMIN", "none", "z", "0"],
  ["BZPOPMAX", "z", "0"],
  ["BZPOPMAX", "none", "0.01"],
  ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"],
  ["BZMPOP", "0.01", "1", "z", "MAX"],
  ["BZMPOP", "0", "1", "z", "SIDEWAYS"],
  ["BZPOPMIN", "z", "-0.5"],
  ["MULTI"],
  ["BLPOP", "none", "0"],
  ["BRPOPLPUSH", "none", "dst", "0"],
  ["BLMOVE", "none", "dst", "LEFT", "LEFT", "0"],
  ["BZPOPMIN", "none", "0"],
  ["BLMPOP", "0", "1", "none", "LEFT"],
  ["BZMPOP", "0", "1", "none", "MIN"],
  ["BLPOP", "dst", "0"],
  ["EXEC"],
];

describe("blocking commands: paths that do not wait", () => {
  test("RESP2 replies equal Redis's", async () => {
    await compareSequence(servers, NON_BLOCKING);
  });
  test("RESP3 replies equal Redis's", async () => {
    await compareSequence(resp3, NON_BLOCKING);
  });
});

/** Resolves once `p` settles or after `ms`, telling which. */
const settledWithin = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

/** The same interleaving on both servers: `run` gets a fresh pair of connections per server. */
async function both(run: (c: RespClient[], which: "redis" | "fly") => Promise<unknown>): Promise<void> {
  const conns = [await servers.connect(), await servers.connect(), await servers.connect()];
  await servers.redis.call("FLUSHALL");
  await servers.fly.call("FLUSHALL");
  const r = await run(
    conns.map((p) => p.redis),
    "redis",
  );
  const f = await run(
    conns.map((p) => p.fly),
    "fly",
  );
  expect(f).toEqual(r);
  for (const p of conns) {
    p.redis.close();
    p.fly.close();
  }
}

/** Waits until CLIENT LIST on `c` shows `n` clients whose last command is `cmd`. */
async function blockedCount(c: RespClient, cmd: string, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const list = await c.call("CLIENT", "LIST");
    const body = list.t === "$" || list.t === "=" ? list.v.toString() : "";
    if (body.split("\n").filter((l) => l.includes(`cmd=${cmd} `)).length >= n) return;
    await Bun.sleep(10);
  }
  throw new Error(`${n} clients never blocked in ${cmd}`);
}

async function idOf(c: RespClient): Promise<string> {
  const id = await c.call("CLIENT", "ID");
  if (id.t !== ":") throw new Error(`CLIENT ID answered ${JSON.stringify(id)}`);
  return String(id.v);
}

describe("blocking commands: waiting", () => {
  test("two clients blocked on a key are served first-blocked first", async () => {
    await both(async ([a, b, pusher]) => {
      const first = a!.call("BLPOP", "q", "0");
      await blockedCount(pusher!, "blpop", 1);
      const second = b!.call("BLPOP", "other", "q", "0");
      await blockedCount(pusher!, "blpop", 2);
      await pusher!.call("RPUSH", "q", "one");
      await pusher!.call("RPUSH", "q", "two");
      return [await first, await second, await pusher!.call("LLEN", "q")];
    });
  });

  test("a push answers after the clients it woke are served: linked BLMOVEs have moved its element", async () => {
    await both(async ([a, b, pusher]) => {
      const first = a!.call("BLMOVE", "l1", "l2", "RIGHT", "LEFT", "0");
      await blockedCount(pusher!, "blmove", 1);
      const second = b!.call("BLMOVE", "l2", "l3", "LEFT", "RIGHT", "0");
      await blockedCount(pusher!, "blmove", 2);
      await pusher!.call("RPUSH", "l1", "foo");
      // Read at once, as tests/unit/type/list.tcl "Linked LMOVEs" does.
      const lists = [
        await pusher!.call("LRANGE", "l1", "0", "-1"),
        await pusher!.call("LRANGE", "l2", "0", "-1"),
        await pusher!.call("LRANGE", "l3", "0", "-1"),
      ];
      return [...lists, await first, await second];
    });
  });

  test("a client that shuts down its side while blocked stops waiting: a later push stays", async () => {
    await both(async ([a, pusher]) => {
      a!.call("BLPOP", "gone", "0").catch(() => {});
      await blockedCount(pusher!, "blpop", 1);
      a!.halfClose();
      for (let i = 0; i < 200; i++) {
        const list = await pusher!.call("CLIENT", "LIST");
        if (!((list.t === "$" || list.t === "=") && list.v.toString().includes("cmd=blpop "))) break;
        await Bun.sleep(10);
      }
      await pusher!.call("RPUSH", "gone", "x");
      await Bun.sleep(100);
      return [await pusher!.call("LLEN", "gone")];
    });
  });

  test("a push by LMOVE, ZADD, SORT STORE and a transaction wakes the blocked client", async () => {
    await both(async ([a, b, pusher]) => {
      const out: Wire[] = [];
      const wait = async (p: Promise<Wire>, cmd: string, write: string[][]) => {
        await blockedCount(pusher!, cmd, 1);
        for (const w of write) await pusher!.call(...w);
        out.push(await p);
      };
      await pusher!.call("RPUSH", "src", "m");
      await wait(a!.call("BRPOP", "moved", "0"), "brpop", [["LMOVE", "src", "moved", "LEFT", "LEFT"]]);
      await wait(b!.call("BZPOPMAX", "z", "0"), "bzpopmax", [["ZADD", "z", "7", "m"]]);
      await pusher!.call("RPUSH", "unsorted", "3", "1", "2");
      await wait(a!.call("BLMPOP", "0", "1", "sorted", "RIGHT", "COUNT", "5"), "blmpop", [
        ["SORT", "unsorted", "STORE", "sorted"],
      ]);
      await wait(b!.call("BLMOVE", "tx", "dst", "RIGHT", "LEFT", "0"), "blmove", [
        ["MULTI"],
        ["RPUSH", "tx", "t1", "t2"],
        ["EXEC"],
      ]);
      out.push(await pusher!.call("LRANGE", "tx", "0", "-1"), await pusher!.call("LRANGE", "dst", "0", "-1"));
      return out;
    });
  });

  test("a BRPOPLPUSH woken with a destination that is not a list answers WRONGTYPE", async () => {
    await both(async ([a, _b, pusher]) => {
      await pusher!.call("SET", "target", "nolist");
      const moved = a!.call("BRPOPLPUSH", "blist", "target", "0");
      await blockedCount(pusher!, "brpoplpush", 1);
      await pusher!.call("RPUSH", "blist", "foo");
      return [await moved, await pusher!.call("LRANGE", "blist", "0", "-1")];
    });
  });

  test("CLIENT UNBLOCK ends the wait with a timeout's reply or the UNBLOCKED error", async () => {
    await both(async ([a, b, admin]) => {
      const ids = [await idOf(a!), await idOf(b!)];
      const timedOut = a!.call("BLPOP", "q", "0");
      const errored = b!.call("BZMPOP", "0", "1", "z", "MIN");
      await blockedCount(admin!, "bzmpop", 1);
      await blockedCount(admin!, "blpop", 1);
      return [
        await admin!.call("CLIENT", "UNBLOCK", ids[0]!, "TIMEOUT"),
        await admin!.call("CLIENT", "UNBLOCK", ids[1]!, "ERROR"),
        await timedOut,
        await errored,
        await admin!.call("CLIENT", "UNBLOCK", ids[0]!),
        await admin!.call("CLIENT", "UNBLOCK", ids[0]!, "MAYBE"),
        await admin!.call("CLIENT", "UNBLOCK", "x"),
      ];
    });
  });

  test("a fractional timeout ends the wait with a null array, not much later", async () => {
    const c = servers.fly;
    const started = performance.now();
    expect(await c.call("BLMOVE", "nothing", "dst", "LEFT", "LEFT", "0.15")).toEqual({ t: "nil", kind: "*" } as Wire);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1000);
  });

  test("a blocked connection holds its later commands until it is served", async () => {
    const { fly: c } = await servers.connect();
    const blocked = c.call("BLPOP", "held", "0");
    const after = c.call("RPUSH", "held", "own");
    expect(await settledWithin(after, 150)).toBe(false);
    await servers.fly.call("RPUSH", "held", "x");
    expect(await blocked).toEqual({
      t: "*",
      v: [
        { t: "$", v: Buffer.from("held") },
        { t: "$", v: Buffer.from("x") },
      ],
    });
    expect(await after).toEqual({ t: ":", v: 1n } as Wire);
    c.close();
  });
});

/** TIME's reply in microseconds. */
function micros(w: Wire): number {
  if (w.t !== "*" || w.v.length !== 2) throw new Error(`TIME answered ${JSON.stringify(w)}`);
  const [s, us] = w.v.map((x) => Number((x as { v: Buffer }).v.toString()));
  return s! * 1e6 + us!;
}

describe("blocking commands: pipelined behind a wait", () => {
  // As Redis, which reads no more of a blocked connection's commands: server commands wait too.
  test("a TIME pipelined behind a BLMOVE that times out runs after its wait", async () => {
    const { redis, fly } = await servers.connect();
    const run = async (c: RespClient) => {
      const replies = await Promise.all([
        c.call("TIME"),
        c.call("BLMOVE", "pipe-src", "pipe-dst", "LEFT", "RIGHT", "0.15"),
        c.call("TIME"),
        c.call("BLPOP", "pipe-empty", "0.05"),
        c.call("RPUSH", "pipe-empty", "x"),
        c.call("LRANGE", "pipe-empty", "0", "-1"),
      ]);
      c.close();
      return { apart: (micros(replies[2]!) - micros(replies[0]!)) / 1000, replies: replies.slice(3) };
    };
    const [r, f] = await Promise.all([run(redis), run(fly)]);
    expect(r.apart).toBeGreaterThanOrEqual(140);
    expect(f.apart).toBeGreaterThanOrEqual(140);
    expect(f.replies).toEqual(r.replies);
  });
});

describe("ioredis BLPOP worker loop", () => {
  const clients: Redis[] = [];
  let node: FlyDBProcess | undefined;
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await node?.stop();
  });

  test("two workers take every job exactly once", async () => {
    node = await startFlyDB({ args: ["--fsync", "no"] });
    const port = node.port;
    const producer = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
    clients.push(producer);
    await producer.connect();
    const seen: string[] = [];
    const worker = async () => {
      const w = new Redis({ port, host: "127.0.0.1" });
      clients.push(w);
      for (;;) {
        const job = await w.blpop("jobs", 0);
        if (!job || job[1] === "stop") return;
        seen.push(job[1]);
      }
    };
    const workers = [worker(), worker()];
    const jobs = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    for (let i = 0; i < jobs.length; i += 20) await producer.rpush("jobs", ...jobs.slice(i, i + 20));
    await producer.rpush("jobs", "stop", "stop");
    await Promise.all(workers);
    expect(seen.sort()).toEqual([...jobs].sort());
    expect(await producer.llen("jobs")).toBe(0);
  }, 30_000);
});
