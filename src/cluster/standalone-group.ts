// The one Raft group of a standalone node (STANDALONE_GROUP, src/keyspace/groups.ts): its only
// voter is this node, and its log orders every write to every partition's rows, so a command
// over keys of several slots (RENAME, SMOVE, MULTI/EXEC, scripts) stays one atomic entry as in
// Redis. The rows keep their partition of the configured partition_count, so the data dir grows
// into a cluster by turning this one log into a snapshot per partition (grow.ts).
//
// A data dir written before standalone nodes ran on the multi-raft host holds the same group as
// a plain op log (term 1, no configuration, docs/design/storage.md "Upgrading"): the group only
// needs its configuration to open as a Raft group.
import { SQLiteError } from "bun:sqlite";
import { existsSync, renameSync } from "node:fs";
import { STANDALONE_GROUP } from "../keyspace/groups.ts";
import type { GroupWrite, NodeId } from "../raft/types.ts";
import type { SqliteRaftStorage } from "../store/raft-log.ts";
import type { StateDb } from "../store/state.ts";

/**
 * Makes raft.db's standalone group one this node can open as the group's only voter, in one
 * transaction: founds it when absent, names this node its voter (a standalone node's id is only a
 * label: a new one replaces the old, whose vote is forgotten), and lets the log continue after
 * `applied` (data.db's applied index) when raft.db lost a tail data.db kept (fsync "no" or
 * "everysec" and a power loss). Refuses when the log was compacted past what data.db holds.
 */
export function prepareStandaloneGroup(
  direct: SqliteRaftStorage,
  self: NodeId,
  applied: number,
  warn: (message: string) => void,
): void {
  const g = direct.load(STANDALONE_GROUP);
  const { snapshot, hardState, entries } = g;
  if (applied < snapshot.index) {
    throw new Error(
      `data.db has applied the standalone log up to index ${applied}, but raft.db keeps only entries after ` +
        `${snapshot.index}: the state cannot be rebuilt (was data.db deleted or replaced?)`,
    );
  }
  const last = entries.at(-1) ?? { index: snapshot.index, term: snapshot.term };
  const conf = { voters: [self], learners: [] };
  const named = snapshot.conf.voters.length === 1 && snapshot.conf.voters[0] === self;
  const vote = hardState.vote === self ? self : null;
  // Term 1 at least: the entries of the op log that predates the Raft group carry term 1.
  const term = Math.max(hardState.term, last.term, 1);
  let write: GroupWrite | undefined;
  if (applied > last.index) {
    warn(
      `raft.db's standalone log ends at index ${last.index} but data.db has applied ${applied} ` +
        `(raft.db lost its tail); continuing after ${applied}`,
    );
    write = {
      grp: STANDALONE_GROUP,
      snapshot: { meta: { index: applied, term: last.term, conf }, data: new Uint8Array(0) },
      discardLog: true,
      hardState: { term, vote, commit: applied },
    };
  } else if (!named || hardState.vote !== vote || hardState.term !== term) {
    const meta = { ...snapshot, conf };
    write = {
      grp: STANDALONE_GROUP,
      snapshot: { meta, data: direct.snapshotData(STANDALONE_GROUP) },
      hardState: { term, vote, commit: Math.min(hardState.commit, last.index) },
    };
  }
  if (write) direct.saveBatch([write]);
}

/**
 * Opens a standalone node's data.db. One that is not a readable database is moved aside and
 * rebuilt from the log while the log still holds every entry from index 1 (`logComplete`); a
 * compacted log cannot rebuild it.
 */
export function openStandaloneState(
  path: string,
  open: () => StateDb,
  logComplete: () => boolean,
  warn: (message: string) => void,
): StateDb {
  try {
    return open();
  } catch (e) {
    const corrupt = e instanceof SQLiteError && /^SQLITE_(CORRUPT|NOTADB)/.test(e.code ?? "");
    if (!corrupt) throw e;
    if (!logComplete()) {
      throw new Error(`${path} is damaged (${e.message}) and raft.db has been compacted, so it cannot be rebuilt`);
    }
    const aside = `${path}.damaged-${Date.now()}`;
    for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    warn(`${path} is damaged (${e.message}); moved it to ${aside} and rebuilding it from raft.db`);
    return open();
  }
}
