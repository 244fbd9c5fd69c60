// Group commit throughput of a standalone node's write path (src/cluster/standalone.ts, in this
// process, no sockets): one proposer awaiting each write (one op per fsynced commit) against many
// concurrent proposers (ops of one turn share a commit), per fsync mode.
// Run: MSGPACKR_NATIVE_ACCELERATION_DISABLED=true npx bun bench/store-commit.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FsyncMode } from "../src/store/sqlite-sync.ts";
import { op, utf8 } from "../test/helpers/ops.ts";
import { openStandalone } from "../test/helpers/standalone-host.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-bench-store-"));
let runs = 0;

async function measure(fsync: FsyncMode, proposers: number, total: number) {
  let commits = 0;
  const host = await openStandalone(join(root, `run-${runs++}`), { fsync });
  host.replicas.stats.onStorageCommit(() => commits++);
  let next = 0;
  const value = "x".repeat(64);
  const proposer = async () => {
    while (next < total) {
      const i = next++;
      await host.propose(op(Date.now(), ["set", `key:${i % 100_000}`, value]));
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: proposers }, proposer));
  const seconds = (performance.now() - start) / 1000;
  const saveStart = performance.now();
  host.save();
  const saveMs = performance.now() - saveStart;
  await host.stop();
  return {
    fsync,
    proposers,
    opsPerSec: Math.round(total / seconds),
    opsPerCommit: +(total / commits).toFixed(1),
    saveMs: +saveMs.toFixed(1),
  };
}

/** The keyspace hot paths: setString inside one big apply, then getString on the applied rows. */
async function hotPaths() {
  const host = await openStandalone(join(root, `run-${runs++}`), { fsync: "no" });
  const n = 100_000;
  const value = utf8("x".repeat(64));
  const keys = Array.from({ length: n }, (_, i) => utf8(`key:${i}`));
  let start = performance.now();
  await host.propose({ cmds: keys.map((k) => [utf8("set"), k, value]), now: 0, seed: 0, multi: true });
  const setStringPerSec = Math.round(n / ((performance.now() - start) / 1000));
  start = performance.now();
  const ks = host.replicas.keyspace;
  for (let round = 0; round < 3; round++) for (const k of keys) ks.getString(k, 0);
  const getStringPerSec = Math.round((3 * n) / ((performance.now() - start) / 1000));
  await host.stop();
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
