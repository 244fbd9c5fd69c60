// Tolerant mDNS packet decoding on top of dns-packet. Multicast DNS is an open channel: any host
// on the link can send anything, and real stacks send records dns-packet cannot read (Debian's
// python3-zeroconf writes NSEC with 16-bit window/length fields). One bad record must cost only
// that record, and nothing may throw out of the receive path.
import { Buffer } from "node:buffer";
import * as dns from "dns-packet";

/** A resource record with data; EDNS OPT pseudo-records carry none for mDNS and are dropped on decode. */
export type Answer = Exclude<dns.Answer, dns.OptAnswer>;

export interface Question {
  readonly name: string;
  readonly type: string;
  /** The top bit of the question class: the querier asks for a unicast reply (RFC 6762 §5.4). */
  readonly qu: boolean;
}

export interface Message {
  readonly id: number;
  readonly isResponse: boolean;
  readonly questions: readonly Question[];
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  readonly additionals: readonly Answer[];
  /** Records that were present but unreadable (or EDNS OPT, meaningless here), and dropped. */
  readonly skippedRecords: number;
}

export type DecodeResult =
  | { readonly ok: true; readonly message: Message }
  | { readonly ok: false; readonly error: string };

// dns-packet's per-record codecs are exported at run time but not in its type declarations.
interface RecordCodecs {
  name: { decode: ((buf: Buffer, offset: number) => string) & { bytes: number } };
  answer: { decode: ((buf: Buffer, offset: number) => dns.Answer) & { bytes: number }; encode(a: Answer): Buffer };
}
const codecs = dns as unknown as RecordCodecs;

const HEADER_BYTES = 12;
const QU_BIT = 0x8000;
const RESPONSE_BIT = 0x8000;

export function decodeMessage(bytes: Uint8Array): DecodeResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES)
    return { ok: false, error: `packet of ${buf.length} bytes is shorter than a DNS header` };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let offset = HEADER_BYTES;
  const questions: Question[] = [];
  try {
    for (let i = 0; i < counts[0]; i++) {
      const name = codecs.name.decode(buf, offset);
      offset += codecs.name.decode.bytes;
      if (offset + 4 > buf.length) throw new Error("question truncated");
      const type = typeName(buf.readUInt16BE(offset));
      const klass = buf.readUInt16BE(offset + 2);
      offset += 4;
      questions.push({ name, type, qu: (klass & QU_BIT) !== 0 });
    }
  } catch (e) {
    return { ok: false, error: `unreadable question ${questions.length + 1} of ${counts[0]}: ${errorText(e)}` };
  }
  let skippedRecords = 0;
  const sections: Answer[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const next = recordEnd(buf, offset);
      if (next === null) {
        // The rest of the packet cannot be framed: count what is lost and keep what was read.
        skippedRecords += counts[s + 1] - i + counts.slice(s + 2).reduce((a, b) => a + b, 0);
        return { ok: true, message: message(id, flags, questions, sections, skippedRecords) };
      }
      const record = decodeRecord(buf, offset, next);
      if (record) sections[s].push(record);
      else skippedRecords++;
      offset = next;
    }
  }
  return { ok: true, message: message(id, flags, questions, sections, skippedRecords) };
}

function message(id: number, flags: number, questions: Question[], s: Answer[][], skippedRecords: number): Message {
  return {
    id,
    isResponse: (flags & RESPONSE_BIT) !== 0,
    questions,
    answers: s[0],
    authorities: s[1],
    additionals: s[2],
    skippedRecords,
  };
}

/** Offset just past the record starting at `offset`, from its own RDLENGTH, or null if it does not fit. */
function recordEnd(buf: Buffer, offset: number): number | null {
  try {
    codecs.name.decode(buf, offset);
  } catch {
    return null;
  }
  const fixed = offset + codecs.name.decode.bytes;
  if (fixed + 10 > buf.length) return null;
  const end = fixed + 10 + buf.readUInt16BE(fixed + 8);
  return end <= buf.length ? end : null;
}

function decodeRecord(buf: Buffer, offset: number, end: number): Answer | null {
  try {
    // Compression pointers only point backwards, so cutting the buffer at the record's end
    // keeps every legal record readable and turns any over-read into an error.
    const record = codecs.answer.decode(buf.subarray(0, end), offset);
    if (offset + codecs.answer.decode.bytes !== end || record.type === "OPT") return null;
    return record;
  } catch {
    return null;
  }
}

export interface OutMessage {
  readonly id?: number;
  readonly isResponse: boolean;
  readonly questions?: readonly { readonly name: string; readonly type: string }[];
  readonly answers?: readonly Answer[];
  readonly authorities?: readonly Answer[];
  readonly additionals?: readonly Answer[];
}

export function encodeMessage(m: OutMessage): Uint8Array {
  return dns.encode({
    id: m.id ?? 0,
    type: m.isResponse ? "response" : "query",
    flags: m.isResponse ? dns.AUTHORITATIVE_ANSWER : 0,
    questions: (m.questions ?? []).map((q) => ({ name: q.name, type: q.type as dns.RecordType, class: "IN" })),
    answers: [...(m.answers ?? [])],
    authorities: [...(m.authorities ?? [])],
    additionals: [...(m.additionals ?? [])],
  });
}

/** The record's class, type and RDATA as bytes: the identity RFC 6762 compares records by. */
export function rdataBytes(a: Answer): Buffer {
  const full = codecs.answer.encode({ ...a, name: ".", ttl: 0, flush: false } as Answer);
  // Layout: root name (1 byte), type (2), class (2), TTL (4), RDLENGTH (2), RDATA.
  return Buffer.concat([full.subarray(3, 5), full.subarray(1, 3), full.subarray(11)]);
}

export function sameRecord(a: Answer, b: Answer): boolean {
  return sameName(a.name, b.name) && rdataBytes(a).equals(rdataBytes(b));
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function ttlOf(a: Answer): number {
  return "ttl" in a && typeof a.ttl === "number" ? a.ttl : 0;
}

export function isFlush(a: Answer): boolean {
  return "flush" in a && a.flush === true;
}

const TYPE_NAMES: Record<number, string> = {
  1: "A",
  12: "PTR",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  47: "NSEC",
  255: "ANY",
};
function typeName(code: number): string {
  return TYPE_NAMES[code] ?? `UNKNOWN_${code}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
