// Differential test of HyperLogLog against a real redis-server 7.0: the same PFADD/PFMERGE/PFCOUNT
// sequence must leave byte-identical values (sparse and dense, cached cardinality included), give
// the same replies and errors, and a value made by one server must count the same on the other.
import { describe, expect, test } from "bun:test";
import { useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import { show, type Wire } from "../helpers/resp-client.ts";
import { seededRandom } from "../../src/lib/prng.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

/** Runs one command on both servers and expects the same reply; returns it. */
const both = (...argv: (string | Uint8Array)[]) => on(servers, argv);

async function on(pair: Pair, argv: readonly (string | Uint8Array)[]): Promise<Wire> {
  const [r, f] = await Promise.all([pair.redis.call(...argv), pair.fly.call(...argv)]);
  expect({ cmd: argv.map(String).join(" ").slice(0, 80), reply: show(f) }).toEqual({
    cmd: argv.map(String).join(" ").slice(0, 80),
    reply: show(r),
  });
  return r;
}

/** The raw value on both servers must be the same bytes. */
async function sameBytes(key: string): Promise<Buffer> {
  const r = await both("GET", key);
  return r.t === "$" ? r.v : Buffer.alloc(0);
}

const elements = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("HyperLogLog matches redis-server 7.0", () => {
  test("sparse values grow opcode by opcode exactly as in Redis, then turn dense at 3000 bytes", async () => {
    await both("DEL", "h");
    expect((await both("PFADD", "h")).t).toBe(":");
    await sameBytes("h");
    await both("PFCOUNT", "h");
    const seen: string[] = [];
    // Small batches first so every sparse split and merge is compared, then larger ones to promote.
    for (let batch = 0; batch < 60; batch++) {
      const size = batch < 30 ? 3 : 200;
      await both("PFADD", "h", ...elements(`b${batch}-`, size));
      if (batch % 3 === 0) await both("PFADD", "h", ...elements(`b${batch}-`, size)); // nothing new: 0
      await sameBytes("h");
      seen.push(((await both("PFDEBUG", "ENCODING", "h")) as { v: string }).v);
      if (batch % 4 === 0) {
        await both("PFCOUNT", "h");
        await sameBytes("h"); // the cached cardinality, valid bit included
      }
      if (seen.at(-1) === "sparse") await both("PFDEBUG", "DECODE", "h");
    }
    expect(seen).toContain("sparse");
    expect(seen).toContain("dense");
    await both("PFDEBUG", "DECODE", "h");
  });

  test("elements of every length and binary content hash as in Redis (MurmurHash64A, Redis's seed)", async () => {
    await both("DEL", "bin");
    const random = seededRandom(14);
    for (let len = 0; len <= 40; len++) {
      const e = new Uint8Array(len).map(() => Math.floor(random() * 256));
      await both("PFADD", "bin", e, "x".repeat(len));
    }
    await sameBytes("bin");
    await both("PFCOUNT", "bin");
    await both("PFDEBUG", "TODENSE", "bin");
    await sameBytes("bin");
    await both("PFDEBUG", "TODENSE", "bin");
  });

  test("PFMERGE and multi-key PFCOUNT: sparse, dense and mixed sources, existing destination", async () => {
    await both("DEL", "m1", "m2", "m3", "md", "mx");
    await both("PFADD", "m1", ...elements("a", 50));
    await both("PFADD", "m2", ...elements("b", 40), ...elements("a", 10));
    await both("PFADD", "m3", ...elements("c", 3000));
    await both("PFCOUNT", "m1", "m2");
    await both("PFCOUNT", "m1", "m2", "m3", "nokey");
    await both("PFMERGE", "md", "m1", "m2");
    await sameBytes("md");
    await both("PFCOUNT", "md");
    await both("PFMERGE", "md", "m3");
    await sameBytes("md");
    await both("PFCOUNT", "md");
    await both("PFMERGE", "mx");
    await sameBytes("mx");
    await both("PFADD", "mx", "z");
    await both("PFMERGE", "mx", "m1", "nokey");
    await sameBytes("mx");
    await both("PFDEBUG", "GETREG", "mx");
    await sameBytes("mx");
  });

  test("a value made by one server counts the same on the other", async () => {
    await servers.redis.call("DEL", "r1", "r2");
    await servers.redis.call("PFADD", "r1", ...elements("r", 300));
    await servers.redis.call("PFADD", "r2", ...elements("s", 20000));
    for (const key of ["r1", "r2"]) {
      const made = await servers.redis.call("GET", key);
      if (made.t !== "$") throw new Error(`redis GET ${key}: ${show(made)}`);
      await servers.fly.call("SET", key, made.v);
      await both("PFCOUNT", key);
      await both("PFADD", key, "one more");
      await sameBytes(key);
      await both("PFCOUNT", key, "r1");
    }
    await servers.fly.call("DEL", "f1");
    await servers.fly.call("PFADD", "f1", ...elements("f", 700));
    const made = await servers.fly.call("GET", "f1");
    if (made.t !== "$") throw new Error(`flydb GET f1: ${show(made)}`);
    await servers.redis.call("SET", "f1", made.v);
    await both("PFCOUNT", "f1");
  });

  test("errors: arity, wrong types, values that are not HLLs, corrupt HLLs, PFDEBUG misuse", async () => {
    await both("DEL", "s", "l", "c", "d");
    await both("SET", "s", "not an hll at all");
    await both("RPUSH", "l", "x");
    for (const argv of [
      ["PFADD"],
      ["PFCOUNT"],
      ["PFMERGE"],
      ["PFDEBUG", "ENCODING"],
      ["PFDEBUG", "ENCODING", "s", "x"],
      ["PFADD", "s", "a"],
      ["PFADD", "l", "a"],
      ["PFCOUNT", "s"],
      ["PFCOUNT", "l"],
      ["PFCOUNT", "nokey", "s"],
      ["PFMERGE", "d", "s"],
      ["PFMERGE", "s", "d"],
      ["PFMERGE", "l"],
      ["PFDEBUG", "ENCODING", "nokey"],
      ["PFDEBUG", "GETREG", "s"],
      ["PFSELFTEST", "x"],
    ])
      await both(...argv);
    await both("EXISTS", "d");
    await both("PFADD", "c", "a", "b", "c");
    await both("PFDEBUG", "NOSUCH", "c");
    await both("PFDEBUG", "TODENSE", "c");
    await both("PFDEBUG", "DECODE", "c");
    await both("APPEND", "c", "x"); // a dense value of the wrong length is not an HLL
    await both("PFCOUNT", "c");
    await both("DEL", "c");
    await both("PFADD", "c", "a", "b", "c");
    await both("APPEND", "c", "hello"); // sparse runs past the last register
    await both("PFCOUNT", "c");
    await both("PFADD", "c", "new");
    await both("PFMERGE", "d", "c");
    await both("PFCOUNT", "c", "nokey");
    await both("EXISTS", "d");
    await both("SETRANGE", "c", "4", "x");
    await both("PFCOUNT", "c");
  });

  test("a PFADD that meets corruption part-way writes nothing (Redis keeps the registers set before it)", async () => {
    // Sparse runs covering registers 0..16319 only: elements landing in the last 64 registers fail.
    const short = new Uint8Array([...Buffer.from("HYLL"), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xbf]);
    const fly = servers.fly;
    let bad = "";
    for (let i = 0; bad === "" && i < 5000; i++) {
      await fly.call("SET", "short", short);
      if ((await fly.call("PFADD", "short", `p${i}`)).t === "-") bad = `p${i}`;
    }
    expect(bad).not.toBe("");
    await fly.call("SET", "short", short);
    expect(await fly.call("PFADD", "short", "fits")).toEqual({ t: ":", v: 1n });
    await fly.call("SET", "short", short);
    const corrupt: Wire = { t: "-", v: "INVALIDOBJ Corrupted HLL object detected" };
    expect(await fly.call("PFADD", "short", "fits", bad)).toEqual(corrupt);
    const after = await fly.call("GET", "short");
    expect(after.t === "$" && Buffer.compare(after.v, Buffer.from(short))).toBe(0);
  });

  test("PFCOUNT is readonly, and the cardinality it caches is in place for the connection's next command", async () => {
    const [r, f] = await Promise.all([servers.redis, servers.fly].map((c) => c.call("COMMAND", "INFO", "PFCOUNT")));
    /** COMMAND INFO's flags: the third field of the command's row. */
    const flagsOf = (w: Wire) => (w.t === "*" && w.v[0]?.t === "*" ? show(w.v[0].v[2]!) : show(w));
    expect(flagsOf(f!)).toBe(flagsOf(r!));
    expect(flagsOf(f!)).toContain("readonly");
    // The suite's "PFADD / PFCOUNT cache invalidation works", pipelined so no read waits for a reply.
    const script = [
      ["DEL", "hc"],
      ["PFADD", "hc", "a", "b", "c"],
      ["PFCOUNT", "hc"],
      ["GETRANGE", "hc", "15", "15"],
      ["PFCOUNT", "hc"],
      ["PFADD", "hc", "a", "b", "c"],
      ["GETRANGE", "hc", "15", "15"],
      ["PFADD", "hc", "1", "2", "3"],
      ["GETRANGE", "hc", "15", "15"],
      ["PFCOUNT", "hc"],
      ["GET", "hc"],
    ];
    const run = (c: typeof servers.fly) => Promise.all(script.map((argv) => c.call(...argv)));
    const [rs, fs] = await Promise.all([run(servers.redis), run(servers.fly)]);
    expect(fs.map(show)).toEqual(rs.map(show));
  });

  test("RESP3 replies have the same shapes", async () => {
    await both("DEL", "r3");
    for (const argv of [
      ["PFADD", "r3", "a", "b"],
      ["PFCOUNT", "r3"],
      ["PFCOUNT", "r3", "nokey"],
      ["PFDEBUG", "ENCODING", "r3"],
      ["PFDEBUG", "DECODE", "r3"],
      ["PFDEBUG", "GETREG", "r3"],
      ["PFMERGE", "r3"],
      ["PFDEBUG", "NOSUCH", "r3"],
    ])
      await on(resp3, argv);
  });

  test("randomly corrupted values get the same reply and leave the same bytes", async () => {
    const random = seededRandom(7);
    for (let round = 0; round < 150; round++) {
      await both("DEL", "z");
      await both("PFADD", "z", ...elements(`z${round}-`, 1 + Math.floor(random() * (round % 3 === 0 ? 2000 : 60))));
      for (let i = 0; i < 1 + Math.floor(random() * 4); i++) {
        const len = ((await both("STRLEN", "z")) as { v: bigint }).v;
        const pos = Math.floor(random() * Number(len));
        await both("SETRANGE", "z", String(pos), new Uint8Array([Math.floor(random() * 256)]));
      }
      await both("PFCOUNT", "z");
      await both("PFADD", "z", "after", "corruption");
      await both("PFCOUNT", "z", "nokey");
      await sameBytes("z");
    }
  });
});
