// A 100 MB value: SET and GET against a standalone FlyDB and redis-server in the same run (issue
// #18), plus how long PINGs from another client waited meanwhile (max and p99: how long the big
// write stalls others).
//
// Then, in this process, what the log worker's commit of such an entry costs before it can be
// answered: with SQLite's autocheckpoint inside the commit (copying the value into raft.db
// before returning), and with the checkpoint deferred until after the answer (log-worker.ts).
//
//   npx bun bench/big-value.ts [rounds=3] [mb=100]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { startFlyDB, startRedisServer, type ServerProcess } from "../test/helpers/processes.ts";
import { SqliteRaftStorage } from "../src/store/raft-log.ts";
import { bootstrapWrite } from "../src/raft/storage.ts";
import { EntryKind } from "../src/raft/types.ts";

const ROUNDS = Number(process.argv[2] ?? 3);
const MB = Number(process.argv[3] ?? 100);
const value = Buffer.alloc(MB * 1024 * 1024, 0x76);

async function measure(server: ServerProcess): Promise<{ set: number; get: number; stall: number; p99: number }> {
  const c = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  const other = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  await other.ping();
  const pings: number[] = [];
  let busy = true;
  const pinger = (async () => {
    while (busy) {
      const t = performance.now();
      await other.ping();
      pings.push(performance.now() - t);
      await Bun.sleep(5);
    }
  })();
  let t = performance.now();
  await c.set("big", value);
  const set = performance.now() - t;
  t = performance.now();
  const got = await c.getBuffer("big");
  const get = performance.now() - t;
  busy = false;
  await pinger;
  if (got?.length !== value.length) throw new Error(`GET returned ${got?.length} bytes`);
  await c.del("big");
  c.disconnect();
  other.disconnect();
  pings.sort((a, b) => a - b);
  const stall = pings.at(-1) ?? 0;
  const p99 = pings[Math.floor(pings.length * 0.99)] ?? stall;
  return { set, get, stall, p99 };
}

const fly = await startFlyDB({ args: ["--fsync", "always"] });
const redis = await startRedisServer();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const f = await measure(fly);
    const r = await measure(redis);
    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(
      `round ${round}: ${MB} MB SET flydb ${ms(f.set)} / redis ${ms(r.set)} (${(f.set / r.set).toFixed(1)}×), ` +
        `GET flydb ${ms(f.get)} / redis ${ms(r.get)} (${(f.get / r.get).toFixed(1)}×), ` +
        `PING meanwhile max flydb ${ms(f.stall)} / redis ${ms(r.stall)}, p99 flydb ${ms(f.p99)} / redis ${ms(r.p99)}`,
    );
  }
} finally {
  await fly.stop();
  await redis.stop();
}

const dir = mkdtempSync(join(tmpdir(), "flydb-big-value-"));
try {
  const log = new SqliteRaftStorage(join(dir, "raft.db"), { fsync: "always" });
  log.saveBatch([bootstrapWrite(1, ["a"])]);
  const entry = (index: number) => ({ grp: 1, entries: [{ index, term: 1, kind: EntryKind.Normal, data: value }] });
  let index = 1;
  for (let round = 1; round <= ROUNDS; round++) {
    let t = performance.now();
    log.saveBatch([entry(++index)]);
    const inline = performance.now() - t;
    t = performance.now();
    log.saveBatchDeferringCheckpoint([entry(++index)]);
    const answered = performance.now() - t;
    t = performance.now();
    log.sync();
    const checkpoint = performance.now() - t;
    console.log(
      `round ${round}: raft.db commit of a ${MB} MB entry, answered after ${inline.toFixed(0)} ms with the ` +
        `checkpoint inside / ${answered.toFixed(0)} ms with it deferred (then ${checkpoint.toFixed(0)} ms)`,
    );
  }
  log.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
