import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataDirId, readIdentity, writeIdentity } from "../../src/node-identity.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-identity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a data dir's id is stable, added once to a record an older version wrote, and new on an emptied data dir", () => {
  const older = { node_id: "n1", mode: "cluster", partition_count: 16 } as const;
  writeIdentity(root, older);
  const first = dataDirId(root);
  expect(first).toMatch(/^[0-9a-f-]{36}$/);
  expect(readIdentity(root)).toEqual({ ...older, data_dir_id: first });
  expect(dataDirId(root)).toBe(first);
  // Wiped: the record is written again at first start, and the id with it is another.
  rmSync(join(root, "flydb-node.json"));
  writeIdentity(root, older);
  expect(dataDirId(root)).not.toBe(first);
  expect(() => dataDirId(join(root, "none"))).toThrow("has no flydb-node.json");
});
