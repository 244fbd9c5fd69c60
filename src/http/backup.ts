// GET /backup: the whole cluster (or standalone node) as a backup file (src/store/backup-file.ts),
// streamed while writes go on. Each partition is read from a replica after a ReadIndex round
// (ReplicaHost.partitionSnapshot), so its section holds every write acknowledged before the section
// was taken: this node's replica when it has one, else another member's, over
// GET /backup/partition/:p. A partition no replica gives within PARTITION_MS ends the stream with a
// FAIL frame instead of the trailer; a dropped connection leaves no trailer either: a reader never
// takes either for a complete backup.
import type { Hono, MiddlewareHandler } from "hono";
import type { BackupSource, PartitionSnapshot } from "../cluster/backup-source.ts";
import { withDeadline } from "../cluster/deadline.ts";
import { BackupEncoder, BACKUP_FORMAT } from "../store/backup-file.ts";
import { VERSION } from "../version.ts";

/** How long one partition may take to find a replica that answers (a leader election fits in it). */
const PARTITION_MS = 15_000;
/** One attempt at one replica: a ReadIndex round, or a remote snapshot's transfer. */
const ATTEMPT_MS = 5_000;
const REMOTE_MS = 60_000;
const RETRY_MS = 200;
const INDEX_HEADER = "x-flydb-index";

export function backupRoutes(
  app: Hono,
  auth: MiddlewareHandler,
  source: () => BackupSource | undefined,
  token: string,
) {
  const starting = { error: "the node is still starting; retry shortly" };
  app.get("/backup", auth, (c) => {
    const s = source();
    if (!s) return c.json(starting, 503);
    const encoder = new BackupEncoder();
    const count = s.partitionCount();
    let next = -1;
    const body = new ReadableStream<Uint8Array>({
      async pull(out) {
        if (next === -1) {
          out.enqueue(
            encoder.header({
              format: BACKUP_FORMAT,
              cluster_id: s.clusterId(),
              mode: s.mode,
              partition_count: count,
              databases: s.databases,
              created_at: new Date().toISOString(),
              flydb_version: VERSION,
            }),
          );
        } else if (next < count) {
          try {
            const snap = await partition(s, next, token);
            for (const b of encoder.section({ partition: next, ...snap })) out.enqueue(b);
          } catch (e) {
            out.enqueue(BackupEncoder.failure((e as Error).message));
            out.close();
            return;
          }
        } else {
          out.enqueue(encoder.trailer());
          out.close();
        }
        next++;
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="flydb-${new Date().toISOString().replace(/[:.]/g, "-")}.flydb"`,
      },
    });
  });

  /** One partition from this node's replica, for another member's GET /backup. */
  app.get("/backup/partition/:p", auth, async (c) => {
    const s = source();
    if (!s) return c.json(starting, 503);
    const part = Number(c.req.param("p"));
    if (!Number.isInteger(part) || part < 0 || part >= s.partitionCount()) {
      return c.json({ error: `no partition ${c.req.param("p")}` }, 404);
    }
    try {
      const snap = await withDeadline(s.local(part), ATTEMPT_MS, () => late(part));
      if (!snap) return c.json({ error: `this node holds no replica of partition ${part}` }, 404);
      return new Response(snap.data, {
        headers: { "content-type": "application/octet-stream", [INDEX_HEADER]: String(snap.index) },
      });
    } catch (e) {
      return c.json({ error: (e as Error).message }, 503);
    }
  });
}

const late = (part: number) => new Error(`no ReadIndex confirmation for partition ${part} within ${ATTEMPT_MS} ms`);

/** Partition `part` from the first replica that gives it, trying again until PARTITION_MS. */
async function partition(s: BackupSource, part: number, token: string): Promise<PartitionSnapshot> {
  const deadline = performance.now() + PARTITION_MS;
  const errors: string[] = [];
  for (;;) {
    try {
      const mine = await withDeadline(s.local(part), ATTEMPT_MS, () => late(part));
      if (mine) return mine;
    } catch (e) {
      errors.push(`this node: ${(e as Error).message}`);
    }
    for (const http of s.peers(part)) {
      try {
        return await remote(http, part, token);
      } catch (e) {
        errors.push(`${http}: ${(e as Error).message}`);
      }
    }
    if (performance.now() > deadline) {
      const why = errors.length > 0 ? errors.slice(-3).join("; ") : "no member holds a replica";
      throw new Error(`partition ${part}: no replica gave a snapshot within ${PARTITION_MS} ms (${why})`);
    }
    await Bun.sleep(RETRY_MS);
  }
}

async function remote(http: string, part: number, token: string): Promise<PartitionSnapshot> {
  const res = await fetch(`http://${http}/backup/partition/${part}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(REMOTE_MS),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const index = Number(res.headers.get(INDEX_HEADER));
  if (!Number.isSafeInteger(index)) throw new Error(`no ${INDEX_HEADER} header`);
  return { index, data: new Uint8Array(await res.arrayBuffer()) };
}
