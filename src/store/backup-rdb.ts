// A backup's keys as a Redis RDB file (`flydb backup --format rdb`, and SYNC for
// `redis-cli --rdb`): the partition snapshots go into a scratch data.db, whose database 0 is then
// written the way DUMP encodes each value (src/commands/dump.ts), so every type and encoding reads
// back in redis-server as DUMP/RESTORE would carry it.
import { readValue } from "../commands/dump.ts";
import { RdbFileWriter } from "../rdb/file.ts";
import { VERSION } from "../version.ts";
import type { StateDb } from "./state.ts";

/** Keys read per page. */
const PAGE = 1000;

/** Database 0 of `state` as an RDB file, handed to `write` in pieces; returns the number of keys. */
export function writeRdb(state: StateDb, write: (b: Uint8Array) => void, now: number): number {
  const ks = state.keyspace.database(0)!;
  const aux = new Map([
    ["redis-bits", "64"],
    ["ctime", String(Math.floor(now / 1000))],
    ["flydb-ver", VERSION],
  ]);
  const w = new RdbFileWriter(aux);
  // Reads only: the random source is never drawn from.
  const ctx = { db: ks, now, random: () => 0 };
  let keys = 0;
  let cursor = 0;
  do {
    const page = ks.scan(cursor, PAGE, now);
    cursor = page.cursor;
    for (const key of page.keys) {
      const value = readValue(ctx, key);
      if (!value) continue;
      w.add({ key, value, expireAtMs: ks.meta(key, now)?.expireAt ?? undefined });
      keys++;
    }
    write(w.take());
  } while (cursor !== 0);
  write(w.end());
  return keys;
}
