// A replica added after its partition's log was compacted can only catch up from a snapshot of
// the partition's rows (chunked InstallSnapshot): a fourth node joins a loopback cluster whose two
// partitions hold thousands of compacted entries, and must end up holding the rows itself.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import Redis from "ioredis";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { runTool, startClusterMember, type FlyDBProcess } from "../helpers/processes.ts";

const PARTITIONS = 2;
const KEYS = 6000;
const nodes: FlyDBProcess[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(nodes.map((n) => n.stop(2000)));
});

const start = async (id: string, seed?: number) => {
  const n = await startClusterMember({ id, seed, partitions: PARTITIONS, args: ["--log-level", "warn"] });
  nodes.push(n);
  return n;
};

interface Status {
  members: { id: string }[];
  partitions: { healthy: number };
}
const status = async (n: FlyDBProcess) => (await (await fetch(`${n.http}/cluster/status`)).json()) as Status;
const localKeys = async (c: Redis) => Number(/keys=(\d+)/.exec(await c.info("keyspace"))?.[1] ?? 0);

const until = (what: string, cond: () => Promise<boolean>, ms = 60_000) => waitUntil(cond, ms, what, 250);

describe("snapshots in a cluster", () => {
  test("a node that joins after compaction receives the partitions' rows by snapshot", async () => {
    const n1 = await start("s1");
    const n2 = await start("s2", n1.gossip);
    const n3 = await start("s3", n1.gossip);
    await until("3 members, both partitions healthy", async () => {
      const s = await status(n1);
      return s.members.length === 3 && s.partitions.healthy === PARTITIONS;
    });
    // Mass insertion: enough entries per partition to pass the 2,000-entry compaction threshold.
    // Keys of database 5 too: a partition snapshot carries the partition's rows of every database.
    const lines = `${["SELECT 5", ...Array.from({ length: 40 }, (_, i) => `SET db5-${i} v${i}`), "SELECT 0"]
      .concat(Array.from({ length: KEYS }, (_, i) => `SET snap-${i} v${i}`))
      .join("\n")}\n`;
    const pipe = await runTool(["redis-cli", "-p", String(n2.port), "--pipe"], { stdin: lines, timeoutMs: 120_000 });
    expect(pipe.stdout).toContain(`errors: 0, replies: ${KEYS + 42}`);
    // The compaction timer runs every 10 s: wait until both partition logs start at a snapshot on
    // every replica, so whichever leads can only bring a new replica up to date by snapshot.
    const compacted = (n: FlyDBProcess) => {
      const db = new Database(join(n.dataDir, "raft.db"), { readonly: true });
      try {
        const rows = db.query("SELECT grp, snap_idx FROM raft_state WHERE grp > 0").all() as {
          grp: number;
          snap_idx: number;
        }[];
        return rows.length === PARTITIONS && rows.every((r) => r.snap_idx > 0);
      } finally {
        db.close();
      }
    };
    await until("both partition groups compacted on every node", async () => [n1, n2, n3].every(compacted), 40_000);

    const n4 = await start("s4", n1.gossip);
    const c4 = new Redis({ port: n4.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    clients.push(c4);
    // 2 partitions × 3 replicas over 4 nodes: the new node holds at least one partition's rows.
    await until("s4 holds replicas with their rows", async () => {
      const s = await status(n1);
      return s.members.length === 4 && s.partitions.healthy === PARTITIONS && (await localKeys(c4)) > KEYS / 4;
    });
    const sample = Array.from({ length: 50 }, (_, i) => `snap-${i * 97}`);
    expect(await c4.mget(...sample)).toEqual(sample.map((k) => `v${k.slice(5)}`));
    // Database 5's rows are shards 5 × 16384 + p in data.db (src/store/state.ts, DB_STRIDE).
    const db5Rows = () => {
      const db = new Database(join(n4.dataDir, "data.db"), { readonly: true });
      try {
        return (
          db.query("SELECT count(*) AS n FROM keys WHERE part >= ? AND part < ?").get(5 * 16384, 6 * 16384) as {
            n: number;
          }
        ).n;
      } finally {
        db.close();
      }
    };
    await until("s4 holds database 5's rows of its partitions", async () => db5Rows() > 0);
    const c4db5 = new Redis({ port: n4.port, host: "127.0.0.1", db: 5, maxRetriesPerRequest: 1 });
    clients.push(c4db5);
    expect(await c4db5.get("db5-7")).toBe("v7");
    expect(await c4db5.dbsize()).toBe(40);
    const log = n4.log();
    expect(log).not.toMatch(/error|panic/i);
  }, 180_000);
});
