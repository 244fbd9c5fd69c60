// GET /backup: the whole cluster (or standalone node) as a backup file (src/store/backup-file.ts),
// streamed while writes go on. Each partition is read from a replica after a ReadIndex round
// (ReplicaHost.partitionSnapshot), so its section holds every write acknowledged before the section
// was taken: this node's replica when it has one, else another member's, over
// GET /backup/partition/:p. A partition no replica gives in time ends the stream with a
// FAIL frame instead of the trailer; a dropped connection leaves no trailer either: a reader never
// takes either for a complete backup.
import type { Hono, MiddlewareHandler } from "hono";
import { ATTEMPT_MS, type BackupSource, INDEX_HEADER, late, partitionSnapshot } from "../cluster/backup-source.ts";
import { withDeadline } from "../cluster/deadline.ts";
import { BackupEncoder, BACKUP_FORMAT } from "../store/backup-file.ts";
import { VERSION } from "../version.ts";

export function backupRoutes(app: Hono, auth: MiddlewareHandler, source: () => BackupSource | undefined) {
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
            const snap = await partitionSnapshot(s, next);
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
