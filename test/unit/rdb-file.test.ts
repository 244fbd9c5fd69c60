// RDB files (src/rdb/file.ts): what the writer produces reads back key by key with expiries; every
// way a file can be bad is refused with the offset, and the key when the damage is inside a record.
import { describe, expect, test } from "bun:test";
import { crc64 } from "../../src/rdb/crc64.ts";
import { parseRdbFile, RDB_OPCODE, RdbFileError, RdbFileWriter } from "../../src/rdb/file.ts";
import { loadPayload } from "../../src/rdb/dump.ts";
import { restorePayload } from "../../cli/admin/import-rdb.ts";
import { rdbString, ziplist } from "../helpers/ziplist.ts";

const b = (s: string) => new TextEncoder().encode(s);

function sample(): Uint8Array {
  const w = new RdbFileWriter(new Map([["redis-ver", "7.0.15"]]), 0, { keys: 3, expires: 1 });
  w.add({ key: b("s"), value: { type: "string", value: b("hello") } });
  w.add({ key: b("l"), value: { type: "list", items: [b("a"), b("b")] }, expireAtMs: 1_900_000_000_123 });
  const head = w.take();
  w.add({ key: b("h"), value: { type: "hash", entries: [[b("f"), b("v")]], compact: true } });
  const tail = w.end();
  return Buffer.concat([head, tail]);
}

function refusal(data: Uint8Array): RdbFileError {
  try {
    parseRdbFile(data);
  } catch (e) {
    if (e instanceof RdbFileError) return e;
    throw e;
  }
  throw new Error("parsed a bad file");
}

/** The file with its checksum recomputed, as Redis would have written the altered bytes. */
function resealed(data: Uint8Array): Uint8Array {
  const out = Uint8Array.from(data);
  new DataView(out.buffer).setBigUint64(out.length - 8, crc64(0n, out.subarray(0, out.length - 8)), true);
  return out;
}

describe("RDB files", () => {
  test("written in pieces, read back with expiries, AUX fields and a verified checksum", () => {
    const f = parseRdbFile(sample());
    expect(f.version).toBe(10);
    expect(f.checksum).toBe("verified");
    expect(f.aux.get("redis-ver")).toBe("7.0.15");
    expect(f.records.map((r) => [new TextDecoder().decode(r.key), r.expireAtMs])).toEqual([
      ["s", undefined],
      ["l", 1_900_000_000_123],
      ["h", undefined],
    ]);
    // A record's object is a DUMP payload's body: FlyDB's RESTORE loads it.
    const loaded = loadPayload(restorePayload(f.records[2]!, f.version));
    expect(loaded).toEqual({ ok: true, value: { type: "hash", entries: [[b("f"), b("v")]], compact: true } });
  });

  test("a zero checksum means the file was saved without one", () => {
    const data = sample();
    data.fill(0, data.length - 8);
    expect(parseRdbFile(data).checksum).toBe("absent");
  });

  test("a flipped byte fails the checksum, reported at its offset", () => {
    const data = sample();
    const at = data.indexOf(b("hello")[0]!, 20);
    data[at] = "j".charCodeAt(0);
    const e = refusal(data);
    expect(e.detail).toMatch(/^checksum mismatch/);
    expect(e.offset).toBe(data.length - 8);
  });

  test("truncation inside a record names the key", () => {
    const data = sample();
    const cut = data.lastIndexOf(b("h")[0]!) + 3;
    const e = refusal(data.subarray(0, cut));
    expect(e.message).toMatch(/^file truncated .* at offset \d+ \(key "h"\)$/);
    expect(refusal(data.subarray(0, data.length - 3)).detail).toBe("file ends inside its checksum");
  });

  test("module and unknown value types name the key and the record's offset", () => {
    const data = sample();
    // The string record "s" starts right after RESIZEDB: its first byte is the type.
    const s = data.indexOf(RDB_OPCODE.RESIZEDB) + 3;
    expect(data[s]).toBe(0);
    const mod = Uint8Array.from(data);
    mod[s] = 7;
    const e = refusal(resealed(mod));
    expect(e.message).toBe(`module value type 7 (modules are not supported) at offset ${s} (key "s")`);
    const unknown = Uint8Array.from(data);
    unknown[s] = 99;
    expect(refusal(resealed(unknown)).message).toMatch(new RegExp(`type 99 at offset ${s} \\(key "s"\\)$`));
  });

  test("not an RDB file, or a version newer than Redis 7.0's", () => {
    expect(refusal(b("hello world")).detail).toMatch(/no REDIS magic/);
    const v11 = sample();
    v11.set(b("0011"), 5);
    expect(refusal(v11).detail).toMatch(/version 11 is newer/);
  });

  test("a Redis 6 file (version 9): ziplist values, second-resolution expiry, IDLE and FREQ skipped", () => {
    const zl = rdbString(ziplist([b("a"), b("1"), b("b"), b("2.5")]));
    const body = Buffer.from([
      ...b("REDIS0009"),
      RDB_OPCODE.AUX,
      ...rdbString(b("redis-ver")),
      ...rdbString(b("6.2.14")),
      RDB_OPCODE.SELECTDB,
      3,
      RDB_OPCODE.RESIZEDB,
      1,
      1,
      RDB_OPCODE.EXPIRETIME,
      ...[0x80, 0xf0, 0xfa, 0x70], // 1895493760 s, little-endian
      RDB_OPCODE.IDLE,
      5,
      RDB_OPCODE.FREQ,
      9,
      12, // ZSET_ZIPLIST
      ...rdbString(b("z")),
      ...zl,
      RDB_OPCODE.EOF,
    ]);
    const crc = Buffer.alloc(8);
    crc.writeBigUInt64LE(crc64(0n, body));
    const f = parseRdbFile(Buffer.concat([body, crc]));
    expect(f).toMatchObject({ version: 9, checksum: "verified" });
    expect(f.records).toHaveLength(1);
    expect(f.records[0]).toMatchObject({ db: 3, type: 12, expireAtMs: 1_895_493_760_000 });
    const loaded = loadPayload(restorePayload(f.records[0]!, f.version));
    expect(loaded).toMatchObject({ ok: true, value: { type: "zset", entries: [{ score: 1 }, { score: 2.5 }] } });
  });
});
