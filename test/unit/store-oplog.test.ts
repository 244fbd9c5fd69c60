import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENTRY_NORMAL, type LogEntry, OpLog } from "../../src/store/oplog.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-oplog-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(root, `raft-${files++}.db`);

const entry = (idx: number, term = 1): LogEntry => ({
  idx,
  term,
  kind: ENTRY_NORMAL,
  data: new Uint8Array([idx & 0xff, 0, 255]),
});

test("fsync = always waits for FULL sync on every commit; everysec and no for NORMAL", () => {
  for (const [fsync, level] of [
    ["always", "FULL"],
    ["everysec", "NORMAL"],
    ["no", "NORMAL"],
  ] as const) {
    const log = OpLog.open(freshPath(), fsync);
    expect(log.synchronous()).toBe(level);
    log.close();
  }
});

test("append, read back, compact: groups are independent and the compaction point is kept", () => {
  const path = freshPath();
  const log = OpLog.open(path, "always");
  log.append(1, [entry(1), entry(2), entry(3, 2)]);
  log.append(1, [entry(4, 2)]);
  log.append(2, [entry(1)]);
  expect(log.commits).toBe(3);
  expect(log.lastIndex(1)).toBe(4);
  expect(log.lastIndex(2)).toBe(1);
  expect(log.lastIndex(3)).toBe(0);
  expect(log.entriesAfter(1, 1, 2)).toEqual([entry(2), entry(3, 2)]);
  expect(log.compact(1, 3, 99)).toBe(3);
  expect(log.snapshot(1)).toEqual({ idx: 3, term: 2 }); // the term of the entry compacted last
  expect(log.compact(1, 2, 99)).toBe(0); // never backwards
  expect(log.entriesAfter(1, 0, 10)).toEqual([entry(4, 2)]);
  expect(log.compact(1, 4, 99)).toBe(1);
  expect(log.lastIndex(1)).toBe(4); // an empty log still knows where it ended
  expect(log.compact(1, 6, 7)).toBe(0); // beyond the log: recorded with the given term
  expect(log.snapshot(1)).toEqual({ idx: 6, term: 7 });
  expect(log.lastIndex(2)).toBe(1);
  log.close();
  const reopened = OpLog.open(path, "no");
  expect(reopened.lastIndex(1)).toBe(6);
  expect(reopened.entriesAfter(2, 0, 10)).toEqual([entry(1)]);
  reopened.close();
});

test("a failed append leaves nothing behind", () => {
  const log = OpLog.open(freshPath(), "always");
  log.append(1, [entry(1)]);
  expect(() => log.append(1, [entry(2), entry(1)])).toThrow(/UNIQUE|PRIMARY KEY/i);
  expect(log.lastIndex(1)).toBe(1);
  expect(log.commits).toBe(1);
  log.append(1, [entry(2)]);
  expect(log.lastIndex(1)).toBe(2);
  log.close();
});
