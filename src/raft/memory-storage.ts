// RaftStorage kept in memory. It holds only what saveBatch was given, so a simulator models a
// crash by dropping the Raft object and restarting it on the same MemoryRaftStorage.
import type { Entry, GroupWrite, HardState, SnapshotMeta } from "./types.ts";
import type { PersistedGroup, RaftStorage } from "./storage.ts";
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT_META } from "./storage.ts";

interface GroupState {
  hardState: HardState;
  snapshot: SnapshotMeta;
  snapshotData: Uint8Array;
  entries: Entry[];
}

export class MemoryRaftStorage implements RaftStorage {
  private readonly groups = new Map<number, GroupState>();

  load(grp: number): PersistedGroup {
    const g = this.groups.get(grp);
    if (!g) return { hardState: EMPTY_HARD_STATE, snapshot: EMPTY_SNAPSHOT_META, entries: [] };
    return { hardState: g.hardState, snapshot: g.snapshot, entries: [...g.entries] };
  }

  snapshotData(grp: number): Uint8Array {
    return this.groups.get(grp)?.snapshotData ?? new Uint8Array(0);
  }

  saveBatch(writes: readonly GroupWrite[]): void {
    for (const w of writes) {
      let g = this.groups.get(w.grp);
      if (!g) {
        g = {
          hardState: EMPTY_HARD_STATE,
          snapshot: EMPTY_SNAPSHOT_META,
          snapshotData: new Uint8Array(0),
          entries: [],
        };
        this.groups.set(w.grp, g);
      }
      if (w.snapshot) {
        const idx = w.snapshot.meta.index;
        g.entries = w.discardLog ? [] : g.entries.filter((e) => e.index > idx);
        g.snapshot = w.snapshot.meta;
        g.snapshotData = w.snapshot.data;
      }
      if (w.entries && w.entries.length > 0) {
        const first = w.entries[0].index;
        g.entries = g.entries.filter((e) => e.index < first).concat(w.entries);
      }
      if (w.hardState) g.hardState = w.hardState;
    }
  }
}
