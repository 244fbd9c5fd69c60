// Reads a node's raft.db directly, read-only and beside the running node (WAL allows it), for
// tests that check what a group's log holds: the founding configuration at index 1, the
// founding metadata at index 2, and whether the membership ever changed after.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { unpack } from "msgpackr";
import { decodeConf } from "../../src/raft/conf.ts";
import { EntryKind, type ConfState } from "../../src/raft/types.ts";

export interface FoundedGroup {
  /** The conf entry at index 1. */
  readonly founding: ConfState;
  /** Index 2 decoded as msgpack when it is a normal entry (group 0: the founding metadata). */
  readonly second: unknown;
  /** The configurations of the conf entries after index 1 (membership changes), in log order. */
  readonly laterConfs: readonly ConfState[];
}

/** The group's founding as stored; undefined when the node holds no entries of it (never had, or dropped). */
export function readFoundedGroup(dataDir: string, grp: number): FoundedGroup | undefined {
  const db = new Database(join(dataDir, "raft.db"), { readonly: true });
  try {
    const rows = db
      .query<{ idx: number; kind: number; data: Uint8Array | null }, [number]>(
        "SELECT idx, kind, data FROM raft_log WHERE grp = ? ORDER BY idx",
      )
      .all(grp);
    const first = rows[0];
    if (first === undefined) return undefined;
    if (first.idx !== 1 || first.kind !== EntryKind.ConfChange)
      throw new Error(
        `raft group ${grp} in ${dataDir}: no founding conf entry at index 1 (first: ${first.idx}, kind ${first.kind})`,
      );
    const second = rows[1];
    return {
      founding: decodeConf(first.data),
      second: second?.idx === 2 && second.kind === EntryKind.Normal && second.data ? unpack(second.data) : undefined,
      laterConfs: rows.filter((r) => r.idx > 1 && r.kind === EntryKind.ConfChange).map((r) => decodeConf(r.data)),
    };
  } finally {
    db.close();
  }
}

/** The group's persisted term (its hard state): what a node would campaign from after a restart. */
export function readTerm(dataDir: string, grp: number): number {
  const db = new Database(join(dataDir, "raft.db"), { readonly: true });
  try {
    return db.query<{ term: number }, [number]>("SELECT term FROM raft_state WHERE grp = ?").get(grp)?.term ?? 0;
  } finally {
    db.close();
  }
}
