// Group commit throughput of the store: one proposer awaiting each write (one op per fsynced
// commit) against many concurrent proposers (ops of one turn share a commit), per fsync mode.
// Run: MSGPACKR_NATIVE_ACCELERATION_DISABLED=true npx bun bench/store-commit.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FsyncMode } from "../src/store/oplog.ts";
import { StoreEngine } from "../src/store/engine.ts";
import { op, testApply, utf8 } from "../test/helpers/store-apply.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-bench-store-"));
let runs = 0;

async function measure(fsync: FsyncMode, proposers: number, total: number) {
  let commits = 0;
  const engine = await StoreEngine.open({
    dataDir: join(root, `run-${runs++}`),
    fsync,
    apply: testApply,
    onCommit: () => commits++,
    compactIntervalMs: 0,
    expireIntervalMs: 0,
  });
  let next = 0;
  const value = "x".repeat(64);
  const proposer = async () => {
    while (next < total) {
      const i = next++;
      await engine.propose(op(Date.now(), ["set", `key:${i % 100_000}`, value]));
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: proposers }, proposer));
  const seconds = (performance.now() - start) / 1000;
  const compactStart = performance.now();
  const compacted = await engine.compact(10_000);
  const compactMs = performance.now() - compactStart;
  await engine.close();
  return {
    fsync,
    proposers,
    opsPerSec: Math.round(total / seconds),
    opsPerCommit: +(total / commits).toFixed(1),
    compacted,
    compactMs: +compactMs.toFixed(1),
  };
}

/** The keyspace hot paths: setString inside one big apply, then getString on the read view. */
async function hotPaths() {
  const engine = await StoreEngine.open({
    dataDir: join(root, `run-${runs++}`),
    fsync: "no",
    apply: testApply,
    compactIntervalMs: 0,
    expireIntervalMs: 0,
  });
  const n = 100_000;
  const value = utf8("x".repeat(64));
  const keys = Array.from({ length: n }, (_, i) => utf8(`key:${i}`));
  let start = performance.now();
  await engine.propose({ cmds: keys.map((k) => [utf8("set"), k, value]), now: 0, seed: 0 });
  const setStringPerSec = Math.round(n / ((performance.now() - start) / 1000));
  start = performance.now();
  for (let round = 0; round < 3; round++) for (const k of keys) engine.keyspace.getString(k, 0);
  const getStringPerSec = Math.round((3 * n) / ((performance.now() - start) / 1000));
  await engine.close();
  return { setStringPerSec, getStringPerSec };
}

const results = [];
for (const fsync of ["always", "everysec"] as const) {
  results.push(await measure(fsync, 1, 3000));
  results.push(await measure(fsync, 50, 30_000));
  results.push(await measure(fsync, 500, 100_000));
}
console.table(results);
console.table([await hotPaths()]);
rmSync(root, { recursive: true, force: true });
