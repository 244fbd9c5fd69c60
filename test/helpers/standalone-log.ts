// raft.db as a standalone node wrote it before it ran on the multi-raft host (the StoreEngine op
// log, removed in the switch to one write path): group STANDALONE_GROUP with term 1, no Raft
// configuration, and normal entries holding encoded ops. Tests build such data dirs to show they
// still open (src/cluster/standalone-group.ts).
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { STANDALONE_GROUP } from "../../src/keyspace/groups.ts";
import { EntryKind } from "../../src/raft/types.ts";
import { RAFT_SCHEMA } from "../../src/store/raft-log.ts";

/** Appends `ops` (encoded) as entries `first`, `first + 1`, … of the pre-switch standalone log. */
export function writeLegacyStandaloneLog(dataDir: string, ops: readonly Uint8Array[], first = 1): void {
  const db = new Database(join(dataDir, "raft.db"), { create: true, strict: true });
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(RAFT_SCHEMA);
    db.transaction(() => {
      db.run("INSERT OR IGNORE INTO raft_state (grp, term) VALUES (?, 1)", [STANDALONE_GROUP]);
      for (const [i, data] of ops.entries()) {
        db.run("INSERT INTO raft_log (grp, idx, term, kind, data) VALUES (?, ?, 1, ?, ?)", [
          STANDALONE_GROUP,
          first + i,
          EntryKind.Normal,
          data,
        ]);
      }
    })();
  } finally {
    db.close();
  }
}
