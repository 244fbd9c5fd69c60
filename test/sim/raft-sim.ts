// Deterministic Raft cluster simulator: a virtual clock, a seeded lossy network, crashes that keep
// only what was persisted, membership changes, transfers, compaction and reads, with the Raft
// safety properties checked after every step and a liveness bound after the faults heal.
import { Raft } from "../../src/raft/raft.ts";
import type { RaftConfig } from "../../src/raft/raft.ts";
import { MemoryRaftStorage } from "../../src/raft/memory-storage.ts";
import { bootstrapWrite } from "../../src/raft/storage.ts";
import type { RaftStorage } from "../../src/raft/storage.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { messageProblem } from "../../src/raft/message-check.ts";
import { EntryKind } from "../../src/raft/types.ts";
import type { ConfChange, Entry, Message, NodeId, Snapshot } from "../../src/raft/types.ts";

export interface SimOptions {
  readonly seed: number;
  /** Ticks with faults before everything heals. */
  readonly faultTicks?: number;
  /** After healing, a leader must commit a new entry on every member within this many ticks. */
  readonly livenessTicks?: number;
  readonly unsafeTestingKnobs?: RaftConfig["unsafeTestingKnobs"];
  readonly trace?: (line: string) => void;
  /** Storage for a new node (default: in memory). A crash keeps exactly what it holds. */
  readonly storage?: (id: NodeId) => RaftStorage;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly steps: number;
  readonly ticks: number;
  readonly committed: number;
  readonly acked: number;
  readonly reads: number;
}

export class SimViolation extends Error {}

const GRP = 7;
const ELECTION = 10;
const HEARTBEAT = 2;
const CATCH_UP_TICKS = 3000;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface StateMachine {
  applied: number;
  payloads: string[];
}

interface SimNode {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  raft: Raft | null;
  sm: StateMachine;
  recordedCommit: number;
  seenLeaderTerm: number;
  seenRole: string;
  incarnation: number;
  /** Clock drift: this node misses one tick in every `skipEvery` (0: none), at most 10%, which
   *  the lease margin (2 of 10 ticks) must absorb. */
  readonly skipEvery: number;
  readonly skipPhase: number;
}

interface InFlight {
  readonly at: number;
  readonly m: Message;
}

const encodeSm = (sm: StateMachine): Uint8Array => enc.encode(JSON.stringify(sm));
const decodeSm = (b: Uint8Array): StateMachine =>
  b.byteLength === 0 ? { applied: 0, payloads: [] } : (JSON.parse(dec.decode(b)) as StateMachine);
const payloadOf = (e: Entry): string => (e.kind === EntryKind.Normal && e.data ? dec.decode(e.data) : "");

class Sim {
  private readonly rnd: () => number;
  private readonly nodes = new Map<NodeId, SimNode>();
  private nextNodeNum = 0;
  private net: InFlight[] = [];
  private blocked = new Set<string>();
  private now = 0;
  steps = 0;
  // Fault profile of this seed.
  private dropP = 0;
  private dupP = 0;
  private maxDelay = 1;
  private faulty = true;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly lease: boolean;
  private readonly maxInflight: number;
  private readonly maxMsgBytes: number;
  private readonly chunkBytes: number;
  // Global knowledge for the checks.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly logEntry = new Map<string, string>();
  private readonly committedTerm = new Map<number, number>();
  private maxCommitted = 0;
  private readonly appliedAt = new Map<number, string>();
  private readonly payloadAt = new Map<number, string>();
  private readonly payloadIndex = new Map<string, number>();
  private readonly proposals = new Map<string, { node: NodeId; index: number; term: number }>();
  readonly acked = new Map<string, number>();
  private readonly reads = new Map<string, { node: NodeId; minIndex: number }>();
  readsAnswered = 0;
  private nextPayload = 0;
  private nextRead = 0;
  private readonly recent: string[] = [];

  constructor(private readonly opts: SimOptions) {
    this.rnd = seededRandom(opts.seed);
    this.preVote = this.rnd() < 0.85;
    // With neither, a removed server that never learns of its removal disrupts the group forever
    // (thesis §4.2.3); FlyDB always runs with both, the simulator with at least one.
    this.checkQuorum = !this.preVote || this.rnd() < 0.85;
    this.lease = this.checkQuorum && this.rnd() < 0.5;
    this.maxInflight = 1 + Math.floor(this.rnd() * 4);
    this.maxMsgBytes = 60 + Math.floor(this.rnd() * 300);
    this.chunkBytes = 64 + Math.floor(this.rnd() * 400);
    const n = this.rnd() < 0.6 ? 3 : this.rnd() < 0.5 ? 5 : 1 + Math.floor(this.rnd() * 2) * 3;
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++) ids.push(this.newId());
    for (const id of ids) {
      const storage = this.newStorage(id);
      storage.saveBatch([bootstrapWrite(GRP, ids)]);
      this.addNode(id, storage);
    }
    this.log(
      `seed ${opts.seed}: voters ${ids.join(",")} preVote=${this.preVote} checkQuorum=${this.checkQuorum} lease=${this.lease} inflight=${this.maxInflight} msgBytes=${this.maxMsgBytes} chunk=${this.chunkBytes}`,
    );
  }

  // ------------------------------------------------------------------ driving

  run(): void {
    const faultTicks = this.opts.faultTicks ?? 200 + (this.opts.seed % 3) * 150;
    this.reprofile();
    for (let t = 0; t < faultTicks; t++) {
      this.tickAll();
      this.randomEvents();
    }
    this.heal();
    this.awaitLiveness(this.opts.livenessTicks ?? 40 * ELECTION);
  }

  private reprofile(): void {
    const calm = this.rnd() < 0.3;
    this.dropP = calm ? 0 : this.rnd() * 0.2;
    this.dupP = calm ? 0 : this.rnd() * 0.08;
    this.maxDelay = 1 + Math.floor(this.rnd() * 4);
  }

  private tickAll(): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (!n.raft) continue;
      if (n.skipEvery > 0 && (this.now + n.skipPhase) % n.skipEvery === 0) continue;
      n.raft.tick();
      this.steps++;
      this.drain(n);
    }
    this.deliver();
  }

  private deliver(): void {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.net) (f.at <= this.now ? due : later).push(f);
    this.net = later;
    // Random order among the due messages: reordering beyond what the delays already cause.
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.rnd() * (i + 1));
      const t = due[i];
      due[i] = due[j];
      due[j] = t;
    }
    for (const { m } of due) {
      const n = this.nodes.get(m.to);
      if (!n?.raft) continue;
      this.steps++;
      this.guard(n, () => n.raft!.step(m));
      this.drain(n);
    }
  }

  private send(m: Message): void {
    if (this.blocked.has(`${m.from}>${m.to}`)) return;
    if (this.rnd() < this.dropP) return;
    const copies = this.rnd() < this.dupP ? 2 : 1;
    for (let c = 0; c < copies; c++) this.net.push({ at: this.now + 1 + Math.floor(this.rnd() * this.maxDelay), m });
  }

  private randomEvents(): void {
    const r = () => this.rnd();
    if (r() < 0.35) this.propose();
    if (r() < 0.1) this.propose();
    if (r() < 0.08) this.read();
    if (r() < 0.012) this.crash();
    if (r() < 0.05) this.restart();
    if (r() < 0.012) this.partition();
    if (r() < 0.03) this.healPartition();
    if (r() < 0.015) this.changeMembership();
    if (r() < 0.01) this.transfer();
    if (r() < 0.04) this.compact();
    if (r() < 0.01) this.reprofile();
  }

  private heal(): void {
    this.log(`t=${this.now} heal`);
    this.faulty = false;
    this.blocked.clear();
    this.dropP = 0;
    this.dupP = 0;
    for (const n of this.nodes.values()) if (!n.raft) this.start(n);
  }

  /**
   * After healing: within `bound` ticks a leader commits (and acknowledges) a new entry; then,
   * within CATCH_UP_TICKS more, every member applies it. The second bound is looser because a
   * member far behind after a long fault phase catches up at the speed of the flow-control
   * settings this seed picked.
   */
  private awaitLiveness(bound: number): void {
    let pending: { payload: string; term: number } | null = null;
    let ackedAt: number | null = null;
    for (let t = 0; ackedAt === null ? t < bound : t < ackedAt + CATCH_UP_TICKS; t++) {
      this.tickAll();
      const leader = this.currentLeader();
      if (!leader) continue;
      const term = leader.raft!.status().term;
      if (pending && pending.term !== term && !this.acked.has(pending.payload)) pending = null;
      if (!pending) {
        const p = this.propose(leader);
        if (p) pending = { payload: p, term };
        continue;
      }
      const idx = this.acked.get(pending.payload);
      if (idx === undefined) continue;
      ackedAt ??= t;
      const conf = leader.raft!.status().conf;
      const members = [...conf.voters, ...conf.learners];
      if (members.every((id) => (this.nodes.get(id)?.sm.applied ?? 0) >= idx)) {
        this.finalChecks(members);
        return;
      }
    }
    const states = [...this.nodes.values()].map((n) => {
      const s = n.raft?.status();
      return s
        ? `${n.id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}/v[${s.conf.voters}]l[${s.conf.learners}]`
        : `${n.id}:down`;
    });
    const what =
      ackedAt === null
        ? `no leader committed a new entry within ${bound} ticks`
        : `members did not apply the committed entry within ${CATCH_UP_TICKS} more ticks`;
    this.fail(`liveness: ${what} after healing (${states.join(" ")})`);
  }

  private finalChecks(members: NodeId[]): void {
    const minApplied = Math.min(...members.map((id) => this.nodes.get(id)!.sm.applied));
    for (const [payload, index] of this.acked) {
      if (index > minApplied) continue; // acknowledged after the final entry was proposed
      if (this.payloadAt.get(index) !== payload)
        this.fail(`acknowledged ${payload}@${index} is not what was applied there`);
      for (const id of members) {
        const sm = this.nodes.get(id)!.sm;
        if (!sm.payloads.includes(payload))
          this.fail(`acknowledged ${payload}@${index} missing from ${id}'s state machine`);
      }
    }
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      const s = n.raft?.status();
      if (s?.role === "leader" && (!best || s.term > best.raft!.status().term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------------ events

  private newId(): NodeId {
    return `n${++this.nextNodeNum}`; // never reused
  }

  private newStorage(id: NodeId): RaftStorage {
    return this.opts.storage ? this.opts.storage(id) : new MemoryRaftStorage();
  }

  private addNode(id: NodeId, storage: RaftStorage): SimNode {
    const skipEvery = this.rnd() < 0.5 ? 0 : [10, 13, 20][Math.floor(this.rnd() * 3)];
    const n: SimNode = {
      id,
      storage,
      raft: null,
      sm: { applied: 0, payloads: [] },
      recordedCommit: 0,
      seenLeaderTerm: 0,
      seenRole: "",
      incarnation: 0,
      skipEvery,
      skipPhase: Math.floor(this.rnd() * 20),
    };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    n.incarnation++;
    n.sm = decodeSm(n.storage.snapshotData(GRP));
    n.raft = this.guard(
      n,
      () =>
        new Raft({
          grp: GRP,
          id: n.id,
          storage: n.storage,
          random: seededRandom(this.opts.seed * 7919 + Number(n.id.slice(1)) * 104729 + n.incarnation * 31),
          electionTicks: ELECTION,
          heartbeatTicks: HEARTBEAT,
          applied: n.sm.applied,
          preVote: this.preVote,
          checkQuorum: this.checkQuorum,
          readMode: this.lease ? "lease" : "safe",
          maxInflight: this.maxInflight,
          maxMsgBytes: this.maxMsgBytes,
          snapshotChunkBytes: this.chunkBytes,
          ...(this.opts.unsafeTestingKnobs ? { unsafeTestingKnobs: this.opts.unsafeTestingKnobs } : {}),
        }),
    );
    const s = n.raft.status();
    // What survived the crash must agree with everything known to be committed.
    for (let i = s.snapshotIndex + 1; i <= s.commit; i++) this.checkCommitted(n, i, n.raft.termAt(i)!);
    n.recordedCommit = s.commit;
    n.seenLeaderTerm = 0;
    this.log(
      `t=${this.now} start ${n.id} (term ${s.term}, commit ${s.commit}, last ${s.lastIndex}, snap ${s.snapshotIndex})`,
    );
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[Math.floor(this.rnd() * xs.length)];
  }

  private propose(at?: SimNode): string | null {
    const n = at ?? this.currentLeader() ?? this.pick(this.live());
    if (!n?.raft) return null;
    const payload = `p${++this.nextPayload}`;
    const r = n.raft.propose(enc.encode(payload));
    this.steps++;
    if (r.ok) {
      this.proposals.set(payload, { node: n.id, index: r.index, term: r.term });
      this.log(`t=${this.now} ${n.id} propose ${payload} -> ${r.index}/${r.term}`);
    }
    this.drain(n);
    return r.ok ? payload : null;
  }

  private read(): void {
    const n = this.pick(this.live());
    if (!n) return;
    const ctx = `r${++this.nextRead}`;
    this.reads.set(ctx, { node: n.id, minIndex: this.maxCommitted });
    n.raft!.readIndex(ctx);
    this.steps++;
    this.drain(n);
  }

  private crash(): void {
    const n = this.pick(this.live());
    if (!n) return;
    n.raft = null;
    this.log(`t=${this.now} crash ${n.id}`);
  }

  private restart(): void {
    const n = this.pick([...this.nodes.values()].filter((x) => !x.raft));
    if (n) this.start(n);
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    const kind = this.rnd();
    if (kind < 0.4) {
      // Full split into two sides.
      const side = new Set(ids.filter(() => this.rnd() < 0.5));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
      this.log(`t=${this.now} partition [${[...side]}] | rest`);
    } else if (kind < 0.7) {
      const x = this.pick(ids)!;
      for (const b of ids) {
        if (b !== x) {
          this.blocked.add(`${x}>${b}`);
          this.blocked.add(`${b}>${x}`);
        }
      }
      this.log(`t=${this.now} isolate ${x}`);
    } else {
      // Asymmetric: x can hear but not be heard (or the reverse).
      const x = this.pick(ids)!;
      const out = this.rnd() < 0.5;
      for (const b of ids) if (b !== x) this.blocked.add(out ? `${x}>${b}` : `${b}>${x}`);
      this.log(`t=${this.now} one-way ${out ? "mute" : "deaf"} ${x}`);
    }
  }

  private healPartition(): void {
    if (this.blocked.size > 0) this.log(`t=${this.now} heal partition`);
    this.blocked.clear();
  }

  private changeMembership(): void {
    // Without pre-vote, servers removed while cut off (they never learn it) and stale voters
    // campaign with ever higher terms and can keep a group leaderless for long stretches
    // (thesis §4.2.3): that mode is only exercised with a fixed membership.
    if (!this.preVote) return;
    const leader = this.currentLeader();
    if (!leader) return;
    const conf = leader.raft!.status().conf;
    const roll = this.rnd();
    let cc: ConfChange;
    if (roll < 0.35 && conf.voters.length + conf.learners.length < 7) {
      const id = this.newId();
      this.addNode(id, this.newStorage(id));
      cc = { type: "addLearner" as const, node: id };
    } else if (roll < 0.65 && conf.learners.length > 0) {
      cc = { type: "addVoter" as const, node: this.pick(conf.learners)! };
    } else {
      const victim = this.pick([...conf.voters, ...conf.learners])!;
      cc = { type: "removeNode" as const, node: victim };
    }
    const r = leader.raft!.proposeConfChange(cc);
    this.steps++;
    this.log(`t=${this.now} ${leader.id} conf ${cc.type} ${cc.node}: ${r.ok ? `${r.index}/${r.term}` : r.reason}`);
    this.drain(leader);
  }

  private transfer(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const to = this.pick(leader.raft!.status().conf.voters.filter((v) => v !== leader.id));
    if (!to) return;
    this.log(`t=${this.now} ${leader.id} transfer to ${to}: ${leader.raft!.transferLeader(to)}`);
    this.steps++;
    this.drain(leader);
  }

  private compact(): void {
    const n = this.pick(this.live());
    if (!n?.raft) return;
    const s = n.raft.status();
    if (n.sm.applied - s.snapshotIndex < 4) return;
    n.raft.compact(n.sm.applied, encodeSm(n.sm));
    this.log(`t=${this.now} ${n.id} compact to ${n.sm.applied}`);
    this.steps++;
    this.drain(n);
  }

  // ------------------------------------------------------------------ the host loop + checks

  private drain(n: SimNode): void {
    while (n.raft?.hasReady()) {
      const raft = n.raft;
      const rd = this.guard(n, () => raft.ready());
      if (rd.persist?.entries) for (const e of rd.persist.entries) this.checkLogEntry(n, e);
      if (rd.persist) n.storage.saveBatch([rd.persist]);
      if (this.faulty && this.rnd() < 0.002) {
        // Crash after the write, before anything is sent or applied.
        n.raft = null;
        this.log(`t=${this.now} crash ${n.id} after persist`);
        return;
      }
      for (const m of rd.messages) {
        const problem = messageProblem(m);
        if (problem)
          this.fail(`${n.id} produced a message the transport check rejects (${problem}): ${JSON.stringify(m)}`);
        this.send(m);
      }
      if (rd.installSnapshot) this.install(n, rd.installSnapshot);
      for (const e of rd.committed) this.apply(n, e);
      for (const rs of rd.readStates) {
        const req = this.reads.get(rs.ctx);
        if (!req) continue; // a duplicated answer: the host drops ctxs it no longer waits for
        if (req.node !== n.id) this.fail(`read ${rs.ctx} of ${req.node} answered on ${n.id}`);
        if (rs.index < req.minIndex) {
          this.fail(
            `stale read: ${rs.ctx} on ${n.id} got index ${rs.index} but ${req.minIndex} was committed before it was asked`,
          );
        }
        this.reads.delete(rs.ctx);
        this.readsAnswered++;
      }
      this.guard(n, () => raft.advance());
      this.observe(n);
    }
    if (n.raft) this.observe(n);
  }

  private observe(n: SimNode): void {
    const raft = n.raft!;
    const s = raft.status();
    if (this.opts.trace && s.role + s.term !== n.seenRole) {
      n.seenRole = s.role + s.term;
      this.log(
        `t=${this.now} ${n.id} is ${s.role} term ${s.term} (last ${s.lastIndex}/${raft.termAt(s.lastIndex)}, commit ${s.commit}, voters ${s.conf.voters})`,
      );
    }
    if (s.role === "leader" && n.seenLeaderTerm !== s.term) {
      n.seenLeaderTerm = s.term;
      const other = this.leaderOfTerm.get(s.term);
      if (other !== undefined && other !== n.id)
        this.fail(`election safety: ${other} and ${n.id} both lead term ${s.term}`);
      this.leaderOfTerm.set(s.term, n.id);
      this.log(`t=${this.now} ${n.id} leads term ${s.term} (last ${s.lastIndex}, commit ${s.commit})`);
      // Leader completeness: every committed entry is in the new leader's log.
      if (s.lastIndex < this.maxCommitted)
        this.fail(
          `leader completeness: ${n.id} leads term ${s.term} with last index ${s.lastIndex} < committed ${this.maxCommitted}`,
        );
      for (const [i, t] of this.committedTerm) {
        if (i > s.snapshotIndex && raft.termAt(i) !== t) {
          this.fail(
            `leader completeness: ${n.id} (term ${s.term}) has term ${raft.termAt(i)} at committed index ${i}, expected ${t}`,
          );
        }
      }
    }
    if (s.commit > n.recordedCommit) {
      for (let i = Math.max(n.recordedCommit + 1, s.snapshotIndex + 1); i <= s.commit; i++)
        this.checkCommitted(n, i, raft.termAt(i)!);
      n.recordedCommit = s.commit;
    }
  }

  private checkCommitted(n: SimNode, index: number, term: number): void {
    const known = this.committedTerm.get(index);
    if (known === undefined) {
      this.committedTerm.set(index, term);
      if (index > this.maxCommitted) this.maxCommitted = index;
    } else if (known !== term) {
      this.fail(
        `committed entry lost: ${n.id} has term ${term} at committed index ${index}, term ${known} was committed there`,
      );
    }
  }

  /** Log matching: one (index, term) names one entry, with one predecessor term. */
  private checkLogEntry(n: SimNode, e: Entry): void {
    const prevTerm = n.raft!.termAt(e.index - 1);
    const key = `${e.index}/${e.term}`;
    const value = `${prevTerm}|${e.kind}|${payloadOf(e)}`;
    const known = this.logEntry.get(key);
    if (known === undefined) this.logEntry.set(key, value);
    else if (known !== value) this.fail(`log matching: ${n.id} has ${key} = ${value}, elsewhere ${known}`);
  }

  private install(n: SimNode, s: Snapshot): void {
    const sm = decodeSm(s.data);
    if (sm.applied !== s.meta.index)
      this.fail(`${n.id} got snapshot ${s.meta.index} holding state up to ${sm.applied}`);
    if (s.meta.index < n.sm.applied)
      this.fail(`${n.id} installs snapshot ${s.meta.index} behind its applied ${n.sm.applied}`);
    const expected: string[] = [];
    for (let i = 1; i <= s.meta.index; i++) {
      if (!this.appliedAt.has(i))
        this.fail(`snapshot ${s.meta.index} on ${n.id} covers index ${i} that nobody applied`);
      const p = this.payloadAt.get(i);
      if (p) expected.push(p);
    }
    if (expected.join(",") !== sm.payloads.join(","))
      this.fail(`state machine safety: snapshot ${s.meta.index} on ${n.id} differs from the applied history`);
    n.sm = sm;
    this.log(`t=${this.now} ${n.id} installs snapshot ${s.meta.index}/${s.meta.term}`);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.sm.applied + 1) this.fail(`${n.id} applies ${e.index} after ${n.sm.applied}`);
    const payload = payloadOf(e);
    const key = `${e.term}|${e.kind}|${payload}`;
    const known = this.appliedAt.get(e.index);
    if (known === undefined) this.appliedAt.set(e.index, key);
    else if (known !== key)
      this.fail(`state machine safety: ${n.id} applies ${key} at ${e.index}, others applied ${known}`);
    n.sm.applied = e.index;
    if (!payload) return;
    const at = this.payloadIndex.get(payload);
    if (at === undefined) {
      this.payloadIndex.set(payload, e.index);
      this.payloadAt.set(e.index, payload);
    } else if (at !== e.index) this.fail(`exactly once: ${payload} applied at ${at} and at ${e.index}`);
    n.sm.payloads.push(payload);
    const p = this.proposals.get(payload);
    if (p && p.node === n.id && p.index === e.index && p.term === e.term) {
      this.proposals.delete(payload);
      this.acked.set(payload, e.index); // the proposer saw its own entry applied: the client gets OK
    }
  }

  private guard<T>(n: SimNode, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof SimViolation) throw e;
      this.fail(`${n.id} threw: ${(e as Error).message}`);
    }
  }

  private log(line: string): void {
    this.opts.trace?.(line);
    this.recent.push(line);
    if (this.recent.length > 30) this.recent.shift();
  }

  fail(msg: string): never {
    throw new SimViolation(`${msg}\n  last events:\n    ${this.recent.join("\n    ")}`);
  }

  get committedCount(): number {
    return this.maxCommitted;
  }

  get tick(): number {
    return this.now;
  }
}

export function runSim(opts: SimOptions): SimResult {
  const sim = new Sim(opts);
  const base = { seed: opts.seed };
  try {
    sim.run();
    return {
      ...base,
      ok: true,
      steps: sim.steps,
      ticks: sim.tick,
      committed: sim.committedCount,
      acked: sim.acked.size,
      reads: sim.readsAnswered,
    };
  } catch (e) {
    const error = e instanceof SimViolation ? e.message : `simulator error: ${(e as Error).stack}`;
    return {
      ...base,
      ok: false,
      error,
      steps: sim.steps,
      ticks: sim.tick,
      committed: sim.committedCount,
      acked: sim.acked.size,
      reads: sim.readsAnswered,
    };
  }
}
