// What every node applies for committed entries: group 0's metadata ops into the cached MetaState
// (persisted in data.db with the applied index), partition groups' ops into the keyspace rows of
// their partition. Both in data.db, each batch in one transaction with its applied index.
import { Packr } from "msgpackr";
import { applyOp } from "../commands/apply.ts";
import type { Op } from "../commands/types.ts";
import type { StateMachine } from "./core/multiraft.ts";
import { applyMeta, EMPTY_META, partitionOfGroup, type MetaOp, type MetaResult, type MetaState } from "./core/meta.ts";
import { EntryKind, type Entry, type Snapshot } from "../raft/types.ts";
import type { StateDb } from "../store/state.ts";
import { decodeOp } from "../store/op-codec.ts";
import { dropPartition, exportPartition, importPartition } from "../store/partition-snapshot.ts";
import { err, type Reply } from "../resp/reply.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });
export const META_GROUP = 0;

export const encodeMetaOp = (op: MetaOp): Uint8Array => packr.pack(op);

export class ClusterStateMachine implements StateMachine {
  private metaState: MetaState;
  private readonly listeners: ((s: MetaState) => void)[] = [];

  constructor(private readonly state: StateDb) {
    state.db.run("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID");
    const row = state.db.query<{ value: Uint8Array }, []>("SELECT value FROM meta WHERE name = 'state'").get();
    this.metaState = row ? (packr.unpack(row.value) as MetaState) : EMPTY_META;
  }

  get meta(): MetaState {
    return this.metaState;
  }

  onMetaChange(fn: (s: MetaState) => void): void {
    this.listeners.push(fn);
  }

  transaction<T>(fn: () => T): T {
    return this.state.inTransaction(fn);
  }

  appliedIndex(grp: number): number {
    return this.state.appliedIndex(grp);
  }

  apply(grp: number, entries: readonly Entry[]): unknown[] {
    return grp === META_GROUP ? this.applyMeta(entries) : this.applyPartition(grp, entries);
  }

  private applyMeta(entries: readonly Entry[]): unknown[] {
    const results: unknown[] = [];
    let s = this.metaState;
    for (const e of entries) {
      if (e.kind !== EntryKind.Normal || !e.data) {
        results.push(undefined);
        continue;
      }
      let result: MetaResult;
      try {
        ({ state: s, result } = applyMeta(s, packr.unpack(e.data) as MetaOp));
      } catch (x) {
        result = { ok: false, error: `undecodable metadata op at index ${e.index}: ${(x as Error).message}` };
      }
      results.push(result);
    }
    const last = entries[entries.length - 1]!.index;
    this.state.db.transaction(() => {
      this.state.db.run("INSERT INTO meta (name, value) VALUES ('state', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", [packr.pack(s)]);
      this.state.markApplied(META_GROUP, last);
    })();
    if (s !== this.metaState) {
      this.metaState = s;
      for (const fn of this.listeners) fn(s);
    }
    return results;
  }

  /** Runs of normal entries are applied as op batches; no-ops and conf changes only move the applied index. */
  private applyPartition(grp: number, entries: readonly Entry[]): unknown[] {
    const results: unknown[] = [];
    let run: { first: number; ops: Op[] } | undefined;
    const flush = () => {
      if (!run) return;
      results.push(...this.state.applyBatch(grp, run.first, run.ops, applyOp));
      run = undefined;
    };
    for (const e of entries) {
      if (e.kind === EntryKind.Normal && e.data) {
        let op: Op;
        try {
          op = decodeOp(e.data);
        } catch (x) {
          flush();
          results.push(err(`ERR undecodable op at index ${e.index}: ${(x as Error).message}`) satisfies Reply);
          this.state.markApplied(grp, e.index);
          continue;
        }
        if (!run) run = { first: e.index, ops: [] };
        run.ops.push(op);
      } else {
        flush();
        results.push(undefined);
        this.state.markApplied(grp, e.index);
      }
    }
    flush();
    return results;
  }

  installSnapshot(grp: number, snapshot: Snapshot): void {
    if (grp === META_GROUP) {
      const s = packr.unpack(snapshot.data) as MetaState;
      this.state.db.transaction(() => {
        this.state.db.run("INSERT INTO meta (name, value) VALUES ('state', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", [snapshot.data]);
        this.state.markApplied(META_GROUP, snapshot.meta.index);
      })();
      this.metaState = s;
      for (const fn of this.listeners) fn(s);
      return;
    }
    importPartition(this.state.db, partitionOfGroup(grp), snapshot.data, grp, snapshot.meta.index);
    this.state.keyspace.versions.installed(partitionOfGroup(grp), grp, snapshot.meta.index);
  }

  /** Forgets a partition group's rows (its replica on this node was removed). */
  drop(grp: number): void {
    if (grp !== META_GROUP) dropPartition(this.state.db, partitionOfGroup(grp), grp);
  }

  /** The group's state as of its applied index, for log compaction. */
  snapshotData(grp: number): Uint8Array {
    return grp === META_GROUP ? packr.pack(this.metaState) : exportPartition(this.state.db, partitionOfGroup(grp));
  }
}
