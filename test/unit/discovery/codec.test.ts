import { describe, expect, test } from "bun:test";
import type { Answer } from "../../../src/discovery/core/codec.ts";
import { decodeMessage, encodeMessage, rdataBytes, sameRecord } from "../../../src/discovery/core/codec.ts";

const ptr: Answer = { name: "_flydb._tcp.local", type: "PTR", ttl: 4500, data: "n1._flydb._tcp.local" };
const a: Answer = { name: "h.local", type: "A", ttl: 120, flush: true, data: "10.0.0.1" };

function decodeOk(bytes: Uint8Array) {
  const r = decodeMessage(bytes);
  if (!r.ok) throw new Error(`expected a decodable packet: ${r.error}`);
  return r.message;
}

function nameBytes(name: string): Buffer {
  return Buffer.concat([
    ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

/** One record as it appears on the wire (no compression: encodeMessage writes names in full). */
function recordOf(r: Answer): Buffer {
  return Buffer.from(encodeMessage({ isResponse: true, answers: [r] })).subarray(12);
}

/** The record-level bytes of one answer, to splice hand-made records into packets. */
function recordBytes(name: string, type: number, rdata: number[]): Buffer {
  const n = nameBytes(name);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(0x8001, 2);
  fixed.writeUInt32BE(120, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([n, fixed, Buffer.from(rdata)]);
}

function response(records: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8400, 2);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, ...records]);
}

describe("decodeMessage", () => {
  test("round-trips what encodeMessage writes", () => {
    const m = decodeOk(encodeMessage({ isResponse: true, answers: [ptr], additionals: [a] }));
    expect(m.isResponse).toBe(true);
    expect(m.answers).toHaveLength(1);
    expect(m.answers[0]).toMatchObject({ name: ptr.name, type: "PTR", data: "n1._flydb._tcp.local", ttl: 4500 });
    expect(m.additionals[0]).toMatchObject({ type: "A", data: "10.0.0.1", flush: true });
    expect(m.skippedRecords).toBe(0);
  });

  test("reads the QU bit that dns-packet's own question decoder loses", () => {
    const bytes = encodeMessage({ isResponse: false, questions: [{ name: "_flydb._tcp.local", type: "PTR" }] });
    const qu = Buffer.from(bytes);
    qu.writeUInt16BE(0x8001, qu.length - 2);
    expect(decodeOk(bytes).questions[0]).toEqual({ name: "_flydb._tcp.local", type: "PTR", qu: false });
    expect(decodeOk(qu).questions[0]).toEqual({ name: "_flydb._tcp.local", type: "PTR", qu: true });
  });

  test("python3-zeroconf's NSEC (16-bit window and length fields) does not disturb the records around it", () => {
    // zeroconf 0.47 writes: next name, window as 2 bytes, bitmap length as 2 bytes, bitmap.
    const zcNsec = recordBytes("h.local", 47, [...nameBytes("h.local"), 0x00, 0x00, 0x00, 0x01, 0x40]);
    const m = decodeOk(response([recordOf(ptr), zcNsec, recordOf(a)]));
    expect(m.answers.filter((r) => r.type !== "NSEC").map((r) => r.type)).toEqual(["PTR", "A"]);
    expect(m.answers.length + m.skippedRecords).toBe(3);
  });

  test("skips an unreadable record and keeps the ones around it", () => {
    // NSEC whose next-domain name is a compression pointer forward (illegal) into the next record.
    const badNsec = recordBytes("h.local", 47, [0xc0, 0xff, 0x00, 0x01, 0x40]);
    const m = decodeOk(response([recordOf(ptr), badNsec, recordOf(a)]));
    expect(m.answers.map((r) => r.type)).toEqual(["PTR", "A"]);
    expect(m.skippedRecords).toBe(1);
  });

  test("a record whose RDATA over-reads its RDLENGTH is skipped, not misread", () => {
    // TXT claiming a 20-byte string inside 3 bytes of RDATA.
    const pkt = response([recordBytes("x._flydb._tcp.local", 16, [20, 65, 66]), recordOf(a)]);
    const m = decodeOk(pkt);
    expect(m.answers.map((r) => r.type)).toEqual(["A"]);
    expect(m.skippedRecords).toBe(1);
  });

  test("a truncated packet keeps the whole records before the cut and counts the rest", () => {
    const full = encodeMessage({ isResponse: true, answers: [ptr, a, a] });
    const m = decodeOk(full.subarray(0, full.length - 3));
    expect(m.answers).toHaveLength(2);
    expect(m.skippedRecords).toBe(1);
  });

  test("garbage and short packets are errors, not exceptions", () => {
    expect(decodeMessage(new Uint8Array([1, 2, 3])).ok).toBe(false);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(3, 4); // three questions, none present
    expect(decodeMessage(header).ok).toBe(false);
    const loop = Buffer.concat([header.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    loop.writeUInt16BE(1, 4);
    expect(decodeMessage(loop).ok).toBe(false); // compression pointer to itself
  });
});

describe("record identity", () => {
  test("same name and rdata is the same record whatever the TTL, flush bit or name case", () => {
    expect(sameRecord(a, { ...a, name: "H.LOCAL", ttl: 0, flush: false } as Answer)).toBe(true);
    expect(sameRecord(a, { ...a, data: "10.0.0.2" } as Answer)).toBe(false);
  });
  test("rdata bytes start with class then type (RFC 6762 §8.2 order)", () => {
    expect([...rdataBytes(a).subarray(0, 4)]).toEqual([0, 1, 0, 1]);
    expect([...rdataBytes(a).subarray(4)]).toEqual([10, 0, 0, 1]);
  });
});
