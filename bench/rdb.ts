// Redis RDB in and out (issue #22), against redis-server 7.0 in the same run on the same file:
// - import: `flydb import-rdb` of a dump.rdb into a standalone FlyDB (default fsync = "always",
//   every RESTORE replicated through the write path) vs redis-server loading that file at start;
// - export: `flydb export-rdb` of the imported keys vs redis-server's BGSAVE of the same keys, in MB/s
//   of the file written;
// - backup and restore: `flydb backup` (its own format, and --format rdb) of the same keys vs BGSAVE,
//   and `flydb restore` of that backup into a new data dir vs redis-server loading dump.rdb.
//   npx bun bench/rdb.ts [--keys 1000000]
// Keys: 90% strings of 16-100 bytes, 10% hashes of 5 fields; 1 in 20 with a TTL.
import { statSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import {
  DIST_BINARY,
  ensureBinary,
  runTool,
  type ServerProcess,
  startFlyDB,
  startRedisServer,
  tempDir,
} from "../test/helpers/processes.ts";
import { argValue } from "./lib.ts";

const KEYS = argValue("--keys", 1_000_000);
const PIPELINE = 1000;

function connect(s: ServerProcess): Redis {
  const c = new Redis({ port: s.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  c.on("error", () => {});
  return c;
}

async function fill(c: Redis): Promise<void> {
  for (let base = 0; base < KEYS; base += PIPELINE) {
    const p = c.pipeline();
    for (let i = base; i < Math.min(KEYS, base + PIPELINE); i++) {
      if (i % 10 === 9) p.hset(`h:${i}`, "a", i, "b", "x".repeat(i % 40), "c", "cc", "d", -i, "e", "e");
      else p.set(`s:${i}`, `value-${i}-${"v".repeat(i % 90)}`);
      if (i % 20 === 0) p.pexpire(i % 10 === 9 ? `h:${i}` : `s:${i}`, 86_400_000);
    }
    await p.exec();
  }
}

/** Seconds until `done()` holds, polled every 5 ms. */
async function timeUntil(start: () => Promise<unknown>, done: () => Promise<boolean>): Promise<number> {
  const t = performance.now();
  await start();
  while (!(await done())) await Bun.sleep(5);
  return (performance.now() - t) / 1000;
}

const mb = (bytes: number) => bytes / 1e6;

ensureBinary();
const source = await startRedisServer();
const redis = connect(source);
await fill(redis);
// BGSAVE forks before it replies, so the save is in progress until the flag drops.
const bgsave = await timeUntil(
  () => redis.bgsave(),
  async () => (await redis.info("persistence")).includes("rdb_bgsave_in_progress:0"),
);
const dump = join(source.dir, "dump.rdb");
const size = statSync(dump).size;

const loadDir = tempDir("bench-rdb");
await Bun.write(join(loadDir, "dump.rdb"), Bun.file(dump));
const loaded = await startRedisServer({ args: ["--dir", loadDir, "--dbfilename", "dump.rdb"] });
// It accepts connections (and answers -LOADING) before the load ends: wait for its own timing.
const loadTime = /DB loaded from disk: ([\d.]+) seconds/;
for (let waited = 0; !loadTime.test(loaded.log()); waited += 50) {
  if (waited > 600_000) throw new Error(`redis-server did not log its load time:\n${loaded.log()}`);
  await Bun.sleep(50);
}
const redisLoad = Number(loadTime.exec(loaded.log())![1]);

const fly = await startFlyDB({ binary: "dist" });
const importStarted = performance.now();
const imp = await runTool([DIST_BINARY, "import-rdb", dump, "--resp", `127.0.0.1:${fly.port}`, "--json"], {
  timeoutMs: 3_600_000,
});
const flyImport = (performance.now() - importStarted) / 1000;
if (imp.code !== 0) throw new Error(`import-rdb failed: ${imp.stderr}`);

const out = join(tempDir("bench-rdb-out"), "flydb.rdb");
const exportStarted = performance.now();
const exp = await runTool([DIST_BINARY, "export-rdb", out, "--resp", `127.0.0.1:${fly.port}`, "--json"], {
  timeoutMs: 3_600_000,
});
const flyExport = (performance.now() - exportStarted) / 1000;
if (exp.code !== 0) throw new Error(`export-rdb failed: ${exp.stderr}`);
const exportSize = statSync(out).size;

/** Seconds `flydb args…` takes; throws with its stderr when it fails. */
async function timed(args: string[]): Promise<number> {
  const t = performance.now();
  const r = await runTool([DIST_BINARY, ...args], { timeoutMs: 3_600_000 });
  if (r.code !== 0) throw new Error(`flydb ${args[0]} failed: ${r.stderr}`);
  return (performance.now() - t) / 1000;
}
const backupFile = join(tempDir("bench-backup"), "flydb.backup");
const http = `127.0.0.1:${fly.httpPort}`;
const flyBackup = await timed(["backup", backupFile, "--http", http]);
const backupSize = statSync(backupFile).size;
const backupRdb = join(tempDir("bench-backup"), "backup.rdb");
const flyBackupRdb = await timed(["backup", backupRdb, "--format", "rdb", "--http", http]);
const backupRdbSize = statSync(backupRdb).size;
const flyRestore = await timed(["restore", backupFile, "--data-dir", join(tempDir("bench-restore"), "data")]);

const row = (what: string, fly: string, red: string, ratio: number) =>
  console.log(`| ${what} | ${fly} | ${red} | ${ratio.toFixed(1)}× |`);
console.log(`\n${KEYS} keys, dump.rdb ${mb(size).toFixed(1)} MB (FlyDB's export ${mb(exportSize).toFixed(1)} MB)\n`);
console.log("| | FlyDB | redis-server | FlyDB / Redis time |");
console.log("|---|---|---|---|");
row(
  "load dump.rdb",
  `${flyImport.toFixed(2)} s (import-rdb, ${Math.round(KEYS / flyImport)} keys/s)`,
  `${redisLoad.toFixed(2)} s (load at start)`,
  flyImport / redisLoad,
);
row(
  "write an RDB file",
  `${flyExport.toFixed(2)} s (export-rdb, ${(mb(exportSize) / flyExport).toFixed(1)} MB/s)`,
  `${bgsave.toFixed(2)} s (BGSAVE, ${(mb(size) / bgsave).toFixed(1)} MB/s)`,
  flyExport / bgsave,
);
row(
  "consistent snapshot to a file",
  `${flyBackup.toFixed(2)} s (backup, ${mb(backupSize).toFixed(1)} MB, ${(mb(backupSize) / flyBackup).toFixed(1)} MB/s)`,
  `${bgsave.toFixed(2)} s (BGSAVE, ${(mb(size) / bgsave).toFixed(1)} MB/s)`,
  flyBackup / bgsave,
);
row(
  "consistent snapshot as RDB",
  `${flyBackupRdb.toFixed(2)} s (backup --format rdb, ${(mb(backupRdbSize) / flyBackupRdb).toFixed(1)} MB/s)`,
  `${bgsave.toFixed(2)} s (BGSAVE)`,
  flyBackupRdb / bgsave,
);
row(
  "load the snapshot",
  `${flyRestore.toFixed(2)} s (restore into a new data dir)`,
  `${redisLoad.toFixed(2)} s (load at start)`,
  flyRestore / redisLoad,
);

redis.disconnect();
for (const s of [source, loaded, fly]) await s.stop();
