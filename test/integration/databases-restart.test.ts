// Databases survive restarts, and a data dir written before databases existed opens as database 0:
// its data.db rows and its not yet applied log entries (ops without a database) are database 0's.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { Packr } from "msgpackr";
import { STANDALONE_GROUP } from "../../src/keyspace/groups.ts";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { startFlyDB, tempDir, type FlyDBProcess } from "../helpers/processes.ts";
import { writeLegacyStandaloneLog } from "../helpers/standalone-log.ts";

setDefaultTimeout(60_000);
const root = tempDir("databases-restart");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const enc = new TextEncoder();
const PARTITIONS = 256;

/**
 * A data dir as FlyDB wrote it before databases: data.db rows keyed by partition alone (applied
 * up to index 2) and raft.db entries in the old [cmds, now, seed] form, of which 3 and 4 are not
 * applied yet.
 */
function legacyDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const data = new Database(join(dir, "data.db"), { create: true, strict: true });
  for (const ddl of [
    "CREATE TABLE settings (name TEXT PRIMARY KEY, value ANY) WITHOUT ROWID",
    "CREATE TABLE applied (grp INTEGER PRIMARY KEY, idx INTEGER NOT NULL)",
    `CREATE TABLE keys (id INTEGER PRIMARY KEY, part INTEGER NOT NULL, key BLOB NOT NULL, type TEXT NOT NULL,
       value BLOB, expire_at INTEGER)`,
    "CREATE UNIQUE INDEX keys_by_part_key ON keys (part, key)",
    `CREATE TABLE hash_fields (part INTEGER NOT NULL, key BLOB NOT NULL, field BLOB NOT NULL, value BLOB NOT NULL,
       PRIMARY KEY (part, key, field)) WITHOUT ROWID`,
  ])
    data.run(ddl);
  const part = (key: string) => partitionOf(keySlot(enc.encode(key)), PARTITIONS);
  data.run("INSERT INTO settings VALUES ('partition_count', ?)", [PARTITIONS]);
  data.run("INSERT INTO applied VALUES (?, 2)", [STANDALONE_GROUP]);
  data.run("INSERT INTO keys (part, key, type, value) VALUES (?, ?, 'string', ?)", [
    part("legacy"),
    enc.encode("legacy"),
    enc.encode("1"),
  ]);
  // A hash of one field: the keys row's value is the element count × 4 (collection-rows.ts).
  data.run("INSERT INTO keys (part, key, type, value) VALUES (?, ?, 'hash', 4)", [
    part("legacyh"),
    enc.encode("legacyh"),
  ]);
  data.run("INSERT INTO hash_fields VALUES (?, ?, ?, ?)", [
    part("legacyh"),
    enc.encode("legacyh"),
    enc.encode("f"),
    enc.encode("v"),
  ]);
  data.close();
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const op = (...cmd: string[]) => packr.pack([[cmd.map((a) => enc.encode(a))], Date.now(), 0]);
  writeLegacyStandaloneLog(dir, [
    op("set", "legacy", "1"),
    op("hset", "legacyh", "f", "v"),
    op("rpush", "oldlist", "a", "b"),
    op("set", "old", "v"),
  ]);
}

async function withClient<T>(server: FlyDBProcess, db: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: "127.0.0.1", port: server.port, db, maxRetriesPerRequest: 0 });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe("databases on disk", () => {
  test("a data dir from before databases opens as database 0; keys in db 3 survive kill -9 and a clean restart", async () => {
    const dataDir = join(root, "legacy");
    legacyDataDir(dataDir);
    const nodeId = "legacy-node";
    let server = await startFlyDB({ dataDir, nodeId });
    try {
      await withClient(server, 0, async (r) => {
        expect(await r.get("legacy")).toBe("1");
        expect(await r.hgetall("legacyh")).toEqual({ f: "v" });
        expect(await r.lrange("oldlist", 0, -1)).toEqual(["a", "b"]);
        expect(await r.get("old")).toBe("v");
        expect(await r.dbsize()).toBe(4);
      });
      await withClient(server, 3, async (r) => {
        expect(await r.dbsize()).toBe(0);
        await r.set("legacy", "in db 3");
        await r.hset("h3", "f", "3");
        await r.set("ttl3", "x", "EX", 1000);
      });
      // kill -9: data.db commits lazily, so the db 3 writes come back from the log's ops.
      await server.kill9();
      server = await startFlyDB({ dataDir, nodeId });
      const check = async () => {
        await withClient(server, 3, async (r) => {
          expect(await r.get("legacy")).toBe("in db 3");
          expect(await r.hgetall("h3")).toEqual({ f: "3" });
          expect(await r.dbsize()).toBe(3);
          expect(await r.info("keyspace")).toMatch(
            /^db0:keys=4,expires=0,avg_ttl=\d+\r\ndb3:keys=3,expires=1,avg_ttl=\d+\r?$/m,
          );
        });
        await withClient(server, 0, async (r) => expect(await r.get("legacy")).toBe("1"));
      };
      await check();
      await server.stop();
      server = await startFlyDB({ dataDir, nodeId });
      await check();
    } finally {
      await server.stop();
    }
  });
});
