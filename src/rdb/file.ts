// Whole RDB files (redis/src/rdb.c rdbLoadRio / rdbSaveRio): the "REDIS" magic and a 4-digit version,
// then opcodes (AUX fields, SELECTDB, RESIZEDB, per-key EXPIRETIME/IDLE/FREQ, functions) around
// type+key+value records, the EOF opcode and, from version 5, the CRC-64 of everything before it.
// Values are read with readValue, which also checks that each one decodes.
import { crc64 } from "./crc64.ts";
import { RdbReader } from "./reader.ts";
import { byteText } from "./text.ts";
import { RDB_TYPE, readValue, writeValue, type RdbValue } from "./value.ts";
import { RdbWriter } from "./writer.ts";

/** Opcodes between records (redis/src/rdb.h RDB_OPCODE_*). */
export const RDB_OPCODE = {
  FUNCTION2: 245,
  FUNCTION_PRE_GA: 246,
  MODULE_AUX: 247,
  IDLE: 248,
  FREQ: 249,
  AUX: 250,
  RESIZEDB: 251,
  EXPIRETIME_MS: 252,
  EXPIRETIME: 253,
  SELECTDB: 254,
  EOF: 255,
} as const;

/** The newest file version read: Redis 7.0's (6.x writes 9). */
export const RDB_FILE_VERSION = 10;
const MAGIC = "REDIS";
/** Files carry a checksum from this version on (redis/src/rdb.c, RDB_VERSION >= 5). */
const CHECKSUM_SINCE = 5;

/** One key of the file: its object is the type byte and encoded value, as a DUMP payload holds it. */
export interface RdbRecord {
  readonly db: number;
  readonly key: Uint8Array;
  /** Absolute expiry, unix milliseconds; undefined when the key does not expire. */
  readonly expireAtMs: number | undefined;
  readonly type: number;
  readonly object: Uint8Array;
  /** Byte offset of the record (its expiry opcode when it has one) in the file. */
  readonly offset: number;
}

export interface RdbFile {
  readonly version: number;
  readonly aux: ReadonlyMap<string, string>;
  readonly records: readonly RdbRecord[];
  /** Function libraries' source code (RDB_OPCODE_FUNCTION2), in file order. */
  readonly functions: readonly Uint8Array[];
  /** "absent": an old version or a file saved with rdbchecksum no (a zero checksum). */
  readonly checksum: "verified" | "absent";
}

/** A file that cannot be loaded; `offset` (and `key` when inside a record) say where. */
export class RdbFileError extends Error {
  override readonly name = "RdbFileError";
  constructor(
    readonly detail: string,
    readonly offset: number,
    readonly key?: Uint8Array,
  ) {
    super(`${detail} at offset ${offset}${key ? ` (key ${JSON.stringify(byteText(key))})` : ""}`);
  }
}

/** Reads and checks a whole file: every value decodes and the checksum matches, or it throws. */
export function parseRdbFile(data: Uint8Array): RdbFile {
  const version = header(data);
  const r = new RdbReader(data);
  r.bytes(9);
  const aux = new Map<string, string>();
  const records: RdbRecord[] = [];
  const functions: Uint8Array[] = [];
  let db = 0;
  for (;;) {
    const start = r.offset;
    let op = at(r, start, undefined, () => r.byte());
    let expireAtMs: number | undefined;
    // Per-key opcodes come before the record they qualify, in any order.
    for (;;) {
      if (op === RDB_OPCODE.EXPIRETIME_MS) {
        expireAtMs = at(r, start, undefined, () => Number(littleEndian(r.bytes(8)).getBigInt64(0, true)));
      } else if (op === RDB_OPCODE.EXPIRETIME) {
        expireAtMs = at(r, start, undefined, () => littleEndian(r.bytes(4)).getInt32(0, true) * 1000);
      } else if (op === RDB_OPCODE.IDLE) at(r, start, undefined, () => r.length());
      else if (op === RDB_OPCODE.FREQ) at(r, start, undefined, () => r.byte());
      else break;
      op = at(r, start, undefined, () => r.byte());
    }
    if (op === RDB_OPCODE.EOF) break;
    if (op === RDB_OPCODE.AUX) {
      const [k, v] = at(r, start, undefined, () => [r.string(), r.string()]);
      aux.set(byteText(k), byteText(v));
    } else if (op === RDB_OPCODE.SELECTDB) {
      db = at(r, start, undefined, () => r.length());
    } else if (op === RDB_OPCODE.RESIZEDB) {
      at(r, start, undefined, () => [r.length(), r.length()]);
    } else if (op === RDB_OPCODE.FUNCTION2) {
      functions.push(at(r, start, undefined, () => r.string()));
    } else if (op === RDB_OPCODE.FUNCTION_PRE_GA || op === RDB_OPCODE.MODULE_AUX) {
      throw new RdbFileError(op === RDB_OPCODE.MODULE_AUX ? "module data (not supported)" : "pre-7.0 functions", start);
    } else {
      const key = at(r, start, undefined, () => r.string());
      if (op === RDB_TYPE.MODULE || op === RDB_TYPE.MODULE_2) {
        throw new RdbFileError(`module value type ${op} (modules are not supported)`, start, key);
      }
      const objectStart = r.offset;
      at(r, start, key, () => readValue(op, r));
      const object = new Uint8Array(r.offset - objectStart + 1);
      object[0] = op;
      object.set(data.subarray(objectStart, r.offset), 1);
      records.push({ db, key, expireAtMs, type: op, object, offset: start });
    }
  }
  const end = r.offset;
  let checksum: RdbFile["checksum"] = "absent";
  if (version >= CHECKSUM_SINCE) {
    if (data.length < end + 8) throw new RdbFileError("file ends inside its checksum", end);
    const stored = new DataView(data.buffer, data.byteOffset + end, 8).getBigUint64(0, true);
    if (stored !== 0n) {
      const actual = crc64(0n, data.subarray(0, end));
      if (actual !== stored) {
        throw new RdbFileError(`checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)})`, end);
      }
      checksum = "verified";
    }
  }
  return { version, aux, records, functions, checksum };
}

function header(data: Uint8Array): number {
  const text = byteText(data.subarray(0, 9));
  if (data.length < 9 || !text.startsWith(MAGIC)) throw new RdbFileError("not an RDB file (no REDIS magic)", 0);
  const version = Number(text.slice(5));
  if (!/^\d{4}$/.test(text.slice(5)) || version < 1) throw new RdbFileError(`bad RDB version ${text.slice(5)}`, 5);
  if (version > RDB_FILE_VERSION) {
    throw new RdbFileError(`RDB version ${version} is newer than ${RDB_FILE_VERSION} (Redis 7.0)`, 5);
  }
  return version;
}

/** Runs a read, turning a decoding failure into an RdbFileError that names the record. */
function at<T>(r: RdbReader, start: number, key: Uint8Array | undefined, read: () => T): T {
  try {
    return read();
  } catch (e) {
    // RdbFormatError and RangeError from a malformed value, or readValue refusing a type it lacks.
    if (!(e instanceof Error)) throw e;
    const why = e.message.startsWith("payload ends") ? `file truncated (${e.message})` : e.message;
    throw new RdbFileError(why, key ? start : r.offset, key);
  }
}

const littleEndian = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const hex = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;

/** One key to write: db, key, value and absolute expiry in unix ms. */
export interface RdbEntry {
  readonly key: Uint8Array;
  readonly value: RdbValue;
  readonly expireAtMs?: number;
}

/**
 * Writes a file Redis 7.0 loads, in pieces (`take` hands over what is ready) so a large dataset
 * streams out: header and AUX fields, then one database's keys, then EOF and the checksum.
 */
export class RdbFileWriter {
  private w = new RdbWriter();
  private crc = 0n;

  constructor(aux: ReadonlyMap<string, string>, db = 0, sizes?: { keys: number; expires: number }) {
    this.w.bytes(new TextEncoder().encode(`${MAGIC}${String(RDB_FILE_VERSION).padStart(4, "0")}`));
    const enc = new TextEncoder();
    for (const [k, v] of aux) {
      this.w.byte(RDB_OPCODE.AUX);
      this.w.string(enc.encode(k));
      this.w.string(enc.encode(v));
    }
    this.w.byte(RDB_OPCODE.SELECTDB);
    this.w.length(db);
    if (sizes) {
      this.w.byte(RDB_OPCODE.RESIZEDB);
      this.w.length(sizes.keys);
      this.w.length(sizes.expires);
    }
  }

  add(e: RdbEntry): void {
    const obj = new RdbWriter();
    writeValue(e.value, obj);
    this.addObject(e.key, obj.finish(), e.expireAtMs);
  }

  /** A key whose object (type byte and encoded value, a DUMP payload's body) is already encoded. */
  addObject(key: Uint8Array, object: Uint8Array, expireAtMs?: number): void {
    if (expireAtMs !== undefined) {
      this.w.byte(RDB_OPCODE.EXPIRETIME_MS);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt(expireAtMs), true);
      this.w.bytes(b);
    }
    // The key goes between the type byte and the value.
    this.w.byte(object[0]!);
    this.w.string(key);
    this.w.bytes(object.subarray(1));
  }

  /** The bytes written since the last take. */
  take(): Uint8Array {
    const out = this.w.finish().slice();
    this.crc = crc64(this.crc, out);
    this.w = new RdbWriter();
    return out;
  }

  /** EOF and the checksum: the last bytes of the file. */
  end(): Uint8Array {
    this.w.byte(RDB_OPCODE.EOF);
    const body = this.take();
    const out = new Uint8Array(body.length + 8);
    out.set(body);
    new DataView(out.buffer).setBigUint64(body.length, this.crc, true);
    return out;
  }
}
