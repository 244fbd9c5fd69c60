// The multi-raft host (docs/design/multiraft.md): many Raft groups on one node, driven together so that one
// turn makes one storage transaction for all groups' appends and hard states, and the messages of
// all groups to one peer leave together (the transport batches per peer per turn), their
// heartbeats coalesced into one HeartbeatBatch per peer (heartbeats.ts).
//
// Quiescence (etcd/CockroachDB): a group with nothing in flight stops ticking on every replica, so
// it sends no heartbeats and nobody campaigns. Its leader goes quiet once every member is alive
// (per the host's liveness source) and has the whole log, nothing is proposed or read, and the
// state machine applied everything: the heartbeats of its next round carry a "quiet" mark and the
// leader stops ticking. A follower goes quiet on such a heartbeat from the leader it follows.
// A quiet group wakes (ticks again) on any message but a heartbeat response, on a proposal, read
// or transfer, when liveness reports a member (a follower: its leader) not alive, and on
// wakeNode() (the transport lost its connection to that node). A woken follower whose leader is
// alive times out and pre-votes, which wakes the leader (pre-votes never disturb a live leader);
// one whose leader is gone campaigns after its usual timeout. Only with safe (ReadIndex) reads:
// a quiet leader's clock stops, and with it any lease it would hold.
//
// Order per turn, as etcd/raft requires: persist every group's writes (one saveBatch), then send,
// then install snapshots and apply committed entries, then advance. A storage may save
// asynchronously (etcd's async storage writes): the rest of the turn then waits for the save, at
// most one save is in flight, and meanwhile steps, proposals and ticks keep reaching the groups;
// the next turn takes all they produced, so batches grow with the time a save takes. A failed
// save stops the host: nothing of that turn is sent or applied, and every waiter is rejected.
// Proposals resolve with what the state machine returned for their entry; reads resolve once the
// group has applied up to their read index. No timers here: the node calls tick() on its clock, and a caller that waits
// too long gives up with its own timeout (the outcome is then unknown, never "failed").
import { Raft, type RaftConfig } from "../../raft/raft.ts";
import type { RaftStorage } from "../../raft/storage.ts";
import type { ConfChange, Entry, Message, NodeId, RaftStatus, Snapshot } from "../../raft/types.ts";
import { MsgType } from "../../raft/types.ts";
import { coalesceHeartbeats, type HeartbeatBatch } from "./heartbeats.ts";

export interface StateMachine {
  /** Index this group's state has durably applied; the group replays the log from there. */
  appliedIndex(grp: number): number;
  /** Applies committed entries of one group in order; returns one result per entry. */
  apply(grp: number, entries: readonly Entry[]): unknown[];
  /** Replaces the group's state with a snapshot received from its leader. */
  installSnapshot(grp: number, snapshot: Snapshot): void;
  /** Runs one turn's applies of every group in one transaction (one per turn: docs/design/storage.md). */
  transaction<T>(fn: () => T): T;
}

/** Where the host persists: saveBatch may return a promise, resolved once the writes are durable. */
export interface HostStorage extends Omit<RaftStorage, "saveBatch"> {
  saveBatch(writes: Parameters<RaftStorage["saveBatch"]>[0]): void | Promise<void>;
}

export interface MultiRaftOptions {
  readonly nodeId: NodeId;
  readonly storage: HostStorage;
  readonly stateMachine: StateMachine;
  /** Hands a message to the transport (which batches per peer per turn); the receiving host
   *  steps a HeartbeatBatch as the Messages expandHeartbeats() makes of it. */
  readonly send: (m: Message | HeartbeatBatch) => void;
  readonly random: () => number;
  /** Lets idle groups go quiet (see above); `alive` is the liveness of other nodes. Never with lease reads. */
  readonly quiesce?: { readonly alive: (id: NodeId) => boolean };
  /** Passed to every group's Raft (timeouts, read mode, flow control). */
  readonly raft?: Omit<RaftConfig, "grp" | "id" | "storage" | "random" | "applied">;
  /** Schedules process() after the current turn; defaults to queueMicrotask. */
  readonly schedule?: (fn: () => void) => void;
  /** Observers for metrics. */
  readonly onLeaderChange?: (grp: number, leader: NodeId | null, term: number) => void;
  readonly onCommitted?: (grp: number, count: number) => void;
  /** A save or an apply failed: the host has stopped (nothing after it is sent or applied) and refuses all work. */
  readonly onFailure?: (error: Error) => void;
}

/** The proposal's entry was replaced by another leader's: it was not applied, retrying is safe. */
export class ProposalDropped extends Error {
  override readonly name = "ProposalDropped";
}

/** This node cannot propose to the group; `leader` says who can, when known. */
export class NotLeader extends Error {
  override readonly name = "NotLeader";
  constructor(
    readonly grp: number,
    readonly leader: NodeId | null,
    reason: string,
  ) {
    super(`raft group ${grp}: ${reason}${leader ? ` (leader: ${leader})` : ""}`);
  }
}

interface Waiter {
  readonly term: number;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
}

type Turn = [Group, ReturnType<Raft["ready"]>][];

// A leader's appends and heartbeats may leave before its own write is durable (Raft thesis
// §10.2.1): followers persist in parallel, and the core counts the leader's own log towards
// a commit only after advance(). Everything else (votes, responses) waits for the write.
const early = (m: Message) => m.type === MsgType.App || m.type === MsgType.Heartbeat || m.type === MsgType.Snap;

interface Group {
  readonly raft: Raft;
  /** Proposals by log index. */
  readonly proposals: Map<number, Waiter>;
  /** Reads waiting for their ReadState, by ctx. */
  readonly reads: Map<string, { resolve: () => void; reject: (e: Error) => void }>;
  /** Reads with a known index waiting for apply to catch up. */
  readonly readsAt: { index: number; resolve: () => void; reject: (e: Error) => void }[];
  /** A follower's ReadIndex request no turn has taken yet (readBarrier): later reads share it. */
  openRead?: { readonly leader: NodeId; readonly done: Promise<void> } | undefined;
  leader: NodeId | null;
  term: number;
  /** Not ticked: no heartbeats, no election timeout. */
  quiet: boolean;
  /** A leader whose next heartbeats are its last before going quiet. */
  hushing: boolean;
}

export class MultiRaft {
  private readonly groups = new Map<number, Group>();
  private scheduled = false;
  private nextRead = 1;
  private readonly schedule: (fn: () => void) => void;
  /** A save is in flight: the next turn runs when it is durable. */
  private saving = false;
  private failure: Error | undefined;

  constructor(private readonly opts: MultiRaftOptions) {
    this.schedule = opts.schedule ?? queueMicrotask;
  }

  has(grp: number): boolean {
    return this.groups.has(grp);
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  /** Why the host stopped (a save failed), if it did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Starts (or restarts from storage) a group this node is a replica of. */
  open(grp: number): void {
    if (this.groups.has(grp) || this.failure) return;
    // The state database may have lost batches the log no longer holds (it is not fsynced per
    // batch; compaction kept only the snapshot): reinstall the stored snapshot before replaying.
    const snap = this.opts.storage.load(grp).snapshot;
    if (snap.index > this.opts.stateMachine.appliedIndex(grp)) {
      this.opts.stateMachine.installSnapshot(grp, { meta: snap, data: this.opts.storage.snapshotData(grp) });
    }
    const raft = new Raft({
      ...this.opts.raft,
      grp,
      id: this.opts.nodeId,
      storage: this.opts.storage,
      random: this.opts.random,
      applied: this.opts.stateMachine.appliedIndex(grp),
    });
    this.groups.set(grp, {
      raft,
      proposals: new Map(),
      reads: new Map(),
      readsAt: [],
      leader: null,
      term: 0,
      quiet: false,
      hushing: false,
    });
    this.kick();
  }

  /** Stops a group (its replica moved away); waiters learn that this node no longer serves it. */
  close(grp: number): void {
    const g = this.groups.get(grp);
    if (!g) return;
    this.groups.delete(grp);
    const gone = new NotLeader(grp, null, "replica removed from this node");
    for (const w of g.proposals.values()) w.reject(gone);
    for (const r of [...g.reads.values(), ...g.readsAt]) r.reject(gone);
  }

  status(grp: number): RaftStatus | undefined {
    return this.groups.get(grp)?.raft.status();
  }

  /** The leader's view of each follower (empty unless this node leads the group). */
  progress(grp: number): ReturnType<Raft["followers"]> {
    return this.groups.get(grp)?.raft.followers() ?? [];
  }

  leaderOf(grp: number): NodeId | null {
    return this.groups.get(grp)?.leader ?? null;
  }

  /** Quiet groups of this node, for status and tests. */
  quietGroups(): number[] {
    return [...this.groups].filter(([, g]) => g.quiet).map(([grp]) => grp);
  }

  tick(): void {
    const q = this.opts.quiesce;
    // Liveness asked once per node per tick, not once per group: hundreds of groups share a few nodes.
    const seen = new Map<NodeId, boolean>();
    const alive = (id: NodeId) => seen.get(id) ?? seen.set(id, q!.alive(id)).get(id)!;
    let ticked = false;
    for (const g of this.groups.values()) {
      if (q && g.quiet) {
        if (!this.othersAlive(g, alive)) this.unquiet(g);
        else continue;
      } else if (q && !g.hushing && this.idle(g, alive)) {
        g.hushing = true;
        // With no one to tell, there is no heartbeat to carry the mark: just stop.
        if (g.raft.followers().length === 0) g.quiet = true;
      }
      g.raft.tick();
      ticked = true;
    }
    if (ticked) this.kick();
  }

  /**
   * Steps a message from the network. `quiesce`: it is a heartbeat its leader marked as its last
   * before going quiet; this replica goes quiet too if it follows that leader and holds its commit.
   */
  step(m: Message, quiesce = false): void {
    const g = this.groups.get(m.grp);
    if (!g) return; // a group this node does not (or no longer) host
    // Followers answer the leader's last heartbeat; that answer must not wake it again. Anything
    // else (a read request, a vote) means work: also a leader about to go quiet stays awake.
    if ((g.quiet || g.hushing) && !(m.type === MsgType.HeartbeatResp && g.raft.status().role === "leader"))
      this.unquiet(g);
    g.raft.step(m);
    if (quiesce && this.opts.quiesce && m.type === MsgType.Heartbeat) {
      const s = g.raft.status();
      if (s.role === "follower" && s.leader === m.from && s.term === m.term && s.commit >= (m.commit ?? 0))
        g.quiet = true;
    }
    this.kick();
  }

  /** Wakes the quiet groups `node` leads or, led here, has a replica of (the connection to it was lost). */
  wakeNode(node: NodeId): void {
    for (const g of this.groups.values()) {
      if (!g.quiet && !g.hushing) continue;
      const s = g.raft.status();
      if (
        s.leader === node ||
        (s.role === "leader" && (s.conf.voters.includes(node) || s.conf.learners.includes(node)))
      )
        this.unquiet(g);
    }
  }

  /** Makes a quiet replica tick again (a removed one then times out, as it would have anyway). */
  wake(grp: number): void {
    const g = this.groups.get(grp);
    if (g) this.unquiet(g);
  }

  private unquiet(g: Group): void {
    g.quiet = false;
    g.hushing = false;
  }

  /** A quiet leader's members, or a quiet follower's leader, are all alive. */
  private othersAlive(g: Group, alive: (id: NodeId) => boolean): boolean {
    const s = g.raft.status();
    if (s.role !== "leader") return s.leader !== null && alive(s.leader);
    return [...s.conf.voters, ...s.conf.learners].every((id) => id === this.opts.nodeId || alive(id));
  }

  /** A leader with nothing in flight whose members are all alive and hold its whole log. */
  private idle(g: Group, alive: (id: NodeId) => boolean): boolean {
    const s = g.raft.status();
    if (s.role !== "leader" || s.transferringTo !== null || s.commit !== s.lastIndex || s.applied !== s.commit)
      return false;
    if (g.proposals.size > 0 || g.reads.size > 0 || g.readsAt.length > 0 || g.raft.hasReady()) return false;
    const match = new Map(g.raft.followers().map((f) => [f.id, f.match]));
    return [...s.conf.voters, ...s.conf.learners].every(
      (id) => id === this.opts.nodeId || (match.get(id) === s.lastIndex && alive(id)),
    );
  }

  /** Proposes data; resolves with the state machine's result for it. */
  propose(grp: number, data: Uint8Array): Promise<unknown> {
    const g = this.mustGroup(grp);
    this.unquiet(g);
    const r = g.raft.propose(data);
    if (!r.ok) return Promise.reject(new NotLeader(grp, r.leader, r.reason));
    return this.await(g, r.index, r.term);
  }

  proposeConfChange(grp: number, cc: ConfChange): Promise<unknown> {
    const g = this.mustGroup(grp);
    this.unquiet(g);
    const r = g.raft.proposeConfChange(cc);
    if (!r.ok) return Promise.reject(new NotLeader(grp, r.leader, r.reason));
    return this.await(g, r.index, r.term);
  }

  /** Whether this replica's state answers a linearizable read as it is (readBarrier would not wait). */
  answersLocally(grp: number): boolean {
    const g = this.groups.get(grp);
    return g !== undefined && !this.failure && answersFromApplied(g.raft.status());
  }

  /**
   * Resolves when a linearizable read may be served from this replica's state. A follower's
   * reads share one ReadIndex request until a turn takes it (etcd batches them the same way):
   * the leader reads its commit index only when the request arrives, after every read sharing
   * it began, so that index covers every write acknowledged before any of them. Not on the
   * leader, whose index is taken at the call: its reads already share one heartbeat round.
   */
  readBarrier(grp: number): Promise<void> {
    const g = this.mustGroup(grp);
    const s = g.raft.status();
    if (answersFromApplied(s)) return SETTLED;
    if (g.openRead && s.role !== "leader" && s.leader === g.openRead.leader) return g.openRead.done;
    this.unquiet(g);
    const ctx = `${this.opts.nodeId}/${this.nextRead++}`;
    if (!g.raft.readIndex(ctx)) return Promise.reject(new NotLeader(grp, g.leader, "no leader to confirm a read"));
    this.kick();
    const done = new Promise<void>((resolve, reject) => g.reads.set(ctx, { resolve, reject }));
    if (s.role !== "leader" && s.leader !== null) g.openRead = { leader: s.leader, done };
    return done;
  }

  transferLeader(grp: number, to: NodeId): boolean {
    const g = this.groups.get(grp);
    if (g) this.unquiet(g);
    const ok = g?.raft.transferLeader(to) ?? false;
    this.kick();
    return ok;
  }

  /** The state machine holds everything up to `index` durably, as `data`: drop the log before it. */
  compact(grp: number, index: number, data: Uint8Array): void {
    this.groups.get(grp)?.raft.compact(index, data);
    this.kick();
  }

  private mustRun(): void {
    if (this.failure) throw this.failure;
  }

  private mustGroup(grp: number): Group {
    this.mustRun();
    const g = this.groups.get(grp);
    if (!g) throw new NotLeader(grp, null, "this node holds no replica of the group");
    return g;
  }

  private await(g: Group, index: number, term: number): Promise<unknown> {
    this.kick();
    return new Promise((resolve, reject) => g.proposals.set(index, { term, resolve, reject }));
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.process();
    });
  }

  /** One turn for every group that has work: persist all, send all, apply, advance. */
  process(): void {
    this.startTurn()?.();
  }

  /**
   * Takes every group's ready, sends what may leave early and starts the save. Returns the rest
   * of the turn when the save completed synchronously (the caller runs it); otherwise that rest
   * runs once the save is durable.
   */
  private startTurn(): (() => void) | undefined {
    if (this.saving || this.failure) return undefined;
    const ready: Turn = [];
    for (const g of this.groups.values()) {
      if (!g.raft.hasReady()) continue;
      g.openRead = undefined; // its request leaves with this turn
      ready.push([g, g.raft.ready()]);
    }
    if (ready.length === 0) return undefined;
    const leads = new Set(ready.filter(([g]) => g.raft.status().role === "leader").map(([g]) => g));
    // A hushing leader's heartbeats of this turn are its last: mark them, and stop ticking.
    const quiet = new Set<number>();
    for (const [g, rd] of ready) {
      if (!g.hushing || !leads.has(g) || !rd.messages.some((m) => m.type === MsgType.Heartbeat)) continue;
      g.hushing = false;
      g.quiet = true;
      quiet.add(g.raft.grp);
    }
    this.sendAll(
      ready.flatMap(([g, rd]) => (leads.has(g) ? rd.messages.filter(early) : [])),
      quiet,
    );
    const writes = ready.flatMap(([, rd]) => (rd.persist ? [rd.persist] : []));
    let saved: void | Promise<void>;
    try {
      saved = writes.length > 0 ? this.opts.storage.saveBatch(writes) : undefined;
    } catch (e) {
      this.fail(e);
      throw e;
    }
    if (!saved) return () => this.finish(ready, leads);
    this.saving = true;
    saved.then(
      () => {
        this.saving = false;
        this.finish(ready, leads);
      },
      (e: unknown) => this.fail(e),
    );
    return undefined;
  }

  /**
   * The rest of a turn once its writes are durable: send what had to wait, apply, advance. The
   * next turn's save starts before this turn's apply (the standalone store's overlap of fsync
   * and apply): advance() only records what is durable and which entries the state machine
   * takes, and this turn's entries are applied before anything else runs, so the next turn's
   * (applied when its own save is durable) still follow them. Not across a snapshot install.
   */
  private finish(turn: Turn, leads: ReadonlySet<Group>): void {
    // A group closed while its write was in flight is gone: nothing of it is sent or applied.
    const ready = turn.filter(([g]) => this.groups.get(g.raft.grp) === g);
    this.sendAll(ready.flatMap(([g, rd]) => (leads.has(g) ? rd.messages.filter((m) => !early(m)) : rd.messages)));
    const overlap = !ready.some(([, rd]) => rd.installSnapshot);
    let next: (() => void) | undefined;
    if (overlap) {
      for (const [g] of ready) g.raft.advance();
      try {
        next = this.startTurn();
      } catch {
        // fail() stopped the host and rejected every waiter; this turn's entries are durable.
      }
    }
    const sm = this.opts.stateMachine;
    let results: unknown[][];
    try {
      results = sm.transaction(() =>
        ready.map(([g, rd]) => {
          if (rd.installSnapshot) sm.installSnapshot(g.raft.grp, rd.installSnapshot);
          return rd.committed.length > 0 ? sm.apply(g.raft.grp, rd.committed) : [];
        }),
      );
    } catch (e) {
      // The groups count these entries as handed over: applying later ones would skip them.
      this.fail(e, "applying committed entries");
      return;
    }
    for (const [i, [g, rd]] of ready.entries()) {
      const grp = g.raft.grp;
      if (rd.committed.length > 0) {
        rd.committed.forEach((e, j) => {
          this.settle(g, e, results[i]![j]);
        });
        this.opts.onCommitted?.(grp, rd.committed.length);
      }
      for (const rs of rd.readStates) {
        const w = g.reads.get(rs.ctx);
        if (!w) continue;
        g.reads.delete(rs.ctx);
        g.readsAt.push({ index: rs.index, ...w });
      }
      if (!overlap) g.raft.advance();
      this.releaseReads(g);
      this.noteLeader(g);
    }
    // The next turn saved synchronously: it finishes only now, after this turn's apply.
    next?.();
    // advance() may have produced more work (commits counted once our log is durable), and
    // steps may have arrived while the save was in flight.
    for (const g of this.groups.values()) {
      if (!g.raft.hasReady()) continue;
      this.kick();
      break;
    }
  }

  /**
   * Not durable means nothing of this turn may be sent or applied, and an apply that failed
   * leaves the groups past entries the state lacks: stop and fail every waiter.
   */
  private fail(e: unknown, what = "saving the Raft log"): void {
    const error = e instanceof Error ? e : new Error(String(e));
    const why = `raft host ${this.opts.nodeId} stopped, ${what} failed: ${error.message}`;
    this.failure = new Error(why, { cause: error });
    this.saving = false;
    for (const g of this.groups.values()) {
      for (const w of g.proposals.values()) w.reject(this.failure);
      for (const r of [...g.reads.values(), ...g.readsAt]) r.reject(this.failure);
      g.proposals.clear();
      g.reads.clear();
      g.readsAt.length = 0;
    }
    this.opts.onFailure?.(this.failure);
  }

  private sendAll(msgs: readonly Message[], quiet?: ReadonlySet<number>): void {
    const { messages, batches } = coalesceHeartbeats(msgs, quiet);
    for (const m of messages) this.opts.send(m);
    for (const b of batches) this.opts.send(b);
  }

  private settle(g: Group, e: Entry, result: unknown): void {
    const w = g.proposals.get(e.index);
    if (!w) return;
    g.proposals.delete(e.index);
    if (e.term === w.term) w.resolve(result);
    else
      w.reject(
        new ProposalDropped(
          `raft group ${g.raft.grp}: entry ${e.index} of term ${w.term} was replaced by term ${e.term}; not applied`,
        ),
      );
  }

  private releaseReads(g: Group): void {
    if (g.readsAt.length === 0) return;
    const applied = g.raft.status().applied;
    const still: typeof g.readsAt = [];
    for (const r of g.readsAt) r.index <= applied ? r.resolve() : still.push(r);
    g.readsAt.length = 0;
    g.readsAt.push(...still);
  }

  private noteLeader(g: Group): void {
    const s = g.raft.status();
    if (s.leader === g.leader && s.term === g.term) return;
    g.leader = s.leader;
    g.term = s.term;
    this.opts.onLeaderChange?.(g.raft.grp, s.leader, s.term);
    // A read request in flight to the old leader will never be answered: fail it so the caller
    // retries. Proposals are different: their entries may still commit under the next leader,
    // and settle() resolves or drops them when their index is applied.
    for (const r of g.reads.values()) r.reject(new NotLeader(g.raft.grp, s.leader, "leadership changed during a read"));
    g.reads.clear();
  }
}

const SETTLED = Promise.resolve();

/**
 * Whether a replica's state answers a linearizable read as it is, without a ReadIndex round: a
 * leader that is its group's only voter, with its whole log committed and applied, holds every
 * acknowledged write (a write is acknowledged once applied, and only this node accepts them).
 * Entries still pending (an earlier term's tail after a restart included) need the round.
 */
export function answersFromApplied(s: RaftStatus): boolean {
  const { voters } = s.conf;
  const soleVoter = voters.length === 1 && voters[0] === s.id;
  return s.role === "leader" && soleVoter && s.lastIndex === s.commit && s.applied === s.commit;
}
