// DUMP payloads (redis/src/cluster.c createDumpPayload / verifyDumpPayload): the RDB object (type byte
// and encoded value), the RDB version as u16 LE, and the CRC-64 of everything before it as u64 LE.
import { crc64Bytes } from "./crc64.ts";
import { RdbFormatError } from "./errors.ts";
import { RdbReader } from "./reader.ts";
import { readValue, writeValue, type RdbValue } from "./value.ts";
import { RdbWriter } from "./writer.ts";

/** The RDB version Redis 7.0 writes; it refuses payloads of a newer one. */
export const RDB_VERSION = 10;
const FOOTER = 10;

export function dumpPayload(v: RdbValue): Uint8Array {
  const w = new RdbWriter();
  writeValue(v, w);
  w.byte(RDB_VERSION & 0xff);
  w.byte(RDB_VERSION >> 8);
  w.bytes(crc64Bytes(w.finish()));
  return w.finish();
}

export type LoadResult =
  | { readonly ok: true; readonly value: RdbValue }
  /** "footer": a newer RDB version or a wrong checksum; "format": the value does not decode. */
  | { readonly ok: false; readonly reason: "footer" | "format"; readonly detail: string };

export function loadPayload(payload: Uint8Array): LoadResult {
  if (payload.length < FOOTER) return { ok: false, reason: "footer", detail: "payload shorter than its footer" };
  const version = payload[payload.length - FOOTER]! | (payload[payload.length - FOOTER + 1]! << 8);
  if (version > RDB_VERSION) return { ok: false, reason: "footer", detail: `RDB version ${version}` };
  const crc = crc64Bytes(payload.subarray(0, payload.length - 8));
  const stored = payload.subarray(payload.length - 8);
  if (crc.some((b, i) => b !== stored[i])) return { ok: false, reason: "footer", detail: "checksum mismatch" };
  // Like Redis, the object is read from the whole payload: only the checksum bounds it.
  const r = new RdbReader(payload);
  try {
    return { ok: true, value: readValue(r.byte(), r) };
  } catch (e) {
    if (e instanceof RdbFormatError || e instanceof RangeError) {
      return { ok: false, reason: "format", detail: e.message };
    }
    throw e;
  }
}
