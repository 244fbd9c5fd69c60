// The RDB codec of src/rdb: Redis's CRC-64 test vector, LZF round trips, and each compact
// encoding read back from what FlyDB writes and from hand-built payloads of the older forms.
import { describe, expect, test } from "bun:test";
import { crc64 } from "../../src/rdb/crc64.ts";
import { dumpPayload, loadPayload } from "../../src/rdb/dump.ts";
import { readIntset, writeIntset } from "../../src/rdb/intset.ts";
import { readListpack, writeListpack } from "../../src/rdb/listpack.ts";
import { lzfCompress, lzfDecompress } from "../../src/rdb/lzf.ts";
import type { RdbValue } from "../../src/rdb/value.ts";
import { readZiplist } from "../../src/rdb/ziplist.ts";
import { payload, rdbString, ziplist } from "../helpers/ziplist.ts";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const texts = (xs: readonly Uint8Array[]) => xs.map((x) => Buffer.from(x).toString("latin1"));

describe("crc64", () => {
  test("Redis's test vector (redis/src/crc64.c)", () => {
    expect(crc64(0n, b("123456789"))).toBe(0xe9c6d914c4b8d9can);
  });
  test("continues a running value", () => {
    expect(crc64(crc64(0n, b("1234")), b("56789"))).toBe(0xe9c6d914c4b8d9can);
  });
  test("Redis's second vector: the lorem ipsum sentence with its C string terminator", () => {
    const li =
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore " +
      "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex " +
      "ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat " +
      "nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit " +
      "anim id est laborum.\0";
    expect(crc64(0n, b(li))).toBe(0xc7794709e69683b3n);
  });
});

describe("lzf", () => {
  const seeded = (n: number, alphabet: number) => {
    let x = 0x9e3779b9;
    return Uint8Array.from({ length: n }, () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % alphabet;
    });
  };
  const cases: [string, Uint8Array][] = [
    ["a run", new Uint8Array(1000).fill(97)],
    ["a repeated phrase", b("hello world, ".repeat(50))],
    ["small alphabet", seeded(5000, 4)],
    ["long with far matches", Uint8Array.from({ length: 70000 }, (_, i) => (i * 7) % 251)],
  ];
  for (const [name, input] of cases) {
    test(`round trip: ${name}`, () => {
      const packed = lzfCompress(input)!;
      expect(packed).toBeDefined();
      expect(packed.length).toBeLessThan(input.length - 4);
      expect(lzfDecompress(packed, input.length)).toEqual(input);
    });
  }
  test("incompressible data is left alone", () => {
    expect(lzfCompress(seeded(3000, 256))).toBeUndefined();
    expect(lzfCompress(b("abc"))).toBeUndefined();
  });
  test("a wrong expanded length or a reference before the start is refused", () => {
    const packed = lzfCompress(b("x".repeat(100)))!;
    expect(() => lzfDecompress(packed, 99)).toThrow();
    expect(() => lzfDecompress(packed, 101)).toThrow();
    expect(() => lzfDecompress(Uint8Array.from([0x20, 0x05]), 3)).toThrow();
    // A forged expanded length is refused before anything is allocated.
    expect(() => lzfDecompress(Uint8Array.from([0xe0, 0xff, 0x00]), 2 ** 31)).toThrow(/cannot expand/);
  });
});

describe("compact encodings", () => {
  test("listpack: every integer width and string length form", () => {
    const items = [
      "0",
      "127",
      "128",
      "-1",
      "-4096",
      "4095",
      "4096",
      "-32768",
      "32767",
      "-8388608",
      "8388607",
      "2147483647",
      "-2147483648",
      "2147483648",
      "9223372036854775807",
      "-9223372036854775808",
      "",
      "007",
      "+1",
      "1.5",
      "x".repeat(63),
      "y".repeat(64),
      "z".repeat(4095),
      "w".repeat(4096),
      "-0",
    ].map(b);
    expect(texts(readListpack(writeListpack(items)))).toEqual(texts(items));
  });
  test("listpack: a wrong header size or a missing terminator is refused", () => {
    const lp = writeListpack([b("a"), b("1")]);
    expect(() => readListpack(lp.subarray(0, lp.length - 1))).toThrow();
    const bad = lp.slice();
    bad[0] = bad[0]! + 1;
    expect(() => readListpack(bad)).toThrow();
  });
  test("intset: widths 2, 4 and 8, sorted on write", () => {
    for (const xs of [
      ["3", "1", "2"],
      ["-70000", "5"],
      ["9223372036854775807", "-1"],
    ]) {
      const back = texts(readIntset(writeIntset(xs.map(b))!));
      expect(back).toEqual([...xs].sort((x, y) => Number(BigInt(x) - BigInt(y))));
    }
    expect(writeIntset([b("1"), b("a")])).toBeUndefined();
  });
  test("ziplist: strings and every integer form", () => {
    const items = [
      "a",
      "",
      "x".repeat(100),
      "y".repeat(20000),
      "0",
      "12",
      "13",
      "-1",
      "300",
      "70000",
      "-9000000",
      "5000000000",
      "-128",
    ];
    expect(texts(readZiplist(ziplist(items.map(b))))).toEqual(items);
  });
});

/** RDB version 10 and the CRC-64 after `body`. */
function withFooter(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 10);
  out.set(body);
  out[body.length] = 10;
  new DataView(out.buffer).setBigUint64(body.length + 2, crc64(0n, out.subarray(0, body.length + 2)), true);
  return out;
}

/** An object's bytes without the footer `payload` adds. */
const oldPayload = (object: number[]) => {
  const p = payload(object);
  return p.subarray(0, p.length - 10);
};

/** A value as sorted text: sets, hashes and skiplists come back in another order. */
function normalize(v: RdbValue): string[] {
  const t = (x: Uint8Array) => texts([x])[0]!;
  const score = (n: number) => (Object.is(n, -0) ? "-0" : String(n));
  if (v.type === "string") return [t(v.value)];
  if (v.type === "list") return v.items.map(t);
  if (v.type === "set") return v.members.map(t).sort();
  if (v.type === "zset") return v.entries.map((e) => `${t(e.member)}=${score(e.score)}`).sort();
  if (v.type === "stream") {
    return [JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x instanceof Uint8Array ? t(x) : x))];
  }
  return v.entries.map(([f, x]) => `${t(f)}=${t(x)}`).sort();
}

const values: RdbValue[] = [
  { type: "string", value: b("hello") },
  { type: "string", value: b("-12345") },
  { type: "string", value: b("a".repeat(200)) },
  { type: "list", items: Array.from({ length: 3000 }, (_, i) => b(`item-${i}`)) },
  { type: "set", members: [b("3"), b("1"), b("2")], compact: true },
  { type: "set", members: [b("a"), b("b")], compact: false },
  {
    type: "zset",
    entries: [
      { member: b("a"), score: -Infinity },
      { member: b("b"), score: 0.1 },
    ],
    compact: true,
  },
  {
    type: "zset",
    entries: [
      { member: b("a"), score: -0 },
      { member: b("b"), score: 1e300 },
    ],
    compact: false,
  },
  {
    type: "hash",
    entries: [
      [b("f"), b("1")],
      [b("g"), b("v")],
    ],
    compact: true,
  },
  { type: "hash", entries: [[b("f"), b("x".repeat(100))]], compact: false },
  {
    // Several nodes (past 100 entries), entries with and without the master's fields, 64-bit IDs.
    type: "stream",
    entries: Array.from({ length: 250 }, (_, i) => ({
      id: { ms: BigInt(1000 + i), seq: BigInt(i % 3) },
      fields: i % 7 === 0 ? [b("other"), b(`${i}`), b("x"), b("y")] : [b("f"), b(`v${i}`)],
    })).concat([{ id: { ms: 2n ** 64n - 1n, seq: 5n }, fields: [b("f"), b("last")] }]),
    lastId: { ms: 2n ** 64n - 1n, seq: 5n },
    maxDeletedId: { ms: 1100n, seq: 0n },
    entriesAdded: 300n,
    groups: [
      { name: b("a"), lastId: { ms: 0n, seq: 0n }, entriesRead: undefined, consumers: [], pending: [] },
      {
        name: b("g"),
        lastId: { ms: 1003n, seq: 0n },
        entriesRead: 4n,
        consumers: [
          { name: b("alice"), seenTime: 1_700_000_000_000 },
          { name: b("bob"), seenTime: 5 },
        ],
        pending: [
          { id: { ms: 1000n, seq: 0n }, consumer: b("bob"), deliveryTime: 1_700_000_000_001, deliveryCount: 2 },
          { id: { ms: 1001n, seq: 1n }, consumer: b("alice"), deliveryTime: 7, deliveryCount: 1 },
        ],
      },
    ],
    nodeEntries: 100,
    nodeBytes: 4096,
  },
];

describe("DUMP payloads", () => {
  for (const v of values) {
    test(`${v.type} round trip`, () => {
      const back = loadPayload(dumpPayload(v));
      expect(back.ok).toBe(true);
      if (!back.ok) return;
      expect(normalize(back.value)).toEqual(normalize(v));
    });
  }
  test("corrupted values with a right checksum are refused, never thrown", () => {
    let x = 0x1234567;
    const rand = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const seeds = [...values, { type: "list", items: [b("ab"), b("1")] } as RdbValue];
    const bodies = seeds.map((v) => dumpPayload(v)).map((p) => p.subarray(0, p.length - 10));
    // Old forms too: their readers must bounds-check as well.
    bodies.push(Uint8Array.from(oldPayload([10, ...rdbString(ziplist([b("a"), b("300"), b("x".repeat(70))]))])));
    bodies.push(Uint8Array.from(oldPayload([9, ...rdbString(Uint8Array.from([1, 1, 97, 1, 0, 98, 0xff]))])));
    const outcomes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const body = bodies[rand(bodies.length)]!.slice();
      for (let k = 1 + rand(3); k > 0; k--) body[rand(body.length)] = rand(256);
      const cut = rand(4) === 0 ? body.subarray(0, rand(body.length) + 1) : body;
      const r = loadPayload(withFooter(cut));
      outcomes.add(r.ok ? "ok" : r.reason);
    }
    expect([...outcomes].sort()).toEqual(["format", "ok"]);
  });
  test("a flipped bit, a newer RDB version or a short payload fails the footer check", () => {
    const p = dumpPayload({ type: "string", value: b("hello") });
    const flipped = p.slice();
    flipped[1] = flipped[1]! ^ 1;
    expect(loadPayload(flipped)).toMatchObject({ ok: false, reason: "footer" });
    expect(loadPayload(p.subarray(0, 9))).toMatchObject({ ok: false, reason: "footer" });
    const newer = p.slice();
    newer[p.length - 10] = 11;
    expect(loadPayload(newer)).toMatchObject({ ok: false, reason: "footer" });
  });
});
