// A running node reports in /metrics the PRAGMA synchronous its open raft.db and data.db
// connections use (flydb_sqlite_synchronous), for every fsync mode, standalone and as a one-node
// cluster: the fsync checks read what the member does, not what the storage classes would set.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ensureBinary, metricValue, startClusterMember, startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";
import { SYNCHRONOUS_MODES } from "../../src/store/sqlite-sync.ts";
import { waitUntil } from "../helpers/cluster-harness.ts";

setDefaultTimeout(60_000);

const running: FlyDBProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

/** raft.db: FULL only when every commit must be durable before it is acknowledged; data.db is replayed from raft.db. */
const EXPECTED = {
  always: { raft: "FULL", data: "NORMAL" },
  everysec: { raft: "NORMAL", data: "NORMAL" },
  no: { raft: "NORMAL", data: "NORMAL" },
} as const;

/** A cluster member opens its databases after its HTTP port: the series appears once they are open. */
async function reported(p: FlyDBProcess): Promise<{ raft: string; data: string }> {
  const level = async (db: string) =>
    SYNCHRONOUS_MODES[await metricValue(p, `flydb_sqlite_synchronous{db="${db}"}`)] ?? "unknown";
  return await waitUntil(
    async () => {
      try {
        return { raft: await level("raft"), data: await level("data") };
      } catch {
        return undefined;
      }
    },
    10_000,
    "flydb_sqlite_synchronous in /metrics",
  );
}

describe("flydb_sqlite_synchronous", () => {
  const binary = ensureBinary();
  for (const fsync of ["always", "everysec", "no"] as const) {
    test(`standalone, fsync = ${fsync}`, async () => {
      const p = await startFlyDB({ binary, args: ["--fsync", fsync] });
      running.push(p);
      expect(await reported(p)).toEqual(EXPECTED[fsync]);
    });

    test(`one-node cluster (--bootstrap), fsync = ${fsync}`, async () => {
      const p = await startClusterMember({ id: `sync-${fsync}`, partitions: 4, binary, args: ["--fsync", fsync] });
      running.push(p);
      expect(await reported(p)).toEqual(EXPECTED[fsync]);
    });
  }
});
