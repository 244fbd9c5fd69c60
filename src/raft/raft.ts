// One Raft group member as a pure state machine (etcd/raft style). The host drives it with tick(),
// step() and the propose/read/transfer calls, then drains ready(): persist → send → install
// snapshot → apply → advance(). It never does I/O except the synchronous RaftStorage reads at
// start-up and when shipping a snapshot. Between ready() and advance() the host may keep stepping,
// ticking and proposing (its write of the Ready is still in flight): advance() then marks durable
// only what that Ready persisted and is still in the log.
import type {
  ConfChange,
  ConfState,
  Entry,
  GroupWrite,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMeta,
} from "./types.ts";
import { EntryKind, MsgType } from "./types.ts";
import type { RaftStorage } from "./storage.ts";
import { validatePersisted } from "./storage.ts";
import { changedConf, decodeConf, encodeConf, quorum } from "./conf.ts";
import { Progress } from "./progress.ts";

export interface RaftConfig {
  readonly grp: number;
  readonly id: NodeId;
  readonly storage: RaftStorage;
  /** Uniform in [0, 1); seeded in tests and simulators. */
  readonly random: () => number;
  /** E: followers campaign after a random timeout in (E, 2E] ticks without a leader. Default 10. */
  readonly electionTicks?: number;
  /** H: leader heartbeat interval in ticks. Default 2. */
  readonly heartbeatTicks?: number;
  /** Index the host's state machine has durably applied (it re-applies from there). */
  readonly applied?: number;
  readonly preVote?: boolean; // default true
  readonly checkQuorum?: boolean; // default true
  /** "lease" answers reads from the leader lease without a round trip (needs checkQuorum). */
  readonly readMode?: "safe" | "lease";
  /** Ticks the lease is shortened by, for clock-rate differences between nodes. Default 2. */
  readonly leaseMarginTicks?: number;
  /**
   * Monotonic time in ticks (a host passes its monotonic clock divided by the tick interval). Leases
   * are measured on it, not by counting tick() calls: a leader that was paused (SIGSTOP, a long GC,
   * a starved CPU) ran no ticks meanwhile, yet its lease ran out. Default: the number of tick() calls.
   */
  readonly clock?: () => number;
  /** Max append messages in flight per follower while replicating. Default 64. */
  readonly maxInflight?: number;
  /** Max entry bytes per append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxMsgBytes?: number;
  /** InstallSnapshot chunk size. Default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Test-only fault injection, used to prove the simulator catches safety bugs. */
  readonly unsafeTestingKnobs?: {
    readonly voteWithoutLogCheck?: boolean;
    readonly readBeforeTermCommit?: boolean;
    /** Followers grant votes while they still hear from a leader (breaks lease reads). */
    readonly voteDuringLease?: boolean;
  };
}

/** The leader's view of one follower, for status pages and under-replication metrics. */
export interface FollowerProgress {
  readonly id: NodeId;
  readonly learner: boolean;
  readonly match: number;
  readonly next: number;
  readonly state: "probe" | "replicate" | "snapshot";
  /** Heard from since the last check-quorum round. */
  readonly recentActive: boolean;
}

interface PendingRead {
  readonly ctx: string;
  readonly from: NodeId;
  readonly index: number;
  readonly seq: number;
}

interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly chunks: Uint8Array[];
  size: number;
}

interface Handed {
  /** The last index the handed Ready makes durable; lowered when the log is cut below it meanwhile. */
  lastIndex: number;
  readonly committedTo: number;
  readonly committed: readonly Entry[];
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly install: Snapshot | null;
}

const SNAPSHOT_WINDOW = 4;

const entryBytes = (e: Entry): number => (e.data ? e.data.byteLength : 0) + 24;

export class Raft {
  readonly grp: number;
  readonly id: NodeId;
  private readonly storage: RaftStorage;
  private readonly random: () => number;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly leaseReads: boolean;
  private readonly leaseMargin: number;
  private readonly clock: (() => number) | null;
  private readonly maxInflight: number;
  private readonly maxMsgBytes: number;
  private readonly chunkBytes: number;
  private readonly voteWithoutLogCheck: boolean;
  private readonly readBeforeTermCommit: boolean;
  private readonly voteDuringLease: boolean;

  // Hard state.
  private term = 0;
  private vote: NodeId | null = null;
  private commit = 0;
  private persistedHardState: HardState;

  // Log: entries after the snapshot, all in memory; `stable` is the last index known durable.
  private snapIndex = 0;
  private snapTerm = 0;
  private snapConf: ConfState;
  private entries: Entry[] = [];
  private stable = 0;
  private snapshotDataInMemory: Uint8Array | null = null;
  private snapshotToPersist: Snapshot | null = null;
  private discardLogOnPersist = false;
  private snapshotToInstall: Snapshot | null = null;
  private incoming: IncomingSnapshot | null = null;

  private applied: number;
  // The latest configuration in the log, committed or not, is the one in effect (Raft thesis
  // §4.1); one change at a time keeps every two successive majorities overlapping.
  private conf: ConfState = { voters: [], learners: [] };
  private confIndex = 0;

  private role: Role = "follower";
  private lead: NodeId | null = null;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  // Ticks since the leader was last heard from; 0 at boot so a restarted node honours the lease
  // it may have promised before the crash.
  private ticksSinceLeader = 0;
  private now = 0;
  private votes = new Map<NodeId, boolean>();

  // Leader state.
  private prs = new Map<NodeId, Progress>();
  private transferee: NodeId | null = null;
  private leaseRevoked = false;
  private appendPending = false;
  private readSeq = 0;
  private readRoundNeeded = false;
  private readsAwaitingTermCommit: { ctx: string; from: NodeId }[] = [];
  private readQueue: PendingRead[] = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private handed: Handed | null = null;

  constructor(cfg: RaftConfig) {
    this.grp = cfg.grp;
    this.id = cfg.id;
    this.storage = cfg.storage;
    this.random = cfg.random;
    this.electionTicks = cfg.electionTicks ?? 10;
    this.heartbeatTicks = cfg.heartbeatTicks ?? 2;
    this.preVote = cfg.preVote ?? true;
    this.checkQuorum = cfg.checkQuorum ?? true;
    this.leaseReads = cfg.readMode === "lease";
    this.leaseMargin = cfg.leaseMarginTicks ?? 2;
    this.clock = cfg.clock ?? null;
    this.maxInflight = cfg.maxInflight ?? 64;
    this.maxMsgBytes = cfg.maxMsgBytes ?? 1 << 20;
    this.chunkBytes = cfg.snapshotChunkBytes ?? 256 * 1024;
    this.voteWithoutLogCheck = cfg.unsafeTestingKnobs?.voteWithoutLogCheck ?? false;
    this.readBeforeTermCommit = cfg.unsafeTestingKnobs?.readBeforeTermCommit ?? false;
    this.voteDuringLease = cfg.unsafeTestingKnobs?.voteDuringLease ?? false;
    const where = `raft group ${this.grp} node ${this.id}`;
    if (this.heartbeatTicks < 1 || this.electionTicks <= this.heartbeatTicks) {
      throw new Error(
        `${where}: need 1 <= heartbeatTicks < electionTicks (got ${this.heartbeatTicks}, ${this.electionTicks})`,
      );
    }
    if (this.leaseReads && !this.checkQuorum) throw new Error(`${where}: lease reads require checkQuorum`);
    if (this.leaseReads && this.leaseMargin >= this.electionTicks) {
      throw new Error(`${where}: leaseMarginTicks must be < electionTicks`);
    }

    const p = this.storage.load(this.grp);
    validatePersisted(this.grp, p);
    this.term = p.hardState.term;
    this.vote = p.hardState.vote;
    this.snapIndex = p.snapshot.index;
    this.snapTerm = p.snapshot.term;
    this.snapConf = p.snapshot.conf;
    this.entries = [...p.entries];
    this.stable = this.lastIndex();
    this.persistedHardState = p.hardState;
    // The commit index rides along the next save instead of one of its own (see
    // hardStateChanged), so the state machine may have applied past the persisted one: every
    // applied entry was committed and already durable in this log when it was applied.
    const applied = Math.max(cfg.applied ?? 0, this.snapIndex);
    if (applied > this.lastIndex()) {
      throw new Error(
        `${where}: state machine applied ${applied} is beyond the durable log (last index ${this.lastIndex()})`,
      );
    }
    this.commit = Math.max(p.hardState.commit, applied);
    this.applied = applied;
    // A replica that never persisted a term has acknowledged no leader's lease, so it need not
    // wait one out before granting (pre-)votes: a new member of a forming group would otherwise
    // ignore the first campaign and cost the group a whole election timeout.
    if (this.term === 0 && this.lastIndex() === 0) this.ticksSinceLeader = this.electionTicks;
    this.refreshConf();
    this.resetRandomizedTimeout();
  }

  // ---------------------------------------------------------------- public API

  tick(): void {
    this.now++;
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.grp !== this.grp || m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === MsgType.PreVote || m.type === MsgType.Vote) {
        if (!m.force && this.inLease() && !this.voteDuringLease) return; // a live leader exists as far as we know
      }
      if (m.type === MsgType.PreVote || (m.type === MsgType.PreVoteResp && !m.reject)) {
        // Pre-vote traffic is about a future term and must not move ours.
      } else {
        const fromLeader = m.type === MsgType.App || m.type === MsgType.Heartbeat || m.type === MsgType.Snap;
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (m.type === MsgType.App || m.type === MsgType.Heartbeat || m.type === MsgType.Snap) {
        // Tell a deposed leader about the newer term so it steps down (it may be cut off from
        // everything but us, and with pre-vote nobody else would raise its term).
        this.send({ type: MsgType.AppResp, to: m.from, reject: true, index: m.index ?? 0 });
      } else if (m.type === MsgType.PreVote) {
        this.send({ type: MsgType.PreVoteResp, to: m.from, reject: true });
      }
      return;
    }

    switch (m.type) {
      case MsgType.PreVote:
      case MsgType.Vote:
        this.handleVoteRequest(m);
        return;
      case MsgType.ReadIndex:
        // Not forwarded again: the answer must go back to the node whose host asked.
        if (this.role === "leader") this.handleReadRequest(m.ctx ?? "", m.from);
        return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "preCandidate":
      case "candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntry(EntryKind.Normal, data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== "leader") return this.refuse("not the leader");
    // Without a committed entry of its own term a new leader could still hold an uncommitted
    // change of an earlier leader that a rival change would not overlap with (Ongaro's fix).
    if (!this.committedInTerm()) return this.refuse("leader has not committed an entry of its term yet");
    if (this.confIndex > this.commit) return this.refuse("a configuration change is still in progress");
    const next = changedConf(this.conf, cc);
    if (typeof next === "string") return this.refuse(next);
    return this.proposeEntry(EntryKind.ConfChange, encodeConf(next));
  }

  /** Asks for a linearizable read; the answer arrives as a ReadState with the same ctx (or never:
   *  the host times out and retries). Returns false when it could not even be routed. */
  readIndex(ctx: string): boolean {
    if (this.role === "leader") {
      this.handleReadRequest(ctx, this.id);
      return true;
    }
    if (this.lead === null) return false;
    this.send({ type: MsgType.ReadIndex, to: this.lead, ctx });
    return true;
  }

  transferLeader(to: NodeId): boolean {
    if (this.role !== "leader" || to === this.id || !this.conf.voters.includes(to)) return false;
    if (this.transferee === to) return true;
    const pr = this.prs.get(to);
    if (!pr) return false;
    this.transferee = to;
    this.electionElapsed = 0; // the transfer is abandoned after one election timeout
    if (pr.match === this.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
    return true;
  }

  /** The state machine holds a snapshot of everything up to `index` (durably): drop the log
   *  before it. `data` is what a lagging follower will receive. */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.snapIndex) return;
    if (index > this.applied) {
      throw new Error(
        `raft group ${this.grp} node ${this.id}: cannot compact to ${index}, only ${this.applied} applied`,
      );
    }
    const meta: SnapshotMeta = { index, term: this.termAt(index)!, conf: this.confAt(index) };
    this.entries = this.entries.slice(index - this.snapIndex);
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.snapConf = meta.conf;
    this.snapshotDataInMemory = data;
    this.snapshotToPersist = { meta, data };
  }

  hasReady(): boolean {
    return (
      this.appendPending ||
      this.readRoundNeeded ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.snapshotToPersist !== null ||
      this.stable < this.lastIndex() ||
      this.hardStateChanged() ||
      Math.min(this.commit, this.lastIndex()) > this.applied
    );
  }

  ready(): Ready {
    if (this.handed) throw new Error(`raft group ${this.grp} node ${this.id}: ready() called twice without advance()`);
    this.flush();
    const unstable = this.entries.slice(this.stable - this.snapIndex);
    const snapshot = this.snapshotToPersist;
    const commitRides = (unstable.length > 0 || snapshot !== null) && this.persistedHardState.commit !== this.commit;
    const hs =
      this.hardStateChanged() || commitRides ? { term: this.term, vote: this.vote, commit: this.commit } : null;
    let persist: GroupWrite | null = null;
    if (hs || unstable.length > 0 || snapshot) {
      persist = {
        grp: this.grp,
        ...(hs ? { hardState: hs } : {}),
        ...(unstable.length > 0 ? { entries: unstable } : {}),
        ...(snapshot ? { snapshot, discardLog: this.discardLogOnPersist } : {}),
      };
    }
    const install = this.snapshotToInstall;
    const applyFrom = Math.max(this.applied, install ? install.meta.index : 0) + 1;
    const committedTo = Math.min(this.commit, this.lastIndex());
    const committed = committedTo >= applyFrom ? this.slice(applyFrom, committedTo, Infinity) : [];
    const rd: Ready = {
      persist,
      installSnapshot: install,
      messages: this.msgs,
      committed,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    this.handed = {
      lastIndex: this.lastIndex(),
      committedTo: Math.max(committedTo, applyFrom - 1),
      committed,
      hardState: hs,
      snapshot,
      install,
    };
    return rd;
  }

  /** Entries from `index` on were replaced (or dropped for a snapshot): none of them is durable. */
  private unstableFrom(index: number): void {
    this.stable = Math.min(this.stable, index - 1);
    if (this.handed) this.handed.lastIndex = Math.min(this.handed.lastIndex, index - 1);
  }

  advance(): void {
    const h = this.handed;
    if (!h) throw new Error(`raft group ${this.grp} node ${this.id}: advance() without ready()`);
    this.handed = null;
    // A snapshot restored meanwhile set `stable` to its index, above what the handed write kept.
    this.stable = Math.max(this.stable, h.lastIndex);
    if (h.hardState) this.persistedHardState = h.hardState;
    // A snapshot taken or received after ready() is still to be persisted (and installed).
    if (h.snapshot && this.snapshotToPersist === h.snapshot) {
      this.snapshotToPersist = null;
      this.discardLogOnPersist = false;
      this.snapshotDataInMemory = null; // readable from storage from now on
    }
    if (this.snapshotToInstall === h.install) this.snapshotToInstall = null;
    this.applied = Math.max(this.applied, h.committedTo);
    if (this.role === "leader") {
      // Our own log counts toward the quorum only once durable.
      if (this.maybeCommit()) this.appendPending = true;
      this.releaseReads();
    }
  }

  status(): RaftStatus {
    return {
      grp: this.grp,
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.lastIndex(),
      snapshotIndex: this.snapIndex,
      conf: this.conf,
      transferringTo: this.transferee,
    };
  }

  /** Followers' replication state; empty unless this node leads. */
  followers(): FollowerProgress[] {
    return [...this.prs].map(([id, pr]) => ({
      id,
      learner: pr.learner,
      match: pr.match,
      next: pr.next,
      state: pr.state,
      recentActive: pr.recentActive,
    }));
  }

  /** Term of the entry at index (the snapshot's at its index); undefined when compacted or beyond the log. */
  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1].term;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  /**
   * True when a lease read may be served right now without a round trip: a quorum acknowledged a
   * heartbeat sent less than E - margin ticks ago on the monotonic clock, read now (a leader resumed
   * from a pause checks the time it was away before serving, not after its next tick).
   */
  leaseValid(): boolean {
    if (!this.leaseReads || this.role !== "leader" || this.leaseRevoked || !this.committedInTerm()) return false;
    const now = this.time();
    const acks = this.conf.voters.map((v) => (v === this.id ? now : (this.prs.get(v)?.leaseTick ?? -Infinity)));
    acks.sort((a, b) => b - a);
    const since = acks[quorum(acks.length) - 1];
    return now < since + this.electionTicks - this.leaseMargin;
  }

  /** Lease time in ticks; see RaftConfig.clock. */
  private time(): number {
    return this.clock ? this.clock() : this.now;
  }

  // ---------------------------------------------------------------- log helpers

  private lastTerm(): number {
    return this.termAt(this.lastIndex())!;
  }

  private slice(lo: number, hi: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi; i++) {
      const e = this.entries[i - this.snapIndex - 1];
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Largest index <= index whose term is <= term (how far back a mismatch can reach). */
  private findConflictByTerm(index: number, term: number): number {
    for (let i = Math.min(index, this.lastIndex()); i > this.snapIndex; i--) {
      if (this.termAt(i)! <= term) return i;
    }
    return this.snapIndex;
  }

  private isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  private confAt(index: number): ConfState {
    for (let i = index; i > this.snapIndex; i--) {
      const e = this.entries[i - this.snapIndex - 1];
      if (e.kind === EntryKind.ConfChange) return decodeConf(e.data);
    }
    return this.snapConf;
  }

  private refreshConf(): void {
    for (let i = this.lastIndex(); i > this.snapIndex; i--) {
      const e = this.entries[i - this.snapIndex - 1];
      if (e.kind === EntryKind.ConfChange) {
        this.setConf(decodeConf(e.data), i);
        return;
      }
    }
    this.setConf(this.snapConf, this.snapIndex);
  }

  private committedInTerm(): boolean {
    return this.termAt(this.commit) === this.term;
  }

  /**
   * Term or vote changed: these must be durable before any message that depends on them. A new
   * commit index alone needs no save of its own (etcd does the same): committed entries are
   * durable in the log already, and after a restart the commit index is recovered from the
   * state machine's applied index or learnt again from the leader; it rides along the next save.
   */
  private hardStateChanged(): boolean {
    const p = this.persistedHardState;
    return p.term !== this.term || p.vote !== this.vote;
  }

  private snapshotBytes(): Uint8Array {
    return this.snapshotDataInMemory ?? this.storage.snapshotData(this.grp);
  }

  // ---------------------------------------------------------------- roles

  private soleVoter(): boolean {
    return this.conf.voters.length === 1 && this.conf.voters[0] === this.id;
  }

  private promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  /**
   * Voters campaign; so does a node whose own removal is still uncommitted in its log. Otherwise a
   * deposed leader holding the only copy of its removal would refuse to lead and, its log being
   * the longest, refuse its vote to everyone else: no leader ever again. It collects votes from a
   * majority of its latest configuration like any candidate, which keeps elections safe.
   */
  private mayCampaign(): boolean {
    if (this.promotable()) return true;
    return this.confIndex > this.commit && this.confAt(this.confIndex - 1).voters.includes(this.id);
  }

  private inLease(): boolean {
    return this.checkQuorum && (this.role === "leader" || this.ticksSinceLeader < this.electionTicks);
  }

  private resetRandomizedTimeout(): void {
    // At least E + 1, not E: the other followers count ticks on their own clocks, out of phase by
    // up to one tick, and ignore pre-votes until E of theirs have passed without the leader (the
    // check-quorum lease). A node campaigning after exactly E of its ticks was often ignored and
    // lost a whole extra timeout.
    this.randomizedTimeout = this.electionTicks + 1 + Math.floor(this.random() * this.electionTicks);
  }

  private resetTerm(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedTimeout();
    this.votes.clear();
    this.prs.clear();
    this.transferee = null;
    this.leaseRevoked = false;
    this.appendPending = false;
    this.readRoundNeeded = false;
    this.readsAwaitingTermCommit = [];
    this.readQueue = [];
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.resetTerm(term);
    this.role = "follower";
    this.lead = lead;
    if (lead !== null) this.ticksSinceLeader = 0;
  }

  private becomePreCandidate(): void {
    // Keeps term and vote: a pre-candidate only asks whether it could win.
    this.role = "preCandidate";
    this.lead = null;
    this.votes.clear();
    this.electionElapsed = 0;
    this.resetRandomizedTimeout();
  }

  private becomeCandidate(): void {
    this.resetTerm(this.term + 1);
    this.role = "candidate";
    this.vote = this.id;
  }

  private becomeLeader(): void {
    this.resetTerm(this.term);
    this.role = "leader";
    this.lead = this.id;
    this.ticksSinceLeader = 0;
    const last = this.lastIndex();
    for (const v of this.conf.voters) if (v !== this.id) this.prs.set(v, new Progress(last + 1, false));
    for (const l of this.conf.learners) if (l !== this.id) this.prs.set(l, new Progress(last + 1, true));
    // The no-op of this term: nothing (ReadIndex included) relies on earlier-term entries being
    // committed until it commits.
    this.appendEntry(EntryKind.Noop, null);
  }

  private tickElection(): void {
    this.electionElapsed++;
    this.ticksSinceLeader++;
    // A sole voter has no rival to split the vote with: it campaigns at its first tick, so a
    // one-member group leads at once instead of after E ticks. With lease reads it still waits out
    // a lease it may have granted: the survivor of a removal must not lead while the removed
    // leader still answers reads from its lease (test/sim/raft.test.ts finds that stale read).
    const soleVoterNow = this.soleVoter() && !(this.leaseReads && this.inLease());
    const due = this.electionElapsed >= this.randomizedTimeout || soleVoterNow;
    if (due && this.mayCampaign()) {
      this.electionElapsed = 0;
      this.campaign(this.preVote ? "pre" : "real");
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      this.transferee = null; // a transfer that did not finish in one election timeout is abandoned
      if (!this.promotable() && this.commit >= this.confIndex) this.handOff();
    }
    for (const [to, pr] of this.prs) {
      if (pr.state === "snapshot" && pr.snap && ++pr.snap.idleTicks >= 2 * this.heartbeatTicks) {
        // A chunk or its ack was lost: resend from what was acknowledged.
        pr.snap.idleTicks = 0;
        pr.snap.sent = pr.snap.acked;
        pr.snap.done = false;
        this.sendSnapChunks(to, pr);
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      if (v === this.id) active++;
      else if (this.prs.get(v)?.recentActive) active++;
    }
    for (const pr of this.prs.values()) pr.recentActive = false;
    return active >= quorum(this.conf.voters.length);
  }

  private campaign(kind: "pre" | "real" | "transfer"): void {
    if (!this.mayCampaign()) return;
    if (kind === "pre") this.becomePreCandidate();
    else this.becomeCandidate();
    const type = kind === "pre" ? MsgType.PreVote : MsgType.Vote;
    const term = kind === "pre" ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.tally() === "won") {
      this.onElectionWon();
      return;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      this.send({
        type,
        to: v,
        term,
        index: this.lastIndex(),
        logTerm: this.lastTerm(),
        ...(kind === "transfer" ? { force: true } : {}),
      });
    }
  }

  private tally(): "won" | "lost" | "pending" {
    let granted = 0;
    let rejected = 0;
    for (const v of this.conf.voters) {
      const r = this.votes.get(v);
      if (r === true) granted++;
      else if (r === false) rejected++;
    }
    const q = quorum(this.conf.voters.length);
    if (granted >= q) return "won";
    if (rejected > this.conf.voters.length - q) return "lost";
    return "pending";
  }

  private onElectionWon(): void {
    if (this.role === "preCandidate") this.campaign("real");
    else this.becomeLeader();
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MsgType.PreVote;
    const respType = pre ? MsgType.PreVoteResp : MsgType.VoteResp;
    const canVote = this.vote === m.from || (this.vote === null && this.lead === null) || (pre && m.term > this.term);
    const upToDate = this.voteWithoutLogCheck || this.isUpToDate(m.index ?? 0, m.logTerm ?? 0);
    if (canVote && upToDate) {
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MsgType.App:
      case MsgType.Heartbeat:
      case MsgType.Snap:
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case MsgType.PreVoteResp:
      case MsgType.VoteResp: {
        if ((m.type === MsgType.PreVoteResp) !== (this.role === "preCandidate")) return;
        // A grant from an earlier pre-vote round names an older target term.
        if (m.type === MsgType.PreVoteResp && !m.reject && m.term !== this.term + 1) return;
        this.votes.set(m.from, !m.reject);
        const t = this.tally();
        if (t === "won") this.onElectionWon();
        else if (t === "lost") this.becomeFollower(this.term, null);
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MsgType.App:
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case MsgType.Heartbeat:
        this.heardFromLeader(m.from);
        this.commitTo(Math.min(m.commit ?? 0, this.lastIndex()));
        this.send({ type: MsgType.HeartbeatResp, to: m.from, seq: m.seq, tick: m.tick });
        return;
      case MsgType.Snap:
        this.heardFromLeader(m.from);
        this.handleSnapChunk(m);
        return;
      case MsgType.TimeoutNow:
        if (this.promotable()) this.campaign("transfer");
        return;
      case MsgType.ReadIndexResp:
        this.readStates.push({ ctx: m.ctx ?? "", index: m.index ?? 0 });
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.ticksSinceLeader = 0;
    this.lead = from;
  }

  private commitTo(index: number): void {
    if (index > this.commit) this.commit = index;
  }

  // ---------------------------------------------------------------- follower replication

  private handleAppend(m: Message): void {
    const prev = m.index ?? 0;
    if (prev < this.commit) {
      this.send({ type: MsgType.AppResp, to: m.from, index: this.commit });
      return;
    }
    if (this.termAt(prev) !== m.logTerm) {
      const hint = this.findConflictByTerm(Math.min(prev, this.lastIndex()), m.logTerm ?? 0);
      this.send({
        type: MsgType.AppResp,
        to: m.from,
        index: prev,
        reject: true,
        hint,
        hintTerm: this.termAt(hint) ?? 0,
      });
      return;
    }
    const ents = m.entries ?? [];
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k];
      if (e.index <= this.lastIndex()) {
        if (this.termAt(e.index) === e.term) continue;
        if (e.index <= this.commit) {
          throw new Error(
            `raft group ${this.grp} node ${this.id}: conflicting entry ${e.index}/${e.term} at or below commit ${this.commit}`,
          );
        }
        this.entries.length = e.index - this.snapIndex - 1;
        this.unstableFrom(e.index);
      }
      let confChanged = e.index <= this.confIndex; // truncated away
      for (let j = k; j < ents.length; j++) {
        this.entries.push(ents[j]);
        if (ents[j].kind === EntryKind.ConfChange) confChanged = true;
      }
      if (confChanged) this.refreshConf();
      break;
    }
    const lastNew = prev + ents.length;
    this.commitTo(Math.min(m.commit ?? 0, lastNew));
    this.send({ type: MsgType.AppResp, to: m.from, index: lastNew });
  }

  private handleSnapChunk(m: Message): void {
    const c = m.snap;
    if (!c) return;
    if (c.meta.index <= this.commit) {
      this.incoming = null;
      this.send({ type: MsgType.AppResp, to: m.from, index: this.commit });
      return;
    }
    let inc = this.incoming;
    if (!inc || inc.meta.index !== c.meta.index || inc.meta.term !== c.meta.term) {
      if (c.offset !== 0) {
        this.send({ type: MsgType.SnapResp, to: m.from, index: c.meta.index, offset: 0 });
        return;
      }
      inc = this.incoming = { meta: c.meta, chunks: [], size: 0 };
    }
    if (c.offset !== inc.size) {
      this.send({ type: MsgType.SnapResp, to: m.from, index: c.meta.index, offset: inc.size });
      return;
    }
    inc.chunks.push(c.chunk);
    inc.size += c.chunk.byteLength;
    if (!c.last) {
      this.send({ type: MsgType.SnapResp, to: m.from, index: c.meta.index, offset: inc.size });
      return;
    }
    this.incoming = null;
    const data = new Uint8Array(inc.size);
    let off = 0;
    for (const ch of inc.chunks) {
      data.set(ch, off);
      off += ch.byteLength;
    }
    this.restore({ meta: c.meta, data });
    // Only the commit index is known to match the leader: entries we kept past the snapshot
    // index have not been checked against its log.
    this.send({ type: MsgType.AppResp, to: m.from, index: this.commit });
  }

  private restore(s: Snapshot): void {
    if (this.termAt(s.meta.index) === s.meta.term) {
      // We already hold that prefix: the snapshot only tells us it is committed.
      this.commitTo(s.meta.index);
      return;
    }
    this.entries = [];
    this.snapIndex = s.meta.index;
    this.snapTerm = s.meta.term;
    this.snapConf = s.meta.conf;
    this.unstableFrom(s.meta.index + 1);
    this.stable = s.meta.index;
    this.commit = s.meta.index;
    this.snapshotDataInMemory = s.data;
    this.snapshotToPersist = s;
    this.discardLogOnPersist = true;
    this.snapshotToInstall = s;
    this.refreshConf();
  }

  // ---------------------------------------------------------------- leader

  private refuse(reason: string): ProposeResult {
    return { ok: false, reason, leader: this.lead };
  }

  private proposeEntry(kind: EntryKind, data: Uint8Array | null): ProposeResult {
    if (this.role !== "leader") return this.refuse("not the leader");
    if (this.transferee !== null) return this.refuse(`leadership is being transferred to ${this.transferee}`);
    if (!this.promotable()) return this.refuse("this leader was removed from the group");
    const e = this.appendEntry(kind, data);
    return { ok: true, index: e.index, term: e.term };
  }

  private appendEntry(kind: EntryKind, data: Uint8Array | null): Entry {
    const e: Entry = { index: this.lastIndex() + 1, term: this.term, kind, data };
    this.entries.push(e);
    this.appendPending = true;
    if (kind === EntryKind.ConfChange) this.setConf(decodeConf(data), e.index);
    return e;
  }

  /** Work batched over a turn: one append per follower for all proposals, one heartbeat round for all reads. */
  private flush(): void {
    if (this.role !== "leader") return;
    if (this.appendPending) {
      this.appendPending = false;
      for (const to of this.prs.keys()) this.sendAppend(to, false);
    }
    if (this.readRoundNeeded) {
      this.readRoundNeeded = false;
      this.bcastHeartbeat();
    }
  }

  private maybeCommit(): boolean {
    const matches = this.conf.voters.map((v) => (v === this.id ? this.stable : (this.prs.get(v)?.match ?? 0)));
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const idx = matches[quorum(matches.length) - 1];
    // Only an entry of the current term is committed by counting replicas (Raft §5.4.2).
    if (idx > this.commit && this.termAt(idx) === this.term) {
      const first = !this.committedInTerm();
      this.commit = idx;
      if (first) this.onTermEntryCommitted();
      if (!this.promotable() && this.commit >= this.confIndex && this.transferee === null) this.handOff();
      return true;
    }
    return false;
  }

  private onTermEntryCommitted(): void {
    const waiting = this.readsAwaitingTermCommit;
    this.readsAwaitingTermCommit = [];
    for (const r of waiting) this.handleReadRequest(r.ctx, r.from);
  }

  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused(this.maxInflight)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.termAt(prevIndex);
    if (prevTerm === undefined) {
      this.startSnapshot(to, pr);
      return false;
    }
    const ents = pr.next <= this.lastIndex() ? this.slice(pr.next, this.lastIndex(), this.maxMsgBytes) : [];
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: MsgType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.commit });
    pr.sentAppend(ents.length > 0 ? ents[ents.length - 1].index : 0);
    return ents.length > 0;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    const meta: SnapshotMeta = { index: this.snapIndex, term: this.snapTerm, conf: this.snapConf };
    pr.becomeSnapshot(meta, this.snapshotBytes());
    this.sendSnapChunks(to, pr);
  }

  /** Keeps up to SNAPSHOT_WINDOW chunks beyond the acknowledged offset in flight. */
  private sendSnapChunks(to: NodeId, pr: Progress): void {
    const s = pr.snap!;
    const len = s.data.byteLength;
    while (!s.done && s.sent < s.acked + SNAPSHOT_WINDOW * this.chunkBytes) {
      const end = Math.min(s.sent + this.chunkBytes, len);
      this.send({
        type: MsgType.Snap,
        to,
        snap: { meta: s.meta, offset: s.sent, chunk: s.data.subarray(s.sent, end), last: end === len },
      });
      s.sent = end;
      s.done = end === len;
    }
  }

  private bcastHeartbeat(): void {
    this.readSeq++;
    for (const [to, pr] of this.prs) {
      this.send({
        type: MsgType.Heartbeat,
        to,
        commit: Math.min(pr.match, this.commit),
        seq: this.readSeq,
        // Rounded down: the lease then starts no later than the heartbeat left.
        tick: Math.floor(this.time()),
      });
    }
    this.releaseReads();
  }

  private sendTimeoutNow(to: NodeId): void {
    // The target will be elected with forced votes that ignore followers' leases, so ours is void
    // for the rest of this term.
    this.leaseRevoked = true;
    this.send({ type: MsgType.TimeoutNow, to });
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MsgType.AppResp:
        pr.recentActive = true;
        if (m.reject) this.handleAppendReject(m, pr);
        else this.handleAppendAck(m.from, m.index ?? 0, pr);
        return;
      case MsgType.HeartbeatResp:
        pr.recentActive = true;
        pr.onHeartbeatResp(this.maxInflight);
        if (m.seq !== undefined && m.seq > pr.ackSeq) pr.ackSeq = m.seq;
        if (m.tick !== undefined && m.tick > pr.leaseTick) pr.leaseTick = m.tick;
        if (pr.match < this.lastIndex()) this.sendAppend(m.from, true);
        this.releaseReads();
        return;
      case MsgType.SnapResp:
        pr.recentActive = true;
        if (pr.state === "snapshot" && pr.snap && pr.snap.meta.index === m.index) {
          const s = pr.snap;
          const acked = Math.min(m.offset ?? 0, s.data.byteLength);
          s.idleTicks = 0;
          if (acked < s.acked) {
            // The follower lost what it had (restart) or this ack is stale: resend from there.
            s.sent = acked;
            s.done = false;
          } else if (s.sent < acked) {
            s.sent = acked;
          }
          s.acked = acked;
          this.sendSnapChunks(m.from, pr);
        }
        return;
    }
  }

  private handleAppendReject(m: Message, pr: Progress): void {
    const hintTerm = m.hintTerm ?? 0;
    const hint = m.hint ?? 0;
    const probe = hintTerm > 0 ? this.findConflictByTerm(hint, hintTerm) : hint;
    if (pr.maybeDecrTo(m.index ?? 0, probe)) this.sendAppend(m.from, true);
  }

  private handleAppendAck(from: NodeId, index: number, pr: Progress): void {
    if (!pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) {
      this.appendPending = true; // followers learn the new commit index
    }
    while (this.sendAppend(from, false)) {
      // fill the in-flight window
    }
    if (this.transferee === from && pr.match === this.lastIndex()) this.sendTimeoutNow(from);
  }

  private handleReadRequest(ctx: string, from: NodeId): void {
    if (!this.committedInTerm() && !this.readBeforeTermCommit) {
      this.readsAwaitingTermCommit.push({ ctx, from });
      return;
    }
    if (this.leaseValid()) {
      this.answerRead(ctx, from, this.commit);
      return;
    }
    this.readQueue.push({ ctx, from, index: this.commit, seq: this.readSeq + 1 });
    this.readRoundNeeded = true;
  }

  /** Answers every queued read whose heartbeat round a quorum has acknowledged. */
  private releaseReads(): void {
    if (this.readQueue.length === 0) return;
    const acks = this.conf.voters.map((v) => (v === this.id ? this.readSeq : (this.prs.get(v)?.ackSeq ?? 0)));
    acks.sort((a, b) => b - a);
    const confirmed = acks[quorum(acks.length) - 1];
    let n = 0;
    while (n < this.readQueue.length && this.readQueue[n].seq <= confirmed) {
      const r = this.readQueue[n++];
      this.answerRead(r.ctx, r.from, r.index);
    }
    if (n > 0) this.readQueue = this.readQueue.slice(n);
  }

  private answerRead(ctx: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, index });
    else this.send({ type: MsgType.ReadIndexResp, to: from, ctx, index });
  }

  private setConf(conf: ConfState, index: number): void {
    this.conf = conf;
    this.confIndex = index;
    if (this.role !== "leader") return;
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.prs.keys()]) if (!members.has(id)) this.prs.delete(id);
    for (const [ids, learner] of [
      [conf.voters, false],
      [conf.learners, true],
    ] as const) {
      for (const id of ids) {
        if (id === this.id) continue;
        const pr = this.prs.get(id);
        if (pr) pr.learner = learner;
        else this.prs.set(id, new Progress(this.lastIndex() + 1, learner));
      }
    }
    if (this.transferee !== null && !conf.voters.includes(this.transferee)) this.transferee = null;
    this.appendPending = true; // new members need their first append
  }

  /**
   * A leader removed from the group leads on without counting itself until its removal commits
   * (thesis §4.2.2), then hands leadership to the most caught-up voter instead of just stepping
   * down, so the group gets a new leader without waiting for an election timeout.
   */
  private handOff(): void {
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const v of this.conf.voters) {
      const m = this.prs.get(v)?.match ?? -1;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    if (best === null) return;
    this.transferee = best;
    if (bestMatch === this.lastIndex()) this.sendTimeoutNow(best);
    else this.sendAppend(best, true);
  }

  private send(m: Omit<Message, "grp" | "from" | "term"> & { term?: number }): void {
    this.msgs.push({ ...m, grp: this.grp, from: this.id, term: m.term ?? this.term });
  }
}
