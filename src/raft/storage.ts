// The durable side of one or many Raft groups. The core reads it at start-up (and for snapshot
// bytes when it must ship a snapshot); the host writes every Ready's GroupWrite through saveBatch,
// one call (one transaction) for all groups of a turn.
import type { Entry, GroupWrite, HardState, SnapshotMeta } from "./types.ts";
import { EntryKind } from "./types.ts";
import { encodeConf } from "./conf.ts";

export interface PersistedGroup {
  readonly hardState: HardState;
  /** index 0 / term 0 / empty conf when the group never had a snapshot. */
  readonly snapshot: SnapshotMeta;
  /** Contiguous entries starting at snapshot.index + 1. */
  readonly entries: readonly Entry[];
}

export interface RaftStorage {
  load(grp: number): PersistedGroup;
  /** Bytes of the latest stored snapshot of the group (empty when none). */
  snapshotData(grp: number): Uint8Array;
  /** Atomically apply all writes: after a crash either all of them are visible or none. */
  saveBatch(writes: readonly GroupWrite[]): void;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };
export const EMPTY_SNAPSHOT_META: SnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] } };

export function isEmptyGroup(p: PersistedGroup): boolean {
  return p.hardState.term === 0 && p.snapshot.index === 0 && p.entries.length === 0;
}

/**
 * The write that founds a group: every founding member writes the same conf entry at index 1,
 * term 1, already committed. A node that joins later starts empty and receives entry 1 (or a
 * snapshot) from the leader, so it learns the membership through the log like everyone else.
 * `data` are normal entries committed with it from index 2 (a cluster's founding metadata), so
 * every replica applies the same state before anything else.
 */
export function bootstrapWrite(
  grp: number,
  voters: readonly string[],
  founding: { readonly learners?: readonly string[]; readonly data?: readonly Uint8Array[] } = {},
): GroupWrite {
  if (voters.length === 0) throw new Error(`raft group ${grp}: bootstrap needs at least one voter`);
  const conf = { voters: [...voters].sort(), learners: [...(founding.learners ?? [])].sort() };
  const entries: Entry[] = [
    { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConf(conf) },
    ...(founding.data ?? []).map((data, i): Entry => ({ index: i + 2, term: 1, kind: EntryKind.Normal, data })),
  ];
  return { grp, entries, hardState: { term: 1, vote: null, commit: entries.length } };
}

/** Checks the invariants every storage must return, so a torn or corrupt log fails loudly. */
export function validatePersisted(grp: number, p: PersistedGroup): void {
  let expect = p.snapshot.index + 1;
  for (const e of p.entries) {
    if (e.index !== expect) {
      throw new Error(
        `raft group ${grp}: log gap, expected index ${expect} after snapshot ${p.snapshot.index}, found ${e.index}`,
      );
    }
    expect++;
  }
  const last = p.snapshot.index + p.entries.length;
  if (p.hardState.commit > last) {
    throw new Error(`raft group ${grp}: commit ${p.hardState.commit} beyond last log index ${last}`);
  }
}
