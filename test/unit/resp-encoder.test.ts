import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { encodeReply, formatDouble, RespEncoder, type Protocol } from "../../src/resp/encoder.ts";
import * as R from "../../src/resp/reply.ts";
import type { Reply } from "../../src/resp/reply.ts";

const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
const wire = (r: Reply, p: Protocol): string => latin1(encodeReply(r, p));
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

describe("exact bytes", () => {
  const bin = Uint8Array.of(0, 255, 13, 10);
  // [reply, RESP2, RESP3]
  const cases: [string, Reply, string, string][] = [
    ["simple", R.OK, "+OK\r\n", "+OK\r\n"],
    ["simple with CRLF inside", R.simple("a\r\nb"), "+a  b\r\n", "+a  b\r\n"],
    [
      "error",
      R.err("WRONGTYPE Operation against a key"),
      "-WRONGTYPE Operation against a key\r\n",
      "-WRONGTYPE Operation against a key\r\n",
    ],
    ["error with newline", R.err("ERR bad\nthing"), "-ERR bad thing\r\n", "-ERR bad thing\r\n"],
    ["int", R.int(42), ":42\r\n", ":42\r\n"],
    ["negative int", R.int(-7), ":-7\r\n", ":-7\r\n"],
    ["zero", R.ZERO, ":0\r\n", ":0\r\n"],
    ["max safe int", R.int(Number.MAX_SAFE_INTEGER), ":9007199254740991\r\n", ":9007199254740991\r\n"],
    ["int64 bigint", R.int(-(2n ** 63n)), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"],
    ["big number", R.int(2n ** 64n), "$20\r\n18446744073709551616\r\n", "(18446744073709551616\r\n"],
    ["bulk string", R.bulk("hello"), "$5\r\nhello\r\n", "$5\r\nhello\r\n"],
    [
      "bulk utf-8",
      R.bulk("é€😀"),
      "$9\r\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\r\n",
      "$9\r\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\r\n",
    ],
    ["bulk bytes", R.bulk(bin), "$4\r\n\x00\xff\r\n\r\n", "$4\r\n\x00\xff\r\n\r\n"],
    ["empty bulk", R.bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
    ["null bulk", R.NULL_BULK, "$-1\r\n", "_\r\n"],
    ["null array", R.NULL_ARRAY, "*-1\r\n", "_\r\n"],
    ["array", R.array([R.int(1), R.bulk("a")]), "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n$1\r\na\r\n"],
    ["empty array", R.EMPTY_ARRAY, "*0\r\n", "*0\r\n"],
    ["nested", R.array([R.array([R.NULL_BULK])]), "*1\r\n*1\r\n$-1\r\n", "*1\r\n*1\r\n_\r\n"],
    [
      "map",
      R.map([
        [R.bulk("server"), R.bulk("flydb")],
        [R.bulk("proto"), R.int(3)],
      ]),
      "*4\r\n$6\r\nserver\r\n$5\r\nflydb\r\n$5\r\nproto\r\n:3\r\n",
      "%2\r\n$6\r\nserver\r\n$5\r\nflydb\r\n$5\r\nproto\r\n:3\r\n",
    ],
    ["set", R.set([R.bulk("a")]), "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"],
    ["push", { t: "push", v: [R.bulk("message")] }, "*1\r\n$7\r\nmessage\r\n", ">1\r\n$7\r\nmessage\r\n"],
    ["double", R.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
    ["double integral", R.double(1), "$1\r\n1\r\n", ",1\r\n"],
    ["double inf", R.double(Infinity), "$3\r\ninf\r\n", ",inf\r\n"],
    ["double -inf", R.double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
    ["bool true", R.bool(true), ":1\r\n", "#t\r\n"],
    ["bool false", R.bool(false), ":0\r\n", "#f\r\n"],
    ["verbatim", R.verbatim("hi"), "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n"],
  ];
  for (const [name, reply, resp2, resp3] of cases) {
    test(name, () => {
      expect(wire(reply, 2)).toBe(resp2);
      expect(wire(reply, 3)).toBe(resp3);
    });
  }

  test("long non-ASCII strings and simple strings", () => {
    const s = "ü".repeat(100);
    expect(wire(R.bulk(s), 2)).toBe(`$200\r\n${latin1(utf8.encode(s))}\r\n`);
    expect(wire(R.simple(s), 3)).toBe(`+${latin1(utf8.encode(s))}\r\n`);
    expect(wire(R.bulk("\ud800x"), 2)).toBe("$4\r\n\xef\xbf\xbdx\r\n"); // lone surrogate
  });
});

test("a value that is not a Reply throws instead of silently writing nothing", () => {
  expect(() => encodeReply({ t: "nope" } as unknown as Reply, 2)).toThrow("not a Reply");
});

describe("formatDouble (redis 7.0's %.17g)", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [-0, "-0"],
    [1, "1"],
    [-2, "-2"],
    [0.1, "0.10000000000000001"],
    [1.5, "1.5"],
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: an arbitrary non-terminating binary fraction, not π
    [3.14159, "3.1415899999999999"],
    [100, "100"],
    [123456789012, "123456789012"],
    [1e16, "10000000000000000"],
    [1e17, "1e+17"],
    [1.5e20, "1.5e+20"],
    [1e100, "1e+100"],
    [0.0001, "0.0001"],
    [0.00001, "1.0000000000000001e-05"],
    [-1.25e-7, "-1.2499999999999999e-07"], // redis 7.0 prints 1.5e-7 as 1.4999999999999999e-07 likewise
    [5e-324, "4.9406564584124654e-324"],
    [Number.NaN, "nan"],
  ];
  for (const [d, s] of cases) test(`${d} → ${s}`, () => expect(formatDouble(d)).toBe(s));

  test("round-trips through parseFloat", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const back = Number.parseFloat(formatDouble(d));
        expect(Object.is(back, d) || (d === 0 && back === 0)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("RespEncoder buffer", () => {
  test("appends replies until reset and grows past its initial capacity", () => {
    const enc = new RespEncoder(8);
    enc.encode(R.OK, 2);
    enc.encode(R.bulk("x".repeat(100)), 2);
    expect(enc.length).toBe(5 + 4 + 2 + 100 + 2);
    expect(latin1(enc.bytes())).toBe(`+OK\r\n$100\r\n${"x".repeat(100)}\r\n`);
    enc.reset();
    expect(enc.length).toBe(0);
    enc.encode(R.int(1), 3);
    expect(latin1(enc.bytes())).toBe(":1\r\n");
  });
});

// A reference RESP2/RESP3 reply parser, written plainly, for round trips.
function parseReplies(data: Uint8Array): Reply[] {
  let i = 0;
  const line = (): string => {
    const end = data.indexOf(13, i);
    if (end < 0 || data[end + 1] !== 10) throw new Error(`no CRLF after ${i}`);
    const s = utf8Decoder.decode(data.subarray(i, end));
    i = end + 2;
    return s;
  };
  const blob = (n: number): Uint8Array => {
    const b = data.slice(i, i + n);
    if (data[i + n] !== 13 || data[i + n + 1] !== 10) throw new Error(`blob not followed by CRLF at ${i}`);
    i += n + 2;
    return b;
  };
  const one = (): Reply => {
    const type = String.fromCharCode(data[i++]);
    const l = line();
    switch (type) {
      case "+":
        return R.simple(l);
      case "-":
        return R.err(l);
      case ":":
        return R.int(Number.isSafeInteger(Number(l)) ? Number(l) : BigInt(l));
      case "(":
        return R.int(BigInt(l));
      case "$":
        return Number(l) < 0 ? R.NULL_BULK : R.bulk(blob(Number(l)));
      case "=": {
        const b = blob(Number(l));
        return R.verbatim(utf8Decoder.decode(b.subarray(4)), latin1(b.subarray(0, 3)));
      }
      case "*":
        return Number(l) < 0 ? R.NULL_ARRAY : R.array(Array.from({ length: Number(l) }, one));
      case "~":
        return R.set(Array.from({ length: Number(l) }, one));
      case ">":
        return { t: "push", v: Array.from({ length: Number(l) }, one) };
      case "%":
        return R.map(Array.from({ length: Number(l) }, () => [one(), one()] as const));
      case "_":
        return R.NULL_BULK;
      case ",":
        return R.double(l === "inf" ? Infinity : l === "-inf" ? -Infinity : Number(l));
      case "#":
        return R.bool(l === "t");
      default:
        throw new Error(`unknown type ${type}`);
    }
  };
  const out: Reply[] = [];
  while (i < data.length) out.push(one());
  return out;
}

/** What a reply looks like after the round trip: strings as bytes, RESP2's downgrades applied. */
function expected(r: Reply, p: Protocol): Reply {
  switch (r.t) {
    case "simple":
    case "error":
      return { t: r.t, v: r.v.replace(/[\r\n]/g, " ") };
    case "bulk":
      return R.bulk(typeof r.v === "string" ? utf8.encode(r.v) : r.v);
    case "int":
      if (typeof r.v === "bigint" && (r.v >= 2n ** 63n || r.v < -(2n ** 63n)) && p === 2)
        return R.bulk(utf8.encode(r.v.toString()));
      return R.int(typeof r.v === "bigint" && Number.isSafeInteger(Number(r.v)) ? Number(r.v) : r.v);
    case "nullarray":
      return p === 2 ? r : R.NULL_BULK;
    case "array":
      return R.array(r.v.map((x) => expected(x, p)));
    case "set":
    case "push":
      return p === 2 ? R.array(r.v.map((x) => expected(x, p))) : { t: r.t, v: r.v.map((x) => expected(x, p)) };
    case "map":
      return p === 2
        ? R.array(r.v.flatMap(([k, v]) => [expected(k, p), expected(v, p)]))
        : R.map(r.v.map(([k, v]) => [expected(k, p), expected(v, p)] as const));
    case "double":
      return p === 2 ? R.bulk(utf8.encode(formatDouble(r.v))) : r;
    case "bool":
      return p === 2 ? R.int(r.v ? 1 : 0) : r;
    case "verbatim":
      return p === 2 ? R.bulk(utf8.encode(r.v)) : r;
    default:
      return r;
  }
}

const replyArb: fc.Arbitrary<Reply> = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ maxLength: 20 }).map(R.simple),
    fc.string({ maxLength: 20 }).map((s) => R.err(`ERR ${s}`)),
    fc.integer().map(R.int),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(R.int),
    fc.string({ unit: "grapheme", maxLength: 80 }).map(R.bulk),
    fc.uint8Array({ maxLength: 40 }).map(R.bulk),
    fc.constant(R.NULL_BULK),
    fc.constant(R.NULL_ARRAY),
    fc.double({ noNaN: true }).map(R.double),
    fc.boolean().map(R.bool),
    fc.string({ maxLength: 20 }).map((s) => R.verbatim(s, "txt")),
    fc.array(tie("reply"), { maxLength: 4 }).map(R.array),
    fc.array(tie("reply"), { maxLength: 4 }).map(R.set),
    fc.array(tie("reply"), { maxLength: 3 }).map((v): Reply => ({ t: "push", v })),
    fc.array(fc.tuple(tie("reply"), tie("reply")), { maxLength: 3 }).map(R.map),
  ),
})).reply;

describe("round trips", () => {
  test("any reply parses back to itself (RESP3) or to its RESP2 downgrade", () => {
    fc.assert(
      fc.property(fc.array(replyArb, { maxLength: 5 }), fc.constantFrom<Protocol>(2, 3), (replies, p) => {
        const enc = new RespEncoder(16);
        for (const r of replies) enc.encode(r, p);
        expect(parseReplies(enc.bytes())).toEqual(replies.map((r) => expected(r, p)));
      }),
      { numRuns: 1000 },
    );
  });

  test("an array of bulk strings is a command the decoder reads back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 1, maxLength: 5 }), { maxLength: 6 }),
        (commands) => {
          const enc = new RespEncoder(16);
          for (const argv of commands) enc.encode(R.array(argv.map(R.bulk)), 2);
          const dec = new RespDecoder();
          dec.push(enc.bytes().slice());
          const out: Uint8Array[][] = [];
          for (let a = dec.next(); a !== null; a = dec.next()) out.push(a);
          expect(out).toEqual(commands);
          expect(dec.error).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });
});
