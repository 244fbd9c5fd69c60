// The backup file format (src/store/backup-file.ts): what the encoder writes reads back whole, and
// a reader never takes a truncated, damaged, reordered or failed backup for a complete one.
import { describe, expect, test } from "bun:test";
import {
  BACKUP_FORMAT,
  BackupDecoder,
  BackupEncoder,
  type BackupEvent,
  BackupFileError,
  type BackupHeader,
} from "../../src/store/backup-file.ts";

const header: BackupHeader = {
  format: BACKUP_FORMAT,
  cluster_id: "c1",
  mode: "cluster",
  partition_count: 3,
  databases: 16,
  created_at: "2026-12-07T00:00:00.000Z",
  flydb_version: "test",
};

function encode(sections = 3, end: "trailer" | "fail" = "trailer"): Uint8Array {
  const e = new BackupEncoder();
  const parts = [e.header(header)];
  for (let p = 0; p < sections; p++) {
    parts.push(...e.section({ partition: p, index: 10 + p, data: new Uint8Array(100 * (p + 1)).fill(p + 1) }));
  }
  parts.push(end === "trailer" ? e.trailer() : BackupEncoder.failure("partition 2: no replica answered"));
  return Buffer.concat(parts);
}

/** Decodes `bytes` fed in chunks of `chunk` bytes. */
function decode(bytes: Uint8Array, chunk = bytes.length): BackupEvent[] {
  const d = new BackupDecoder();
  const events: BackupEvent[] = [];
  for (let i = 0; i < bytes.length; i += chunk) events.push(...d.push(bytes.subarray(i, i + chunk)));
  d.end();
  return events;
}

describe("backup file", () => {
  test("reads back header, every section with its index, and the trailer, whatever the chunking", () => {
    const bytes = encode();
    for (const chunk of [1, 7, 64, bytes.length]) {
      const events = decode(bytes, chunk);
      expect(events.map((e) => e.t)).toEqual(["header", "section", "section", "section", "trailer"]);
      expect(events[0]).toEqual({ t: "header", header });
      const sections = events.flatMap((e) => (e.t === "section" ? [e.section] : []));
      expect(sections.map((s) => [s.partition, s.index, s.data.length, s.data[0]])).toEqual([
        [0, 10, 100, 1],
        [1, 11, 200, 2],
        [2, 12, 300, 3],
      ]);
    }
  });

  test("every truncation is refused as truncated", () => {
    const bytes = encode();
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decode(bytes.subarray(0, n))).toThrow(BackupFileError);
    }
    expect(() => decode(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
  });

  test("a flipped bit anywhere is refused", () => {
    const bytes = encode();
    for (let i = 0; i < bytes.length; i += 13) {
      const damaged = Buffer.from(bytes);
      damaged[i]! ^= 0x10;
      expect(() => decode(damaged)).toThrow(BackupFileError);
    }
  });

  test("a node's failure, a missing partition and trailing bytes are refused", () => {
    expect(() => decode(encode(2, "fail"))).toThrow(/the node writing the backup failed: partition 2: no replica/);
    expect(() => decode(encode(2))).toThrow(/trailer lists 2 partitions, the file holds 2 of 3/);
    expect(() => decode(Buffer.concat([encode(), new Uint8Array(1)]))).toThrow(/1 bytes after the trailer/);
    expect(() => decode(new TextEncoder().encode("REDIS0010...."))).toThrow(/not a FlyDB backup/);
  });
});
