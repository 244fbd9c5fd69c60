// Differential test of the bitmap commands and LCS: fast-check generates command sequences over a
// few keys that also meet SET, APPEND, SETRANGE and keys of another type, and FlyDB must answer
// each command exactly as redis-server 7.0 does, in RESP2 and RESP3. Fixed sequences cover the
// error texts and the argument orders whose first failure decides which error is reported.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareSequence, useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import { show, type Wire } from "../helpers/resp-client.ts";

const { servers, resp3 } = useDiffServers({ resp3: true });

type Cmd = string[];
const c = fc.constantFrom;
const key = c("b1", "b2", "b3");
const value = c("", "a", "foobar", "\xff\x00\xf0", "1234", "\xaa\x55\xff\x01\x80", "ohmytext", "\x00\x00\x00\x00\x01");
const bitOffset = c("0", "1", "7", "8", "13", "23", "40", "63", "-1", "abc", "4294967296", "01");
const bitValue = c("0", "1", "1", "0", "2", "-1", "x");
const index = c("0", "1", "2", "-1", "-2", "3", "5", "-100", "100", "x", "9223372036854775807", "-9223372036854775808");
const unit = c("BIT", "BYTE", "bit", "byte", "foo");
const fieldType = fc.oneof(
  { weight: 3, arbitrary: c("i1", "i5", "i8", "i16", "i63", "i64", "u1", "u7", "u8", "u16", "u63") },
  { weight: 1, arbitrary: c("u64", "I8", "i0", "i65", "x") },
);
const fieldOffset = c("0", "3", "7", "8", "13", "#0", "#1", "#3", "-1", "#x", "#");
const INT64_EDGES = ["9223372036854775807", "-9223372036854775808"];
const fieldValue = c("0", "1", "-1", "5", "100", "-128", "127", "255", "256", "-1000", ...INT64_EDGES, "x");
const arr = <T>(g: fc.Arbitrary<T>, min = 1, max = 3) => fc.array(g, { minLength: min, maxLength: max });
type Part = string | readonly Part[];
const cmd = (...parts: (fc.Arbitrary<Part> | string)[]): fc.Arbitrary<Cmd> =>
  fc.tuple(...parts.map((p) => (typeof p === "string" ? fc.constant(p) : p))).map((xs) => xs.flat(3) as Cmd);
const opt = (g: fc.Arbitrary<Part>) => fc.option(g, { nil: undefined }).map((x) => x ?? []);

const fieldOp: fc.Arbitrary<Part> = fc.oneof(
  fc.tuple(c("GET", "get"), fieldType, fieldOffset),
  fc.tuple(c("SET", "INCRBY", "incrby"), fieldType, fieldOffset, fieldValue),
  fc.tuple(c("OVERFLOW", "overflow"), c("WRAP", "SAT", "FAIL", "sat", "fail", "bogus")),
);
// Mostly valid ops, so the arithmetic is exercised and not only the parser.
const validFieldOp: fc.Arbitrary<Part> = fc.oneof(
  fc.tuple(fc.constant("GET"), c("i5", "u5", "i8", "u8", "i16", "i64", "u63"), c("0", "3", "#1", "13")),
  fc.tuple(c("SET", "INCRBY"), c("i5", "u5", "i8", "u8", "i16", "i64", "u63"), c("0", "3", "#1", "13"), fieldValue),
  fc.tuple(fc.constant("OVERFLOW"), c("WRAP", "SAT", "FAIL")),
);
const lcsOptions = c(
  [],
  ["LEN"],
  ["IDX"],
  ["IDX", "WITHMATCHLEN"],
  ["IDX", "MINMATCHLEN", "2"],
  ["idx", "minmatchlen", "-3", "withmatchlen"],
  ["LEN", "IDX"],
  ["FOO"],
  ["MINMATCHLEN"],
  ["IDX", "MINMATCHLEN", "x"],
);

const commands: fc.Arbitrary<Cmd>[] = [
  cmd("SETBIT", key, bitOffset, bitValue),
  cmd("SETBIT", key, c("0", "3", "9", "17", "30"), c("0", "1")),
  cmd("GETBIT", key, bitOffset),
  cmd("BITCOUNT", key),
  cmd("BITCOUNT", key, index, index, opt(unit)),
  cmd("BITCOUNT", key, index),
  cmd("BITPOS", key, c("0", "1", "2", "x")),
  cmd("BITPOS", key, c("0", "1"), index, opt(fc.tuple(index, opt(unit)))),
  cmd("BITOP", c("AND", "OR", "XOR", "and", "FOO"), key, arr(key)),
  cmd("BITOP", c("NOT", "not"), key, arr(key, 1, 2)),
  cmd("BITFIELD", key, arr(validFieldOp, 1, 4)),
  cmd("BITFIELD", key, arr(fieldOp, 0, 3)),
  cmd("BITFIELD_RO", key, arr(fc.oneof(fieldOp, validFieldOp), 0, 3)),
  cmd("LCS", key, key, lcsOptions),
  cmd("SET", key, value),
  cmd("SET", key, value),
  cmd("APPEND", key, value),
  cmd("SETRANGE", key, c("0", "2", "5"), value),
  cmd("GET", key),
  cmd("GETRANGE", key, index, index),
  cmd("STRLEN", key),
  cmd("DEL", key),
  cmd("EXPIRE", key, "1000"),
  cmd("TTL", key),
  cmd("RPUSH", key, "x"),
  cmd("EXISTS", key),
];

/** TTLs are compared as "has one" since a second may tick between the two servers' calls. */
function normalise(argv: readonly string[], w: Wire): Wire {
  return argv[0] === "TTL" && w.t === ":" && w.v > 0n ? { t: ":", v: 1n } : w;
}

async function run(pair: Pair, cmds: Cmd[]): Promise<void> {
  await compareSequence(pair, cmds, (argv, w) => show(normalise(argv, w)));
  for (const k of ["b1", "b2", "b3"]) {
    const [r, f] = [await pair.redis.call("GET", k), await pair.fly.call("GET", k)];
    expect({ k, value: show(f) }).toEqual({ k, value: show(r) });
  }
}

const sequences = fc.array(fc.oneof(...commands), { minLength: 5, maxLength: 40 });
const RUNS = Number(process.env.BITS_DIFF_RUNS ?? 150);

describe("bitmaps and LCS reply like redis-server 7.0", () => {
  test("generated sequences, RESP2", async () => {
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) => run(servers, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);

  test("generated sequences, RESP3", async () => {
    await fc.assert(
      fc.asyncProperty(sequences, (cmds) => run(resp3, cmds)),
      { numRuns: RUNS },
    );
  }, 120_000);

  test("errors, argument order and limits", async () => {
    for (const pair of [servers, resp3]) {
      await run(pair, [
        ["SETBIT", "b1"],
        ["SETBIT", "b1", "0", "1", "2"],
        ["GETBIT", "b1"],
        ["BITCOUNT"],
        ["BITPOS", "b1"],
        ["BITOP", "AND", "b1"],
        ["BITFIELD"],
        ["BITFIELD_RO"],
        ["LCS", "b1"],
        // The highest offset fits 512 MB; one more is out of range. Neither allocates here.
        ["SETBIT", "b1", "4294967296", "1"],
        ["GETBIT", "b1", "4294967295"],
        ["GETBIT", "b1", "4294967296"],
        ["BITFIELD", "b1", "GET", "u8", "4294967296"],
        ["BITFIELD", "b1", "GET", "u8", "#536870912"],
        ["BITFIELD_RO", "b1", "GET", "i64", "4294967295"],
        ["SETBIT", "b1", "x", "7"],
        ["SETBIT", "b1", "-1", "x"],
        ["RPUSH", "list", "a"],
        ["SETBIT", "list", "0", "1"],
        ["SETBIT", "list", "0", "2"],
        ["GETBIT", "list", "x"],
        ["GETBIT", "list", "0"],
        ["BITCOUNT", "list", "x", "y"],
        ["BITCOUNT", "nokey", "x", "y"],
        ["BITCOUNT", "nokey", "0"],
        ["BITPOS", "list", "x"],
        ["BITPOS", "list", "1"],
        ["BITPOS", "nokey", "1", "x", "y", "z", "w"],
        ["SET", "b1", "abc"],
        ["BITCOUNT", "b1", "0"],
        ["BITCOUNT", "b1", "x", "0", "bit"],
        ["BITCOUNT", "b1", "-1", "-2", "foo"],
        ["BITCOUNT", "b1", "0", "1", "bit", "extra"],
        ["BITPOS", "b1", "1", "0", "1", "foo"],
        ["BITPOS", "b1", "1", "0", "x", "foo"],
        ["BITPOS", "b1", "1", "0", "1", "bit", "extra"],
        ["BITOP", "NOT", "b2", "b1", "b3"],
        ["BITOP", "FOO", "b2"],
        ["BITOP", "AND", "b2", "b1", "list"],
        ["BITFIELD", "list", "GET", "u8", "0"],
        ["BITFIELD", "list"],
        ["BITFIELD", "list", "SET", "u8", "0", "1"],
        ["BITFIELD_RO", "list", "SET", "u8", "0", "1"],
        ["BITFIELD_RO", "b1", "INCRBY", "u8", "0", "1", "GET", "x", "0"],
        ["BITFIELD", "b1", "GET", "u8"],
        ["BITFIELD", "b1", "OVERFLOW"],
        ["BITFIELD", "b1", "FOO", "u8", "0"],
        ["BITFIELD", "b1", "SET", "u8", "0", "x"],
        ["BITFIELD", "b1", "OVERFLOW", "FAIL", "SET", "u8", "0", "x"],
        ["LCS", "b1", "list"],
        ["LCS", "list", "b1", "FOO"],
        ["LCS", "b1", "b2", "FOO"],
        ["GET", "b1"],
      ]);
    }
  });

  test("bit arithmetic at the edges of every width", async () => {
    const cmds: Cmd[] = [];
    for (const t of ["i1", "i2", "i8", "i32", "i63", "i64", "u1", "u2", "u8", "u32", "u62", "u63"]) {
      for (const mode of ["WRAP", "SAT", "FAIL"]) {
        for (const v of ["9223372036854775807", "-9223372036854775808", "1", "-1", "4611686018427387904"]) {
          const field = [t, "5"];
          const incr = ["INCRBY", ...field, v];
          cmds.push(["BITFIELD", "b1", "OVERFLOW", mode, "SET", ...field, v, ...incr, ...incr, "GET", ...field]);
        }
      }
    }
    // A field that spans nine bytes, and one past the end of the string.
    cmds.push(["BITFIELD", "b2", "SET", "i64", "3", "-2", "GET", "i64", "3", "GET", "u63", "4", "GET", "u8", "100"]);
    cmds.push(["BITFIELD", "b3", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5"], ["STRLEN", "b3"]);
    await run(servers, cmds);
  });

  test("OBJECT ENCODING: every bit write leaves the value raw, one that changes no bit too", async () => {
    const cmds: Cmd[] = [];
    for (const [k, write] of [
      ["b1", ["SETBIT", "b1", "0", "0"]],
      ["b2", ["BITFIELD", "b2", "SET", "u8", "0", "49"]],
      ["b3", ["SETBIT", "b3", "7", "1"]],
    ] as const) {
      cmds.push(["SET", k, "1"], ["OBJECT", "ENCODING", k], [...write], ["OBJECT", "ENCODING", k], ["GET", k]);
    }
    cmds.push(["BITOP", "AND", "b1", "b2", "b3"], ["OBJECT", "ENCODING", "b1"], ["BITFIELD", "b2", "GET", "u8", "0"]);
    await run(servers, cmds);
  });

  test("counting and searching over long strings", async () => {
    const byte = (i: number) => (i % 7 === 0 ? 0 : i % 11 === 0 ? 255 : (i * 37) & 255);
    const mixed = Array.from({ length: 300 }, (_, i) => String.fromCharCode(byte(i))).join("");
    const cmds: Cmd[] = [
      ["SET", "b1", mixed],
      ["SET", "b2", "\xff".repeat(40)],
      ["SET", "b3", "\x00".repeat(40)],
    ];
    for (const [s, e] of [
      ["0", "-1"],
      ["3", "250"],
      ["-5", "-1"],
      ["17", "2300"],
      ["9", "9"],
      ["1", "0"],
    ]) {
      for (const k of ["b1", "b2", "b3"]) {
        cmds.push(["BITCOUNT", k, s!, e!, "BIT"], ["BITCOUNT", k, s!, e!]);
        for (const b of ["0", "1"]) {
          cmds.push(["BITPOS", k, b, s!, e!, "BIT"], ["BITPOS", k, b, s!, e!], ["BITPOS", k, b, s!]);
        }
      }
    }
    cmds.push(["BITOP", "XOR", "d", "b1", "b2", "b3"], ["GET", "d"], ["BITOP", "NOT", "d", "b1"], ["GET", "d"]);
    cmds.push(["BITOP", "AND", "d", "nokey1", "nokey2"], ["EXISTS", "d"]);
    await run(servers, cmds);
  });

  test("LCS of longer strings reports Redis's runs", async () => {
    const a = "ohmytextzzzyyyxxxabcdefghijklmnopqrstuvwxyz0123456789".repeat(3);
    const b = "mynewtextxxxyyyzzzabcdefgh01234ijklmnop56789qrstuvwxyz".repeat(3);
    await run(servers, [
      ["SET", "b1", a],
      ["SET", "b2", b],
      ["LCS", "b1", "b2"],
      ["LCS", "b1", "b2", "LEN"],
      ["LCS", "b1", "b2", "IDX", "WITHMATCHLEN"],
      ["LCS", "b1", "b2", "IDX", "MINMATCHLEN", "4"],
      ["LCS", "b2", "b1", "IDX"],
      ["LCS", "b1", "nokey", "IDX"],
    ]);
  });
});
