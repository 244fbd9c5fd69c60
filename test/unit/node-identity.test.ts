import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataDirId, readIdentity, writeIdentity } from "../../src/node-identity.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-identity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a data dir's id is added once, stable while it holds Raft state, and new when it holds none", () => {
  const record = { node_id: "n1", mode: "cluster", partition_count: 16 } as const;
  writeIdentity(root, record);
  const first = dataDirId(root, false);
  expect(first).toMatch(/^[0-9a-f-]{36}$/);
  expect(readIdentity(root)).toEqual({ ...record, data_dir_id: first });
  expect(dataDirId(root, false)).toBe(first);
  // raft.db lost or wiped (flydb-node.json kept or written again): no vote record, another id.
  const renewed = dataDirId(root, true);
  expect(renewed).not.toBe(first);
  expect(dataDirId(root, false)).toBe(renewed);
  expect(() => dataDirId(join(root, "none"), false)).toThrow("has no flydb-node.json");
});
