// Space of deleted values comes back (issue #18, item 6): data.db is created with
// auto_vacuum = INCREMENTAL and its free pages are returned to the file system in steps while the
// node runs, and the WAL is cut back after checkpoints, so the data dir shrinks after a DEL of
// large values instead of keeping its peak size.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";

let node: FlyDBProcess | undefined;
afterAll(async () => {
  await node?.stop();
});

const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);

test("deleting 60 MB of values gives the space back within seconds; data.db has auto_vacuum = INCREMENTAL", async () => {
  node = await startFlyDB();
  const dataDb = join(node.dataDir, "data.db");
  const onDisk = () => size(dataDb) + size(`${dataDb}-wal`);
  const c = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    const value = Buffer.alloc(20 * 1024 * 1024, 0x61);
    for (const k of ["big:1", "big:2", "big:3"]) expect(await c.set(k, value)).toBe("OK");
    await c.set("small", "kept");
    // Written through: data.db commits and checkpoints at least once a second, so the values
    // reach data.db itself (not only its WAL) within seconds.
    const written = Date.now() + 15_000;
    while (size(dataDb) <= 60 * 1024 * 1024 && Date.now() < written) await Bun.sleep(100);
    const peak = onDisk();
    expect(peak).toBeGreaterThan(60 * 1024 * 1024);
    expect(await c.del("big:1", "big:2", "big:3")).toBe(3);
    const deadline = Date.now() + 15_000;
    while (onDisk() > 20 * 1024 * 1024 && Date.now() < deadline) await Bun.sleep(250);
    expect(onDisk()).toBeLessThan(20 * 1024 * 1024);
    expect(await c.get("small")).toBe("kept");
  } finally {
    c.disconnect();
  }
  // A standalone node holds data.db with an exclusive lock: read the mode once it is gone.
  await node.kill9();
  const db = new Database(dataDb);
  try {
    expect(db.query<{ auto_vacuum: number }, []>("PRAGMA auto_vacuum").get()?.auto_vacuum).toBe(2);
  } finally {
    db.close();
  }
}, 60_000);
