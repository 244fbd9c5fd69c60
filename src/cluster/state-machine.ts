// What every node applies for committed entries: group 0's metadata ops into the cached MetaState
// (persisted in data.db with the applied index), partition groups' ops into the keyspace rows of
// their partition. Both in data.db, each batch in one transaction with its applied index.
// Partition ops that carry a proposal id are applied once per id (keyspace/sessions.ts): a duplicate is
// answered with the reply its first copy got, and the session records change in the same transaction.
import { Packr } from "msgpackr";
import { applyOp } from "../commands/apply.ts";
import type { KeyEventsHook, Keyspace, Op } from "../commands/types.ts";
import type { StateMachine } from "./core/multiraft.ts";
import { applyMeta, EMPTY_META, type MetaOp, type MetaResult, type MetaState } from "./core/meta.ts";
import { EntryKind, type Entry, type Snapshot } from "../raft/types.ts";
import type { StateDb } from "../store/state.ts";
import { decodeProposal } from "../store/op-codec.ts";
import { SessionStore } from "../store/proposal-sessions.ts";
import { META_GROUP, partitionOfGroup } from "../keyspace/groups.ts";
import { proposalKey, type ProposalId } from "../keyspace/sessions.ts";
import { dropPartition, exportPartition, importPartition } from "../store/partition-snapshot.ts";
import { err, type Reply } from "../resp/reply.ts";
import { EXPIRE_COMMAND } from "../commands/keys.ts";
import { bytesEqual, utf8 } from "../commands/util.ts";

const EXPIRE = utf8(EXPIRE_COMMAND);

/** Keys the expiry ops of an applied batch deleted: each one's reply is its count. */
function expiredBy(ops: readonly Op[], replies: readonly Reply[]): number {
  let n = 0;
  ops.forEach((op, i) => {
    const r = replies[i];
    if (r?.t === "int" && op.cmds.length === 1 && bytesEqual(op.cmds[0]![0]!, EXPIRE)) n += Number(r.v);
  });
  return n;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export const encodeMetaOp = (op: MetaOp): Uint8Array => packr.pack(op);

export class ClusterStateMachine implements StateMachine {
  private metaState: MetaState;
  private readonly listeners: ((s: MetaState) => void)[] = [];
  private readonly sessions: SessionStore;
  /** Groups whose session records changed since they were last written (persistSessions). */
  private readonly unwritten = new Set<number>();
  /** The largest `now` of the partition ops applied since start-up (src/cluster/replica-host.ts reads at it). */
  latestOpTime = 0;
  /** Where partition ops report keyspace events; every replica notifies its own node's subscribers. */
  keyEvents: KeyEventsHook | undefined;

  /** `copies` counts partition ops answered from a session record (duplicate) or refused as settled (stale). */
  constructor(
    private readonly state: StateDb,
    readonly copies = { duplicate: 0, stale: 0 },
  ) {
    this.sessions = new SessionStore(state.db);
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

  /**
   * Joins the data.db transaction that stays open across turns (as the standalone store's does):
   * a turn's applies are a savepoint in it, and commit() ends it on the host's timer. Nothing is
   * lost by a crash before that: the log holds every applied entry durably and replays from the
   * committed applied index (a compacted log from the stored snapshot, MultiRaft.open). Session
   * records are written once per commit (persistSessions), not once per group and turn.
   */
  transaction<T>(fn: () => T): T {
    try {
      this.state.openTransaction();
      return this.state.inTransaction(fn);
    } catch (e) {
      // The cached session records are ahead of the rows and hold changes not yet written: drop
      // both back to the last commit (the host stops on a failed apply; a restart replays the log).
      this.state.rollbackTransaction();
      this.sessions.forget();
      this.unwritten.clear();
      throw e;
    }
  }

  /** Commits the open data.db transaction: before anything that needs data.db durable or other readers. */
  commit(): void {
    this.persistSessions();
    this.state.commitTransaction();
  }

  /** Writes the session records changed since the last call, into the open transaction. */
  private persistSessions(grp?: number): void {
    for (const g of grp === undefined ? this.unwritten : [grp]) this.sessions.persist(g);
    if (grp === undefined) this.unwritten.clear();
    else this.unwritten.delete(grp);
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
      this.state.db.run(
        "INSERT INTO meta (name, value) VALUES ('state', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [packr.pack(s)],
      );
      this.state.markApplied(META_GROUP, last);
    })();
    if (s !== this.metaState) {
      this.metaState = s;
      for (const fn of this.listeners) fn(s);
    }
    return results;
  }

  /**
   * Runs of normal entries are applied as op batches; no-ops and conf changes only move the applied
   * index, and so does an op whose id was applied before (a duplicate or a settled, stale one).
   */
  private applyPartition(grp: number, entries: readonly Entry[]): unknown[] {
    if (!this.state.db.inTransaction) return this.transaction(() => this.applyPartition(grp, entries));
    const sessions = this.sessions.of(grp);
    const results: unknown[] = [];
    let run: { first: number; ops: Op[]; ids: (ProposalId | undefined)[]; idKeys: Set<string> } | undefined;
    const flush = () => {
      if (!run) return;
      const { ops, ids } = run;
      const events = this.keyEvents;
      const sink = events?.sink();
      const newKeys = sink !== undefined && events!.newKeys();
      const apply = (op: Op, ks: Keyspace) => {
        const started = performance.now();
        const reply = applyOp(op, ks, sink, newKeys, events?.applying?.(op));
        events?.applied?.(op, (performance.now() - started) * 1000);
        return reply;
      };
      const replies = this.state.applyBatch(grp, run.first, ops, apply);
      if (events?.expired) {
        const n = expiredBy(ops, replies);
        if (n > 0) events.expired(n);
      }
      // A multi-raft turn applies many groups in one transaction: publish once it has committed.
      if (sink) queueMicrotask(() => events!.flush());
      ids.forEach((id, i) => {
        if (id) sessions.record(id, replies[i]!, ops[i]!.now);
      });
      results.push(...replies);
      run = undefined;
    };
    const skip = (index: number, result: unknown) => {
      flush();
      results.push(result);
      this.state.markApplied(grp, index);
    };
    for (const e of entries) {
      if (e.kind !== EntryKind.Normal || !e.data) {
        skip(e.index, undefined);
        continue;
      }
      let op: Op;
      let id: ProposalId | undefined;
      try {
        ({ op, id } = decodeProposal(e.data));
      } catch (x) {
        skip(e.index, err(`ERR undecodable op at index ${e.index}: ${(x as Error).message}`) satisfies Reply);
        continue;
      }
      const idKey = id && proposalKey(id);
      if (id) {
        // A copy of an op still in this run: apply the run first, so its reply is on record.
        if (run?.idKeys.has(idKey!)) flush();
        const verdict = sessions.check(id);
        if (verdict.kind === "duplicate") {
          this.copies.duplicate++;
          skip(e.index, verdict.reply);
          continue;
        }
        if (verdict.kind === "stale") {
          this.copies.stale++;
          skip(
            e.index,
            err(
              `ERR write ${id.seq} of ${id.node} session ${id.session} was settled before it committed; not applied`,
            ) satisfies Reply,
          );
          continue;
        }
      }
      if (!run) run = { first: e.index, ops: [], ids: [], idKeys: new Set() };
      run.ops.push(op);
      run.ids.push(id);
      if (op.now > this.latestOpTime) this.latestOpTime = op.now;
      if (idKey) run.idKeys.add(idKey);
    }
    flush();
    this.unwritten.add(grp);
    return results;
  }

  installSnapshot(grp: number, snapshot: Snapshot): void {
    if (grp === META_GROUP) {
      const s = packr.unpack(snapshot.data) as MetaState;
      this.state.db.transaction(() => {
        this.state.db.run(
          "INSERT INTO meta (name, value) VALUES ('state', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          [snapshot.data],
        );
        this.state.markApplied(META_GROUP, snapshot.meta.index);
      })();
      this.metaState = s;
      for (const fn of this.listeners) fn(s);
      return;
    }
    importPartition(this.state, partitionOfGroup(grp), snapshot.data, grp, snapshot.meta.index);
    this.sessions.forget(grp);
    this.unwritten.delete(grp);
    this.state.keyspace.versions.installed(partitionOfGroup(grp), grp, snapshot.meta.index);
  }

  /** Forgets a partition group's rows (its replica on this node was removed). */
  drop(grp: number): void {
    if (grp === META_GROUP) return;
    dropPartition(this.state, partitionOfGroup(grp), grp);
    this.sessions.forget(grp);
    this.unwritten.delete(grp);
  }

  /** Commits, then finalizes the session statements; call before closing the StateDb. */
  close(): void {
    this.commit();
    this.sessions.close();
  }

  /** The group's state as of its applied index, for log compaction. */
  snapshotData(grp: number): Uint8Array {
    if (this.unwritten.has(grp)) this.persistSessions(grp); // the snapshot carries the group's records
    return grp === META_GROUP ? packr.pack(this.metaState) : exportPartition(this.state, partitionOfGroup(grp), grp);
  }
}
