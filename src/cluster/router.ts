// The request router of a cluster member: the RESP session's `read` and `propose` go to the
// leader of their keys' partition (split per partition and merged back for MGET, DEL, …, fanned
// out to every partition for keyless commands), forwarded with redirects and retries; a data
// write carries a proposal id, so a copy sent again after a lost answer is applied once.
// `serve` is the leader's side of a forwarded request.
import { COMMANDS } from "../commands/table.ts";
import type { CommandSpec, Op } from "../commands/types.ts";
import { lower } from "../commands/util.ts";
import { err, OK, type Reply } from "../resp/reply.ts";
import type { NodeId } from "../raft/types.ts";
import { encodeOp } from "../store/op-codec.ts";
import { PeerUnreachable, RequestTimeout } from "../transport/transport.ts";
import { groupOf, META_GROUP, partitionOfGroup } from "../keyspace/groups.ts";
import type { MetaOp, MetaResult, MetaState } from "./core/meta.ts";
import { type MultiRaft, NotLeader, ProposalDropped } from "./core/multiraft.ts";
import {
  LEADER_READS,
  leaderFirst,
  type ReadTarget,
  type ReadTargetPolicy,
  type ReplicaFacts,
} from "./core/read-target.ts";
import { forReplicas, serveRead } from "./follower-read.ts";
import type { LoadMeter } from "./load-meter.ts";
import type { ReadStats } from "./read-stats.ts";
import { mergeSplit as mergeReplies } from "./core/reply-merge.ts";
import { CROSSSLOT, route } from "./core/route.ts";
import { type ProposalId, type ProposalIds, proposalKey } from "../keyspace/sessions.ts";
import { keylessRead, keylessWrite, keyspaceTotals, type PartitionRunner } from "./fanout.ts";
import type { RaftStats } from "./raft-stats.ts";
import { withDeadline } from "./deadline.ts";
import { proposeTransaction } from "./transaction-route.ts";
import { unknownOutcome } from "./core/write-outcome.ts";
import { encodeMetaOp } from "./state-machine.ts";
import { clusterWriteTooLarge } from "./value-limit.ts";

// How long a forwarded request may take, redirects and retries included. Not longer: clients resend on
// their own read timeouts, as new writes (docs/design/cluster.md, "Unknown outcomes").
const REQUEST_TIMEOUT_MS = 5_000;
/** A write attempt without an answer by then is sent again (same id) until REQUEST_TIMEOUT_MS. */
const WRITE_ATTEMPT_MS = 1_000;
/** Pause before asking again while an election or a leader change is under way. */
const RETRY_MS = 50;

/** A request the router sends to a group's leader (over the transport, or to itself). */
export type Routed =
  | { readonly t: "op"; readonly grp: number; readonly op: Op; readonly id?: ProposalId }
  | {
      readonly t: "read";
      readonly grp: number;
      readonly argv: readonly Uint8Array[];
      readonly resp3?: boolean;
      /** The client's database (SELECT); absent: 0. A write's travels in its op. */
      readonly db?: number;
      /** Any replica may serve it (src/cluster/follower-read.ts); absent: the leader only. */
      readonly replica?: true;
      /** The routing strategy that chose the target (for /metrics); absent: key-based. */
      readonly via?: string;
      /** A follower behind its commit index by more than this refuses (hybrid's guard). */
      readonly maxLag?: number;
    }
  | { readonly t: "meta"; readonly grp: typeof META_GROUP; readonly op: MetaOp };

/**
 * `dropped`: the proposal was replaced by another leader's entry, so it was not applied. `wrote`: the
 * read proposed a write (lazy expiry) and the leader applied it before answering.
 */
export type ForwardResult =
  | { readonly reply: Reply; readonly wrote?: true }
  | { readonly notLeader: NodeId | null }
  | { readonly dropped: string };

export interface RouterDeps {
  readonly self: NodeId;
  readonly partitionCount: number;
  readonly readConsistency: "linearizable" | "lease" | "stale";
  readonly raft: Pick<MultiRaft, "status" | "has" | "leaderOf" | "propose" | "readBarrier" | "answersLocally">;
  readonly stats: RaftStats;
  /** Ids of the writes this node proposes, in this incarnation's session. */
  readonly ids: ProposalIds;
  /** Runs a read-only command on this node's rows of database `db` (a promise: the read wrote, ReplicaHost.runLocal). */
  runLocal(spec: CommandSpec, argv: readonly Uint8Array[], resp3: boolean, db: number): MaybeAsync;
  meta(): MetaState;
  alive(id: NodeId): boolean;
  /** Sends a request to another member's request server; PeerUnreachable when it cannot be reached. */
  request(to: NodeId, body: Routed, timeoutMs: number): Promise<unknown>;
  stopped(): boolean;
  /** Which member serves a read: as the connection's CLIENT ROUTING, else the node's strategy; absent: the leader. */
  readonly readTargets?: (routing?: string) => ReadTargetPolicy;
  /** Load, zone, RTT and lag of the members, for the read target policy. */
  readonly facts?: ReplicaFacts;
  /** Counts the requests served here (this node's gossiped load). */
  readonly meter?: LoadMeter;
  readonly readStats?: ReadStats;
}

type MaybeAsync = Reply | Promise<Reply>;

const TRYAGAIN = (why: string): Reply => err(`TRYAGAIN ${why}`);
const notInCluster = (spec: CommandSpec) =>
  err(`ERR ${spec.name.toUpperCase()} is not supported in cluster mode yet; FlyDB routes commands by key`);

/** Recombines the replies of a command split per partition (MGET, DEL, MSET, …) as its row declares. */
async function mergeSplit(
  name: string,
  parts: { positions: readonly number[]; reply: Promise<Reply> | Reply }[],
): Promise<Reply> {
  const settled = await Promise.all(parts.map(async (p) => ({ positions: p.positions, reply: await p.reply })));
  return mergeReplies(COMMANDS.get(name)!, settled);
}

export class Router {
  /** Last known leader per group, learned from answers and leader changes; saves a hop next time. */
  private readonly leaderHints = new Map<number, NodeId>();
  /** Writes proposed here as leader and not yet settled, by proposal id: a copy waits for them. */
  private readonly pendingWrites = new Map<string, Promise<unknown>>();
  private readonly readTargets: (routing?: string) => ReadTargetPolicy;
  constructor(private readonly d: RouterDeps) {
    this.readTargets = d.readTargets ?? (() => LEADER_READS);
  }

  /** Keyless commands of database `db` reach every partition's leader through this (fanout.ts). */
  private partitions(db: number, reads = this.readTargets()): PartitionRunner {
    return {
      partitionCount: this.d.partitionCount,
      read: (p, argv, resp3) => this.forward({ t: "read", grp: groupOf(p), argv, resp3, ...(db ? { db } : {}) }, reads),
      write: (p, op) => this.forward({ t: "op", grp: groupOf(p), op }),
      leads: (p) => this.d.raft.leaderOf(groupOf(p)) === this.d.self,
    };
  }

  /** A group's leader changed (this node's replica heard of it). */
  learnLeader(grp: number, leader: NodeId): void {
    this.leaderHints.set(grp, leader);
  }

  /** Backend.read for sessions; `routing`: the connection's CLIENT ROUTING strategy. */
  read(spec: CommandSpec, argv: readonly Uint8Array[], resp3 = false, db = 0, routing?: string): MaybeAsync {
    const r = route(spec, argv, this.d.partitionCount);
    const reads = this.readTargets(routing);
    switch (r.kind) {
      case "keyless":
        return (
          keylessRead(this.partitions(db, reads), spec, argv, Math.random, resp3) ??
          // A command that takes keys but was given none (OBJECT HELP) reads no data: answer here.
          (spec.firstKey > 0 ? this.d.runLocal(spec, argv, resp3, db) : notInCluster(spec))
        );
      case "crossslot":
        return CROSSSLOT;
      case "partition":
        return this.readPartition(r.partition, spec, argv, resp3, db, reads);
      case "split":
        return mergeSplit(
          spec.name,
          r.parts.map((part) => ({
            positions: part.positions,
            reply: this.readPartition(part.partition, spec, part.argv, resp3, db, reads),
          })),
        );
    }
  }

  /** "stale" reads are served by any replica, this one when it holds the partition; others by the leader. */
  private readPartition(
    p: number,
    spec: CommandSpec,
    argv: readonly Uint8Array[],
    resp3: boolean,
    db: number,
    reads: ReadTargetPolicy,
  ): Promise<Reply> | Reply {
    const grp = groupOf(p);
    if (this.d.readConsistency === "stale" && this.d.raft.has(grp)) return this.d.runLocal(spec, argv, resp3, db);
    // The sole voter's applied state answers at once (MultiRaft.readBarrier): no forwarding round.
    if (this.d.raft.answersLocally(grp)) return this.d.runLocal(spec, argv, resp3, db);
    return this.forward({ t: "read", grp, argv, resp3, ...(db !== 0 ? { db } : {}) }, reads);
  }

  /** Backend.propose for sessions: the op goes to the leader of its keys' partition. */
  propose(op: Op): Promise<Reply> {
    const argv = op.cmds[0]!;
    const spec = COMMANDS.get(lower(argv[0]!));
    if (!spec) return Promise.resolve(err("ERR unknown command"));
    const routes = op.cmds.map((c, i) => route(i === 0 ? spec : COMMANDS.get(lower(c[0]!))!, c, this.d.partitionCount));
    if (op.cmds.length > 1 || op.multi) return proposeTransaction(this.partitions(op.db ?? 0), op, routes);
    const r = routes[0]!;
    switch (r.kind) {
      case "keyless":
        return keylessWrite(this.partitions(op.db ?? 0), op) ?? Promise.resolve(notInCluster(spec));
      case "crossslot":
        return Promise.resolve(CROSSSLOT);
      case "partition":
        return this.forward({ t: "op", grp: groupOf(r.partition), op });
      case "split": {
        const parts = r.parts.map((part) => ({
          positions: part.positions,
          reply: this.forward({ t: "op", grp: groupOf(part.partition), op: { ...op, cmds: [part.argv] } }),
        }));
        return mergeSplit(spec.name, parts);
      }
    }
  }

  /** Marks this node as leaving (or not) through the metadata leader. */
  setDraining(draining: boolean): Promise<Reply> {
    return this.forward({ t: "meta", grp: META_GROUP, op: { t: "drain", id: this.d.self, draining } });
  }

  /** Replaces the cluster's ACL users through the metadata leader, if they are still at `ifVersion`. */
  setAclUsers(users: readonly string[], ifVersion: number): Promise<Reply> {
    return this.forward({ t: "meta", grp: META_GROUP, op: { t: "acl", users, ifVersion } });
  }

  /** Removes another member from the metadata through the metadata leader, retiring these data dir ids too. */
  removeMember(id: NodeId, retire: readonly string[]): Promise<Reply> {
    return this.forward({ t: "meta", grp: META_GROUP, op: { t: "remove", id, retire } });
  }

  /** Live keys and keys with an expiry over the whole cluster, for INFO keyspace. */
  keyspaceTotals(): ReturnType<typeof keyspaceTotals> {
    return keyspaceTotals(this.partitions(0));
  }

  /** The partition leader this node believes in: its own Raft view, a learned hint, else the preferred replica. */
  believedLeader(p: number): NodeId | undefined {
    const grp = groupOf(p);
    const known = this.d.raft.leaderOf(grp) ?? this.leaderHints.get(grp);
    if (known && this.d.alive(known)) return known;
    const replicas = this.d.meta().map[p] ?? [];
    return replicas.find((id) => this.d.alive(id)) ?? replicas[0];
  }

  /** Runs a forwarded op or read if this node leads the group; otherwise names the leader. */
  async serve(f: Routed): Promise<ForwardResult> {
    if (f.t === "read") return serveRead(this.d, f);
    const { raft, stats } = this.d;
    const s = raft.status(f.grp);
    if (s?.role !== "leader") return { notLeader: s?.leader ?? null };
    try {
      if (f.t === "meta") {
        const r = (await raft.propose(META_GROUP, encodeMetaOp(f.op))) as MetaResult;
        return { reply: r.ok ? OK : err(`ERR ${r.error}`) };
      }
      const started = performance.now();
      const done = this.d.meter?.begin();
      const reply = (await this.proposeOnce(f.grp, f.op, f.id).finally(done)) as Reply;
      stats.committed((performance.now() - started) / 1000);
      return { reply };
    } catch (e) {
      if (e instanceof NotLeader) {
        stats.proposals.notLeader++;
        return { notLeader: e.leader };
      }
      if (e instanceof ProposalDropped) {
        stats.proposals.dropped++;
        if (f.t === "meta") {
          return { reply: TRYAGAIN("the write was dropped by a leader change and not applied; retry") };
        }
        return { dropped: e.message };
      }
      throw e;
    }
  }

  /**
   * Proposes a write, unless a copy of it (same id) is still pending in this leader's log: then
   * the copy waits for that one rather than logging the write again (a slow commit, not a lost
   * write). Once it settles, a later copy is proposed and apply answers it from the session record.
   */
  private proposeOnce(grp: number, op: Op, id: ProposalId | undefined): Promise<unknown> {
    if (!id) return this.d.raft.propose(grp, encodeOp(op));
    const key = proposalKey(id);
    const pending = this.pendingWrites.get(key);
    if (pending) return pending;
    const proposed = this.d.raft.propose(grp, encodeOp(op, id));
    this.pendingWrites.set(key, proposed);
    proposed.then(
      () => this.pendingWrites.delete(key),
      () => this.pendingWrites.delete(key),
    );
    return proposed;
  }

  /** Who to ask next: reads as the read target policy says, writes the leader first. */
  private pickTarget(f: Routed, tried: ReadonlySet<NodeId>): NodeId | undefined {
    const partition = partitionOfGroup(f.grp);
    const t: ReadTarget = {
      partition,
      replicas: this.d.meta().map[partition] ?? [],
      leader: this.d.raft.leaderOf(f.grp),
      hint: this.leaderHints.get(f.grp),
      tried,
      alive: (id) => this.d.alive(id),
      self: this.d.self,
      ...(this.d.facts ? { facts: this.d.facts } : {}),
    };
    if (f.t !== "read") return leaderFirst(t);
    // The hand-off (forReplicas) named the strategy of a read any replica may serve.
    const reads = f.replica ? this.readTargets(f.via) : LEADER_READS;
    const target = reads.choose(t);
    if (target !== undefined) this.d.readStats?.sent(reads.name, target);
    return target;
  }

  /** Sends a read where `reads` says, a write to the group's leader (a data write gets its proposal id here). */
  private async forward(f: Routed, reads = this.readTargets()): Promise<Reply> {
    if (f.t === "read") return this.deliver(forReplicas(f, reads));
    if (f.t !== "op") return this.deliver(f);
    const tooLarge = clusterWriteTooLarge(f.op);
    if (tooLarge) return tooLarge;
    const id = this.d.ids.next(f.grp);
    try {
      return await this.deliver({ ...f, id });
    } finally {
      this.d.ids.settle(f.grp, id.seq);
    }
  }

  /**
   * Sends to the group's leader, following redirects and skipping unreachable replicas, until
   * REQUEST_TIMEOUT_MS. A data write that got no answer (timeout, connection lost, proposal
   * dropped) is sent again with the same id, to whichever node leads then: apply answers a copy
   * of a write that did commit from its session record. Only when the deadline passes after an
   * unanswered attempt is the outcome unknown: -UNKNOWN, which clients never resend, unlike the
   * -CLUSTERDOWN of a write no attempt applied (core/write-outcome.ts). A metadata write has
   * no id and is not sent again once it may have reached a node.
   */
  private async deliver(f: Routed): Promise<Reply> {
    const p = f.grp === META_GROUP ? "metadata" : partitionOfGroup(f.grp);
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    const tried = new Set<NodeId>();
    let next: NodeId | undefined;
    /** Why an earlier attempt of this write may have been applied. */
    let unknown: string | undefined;
    while (Date.now() < deadline && !this.d.stopped()) {
      const target = next ?? this.pickTarget(f, tried);
      next = undefined;
      if (!target) {
        // Everyone was asked and nobody leads: an election is running. Ask again shortly.
        await Bun.sleep(RETRY_MS);
        tried.clear();
        continue;
      }
      tried.add(target);
      // A read any replica may serve moves on to another after as long as a write attempt.
      const bounded = f.t === "op" || (f.t === "read" && f.replica === true);
      const attemptMs = Math.max(
        1,
        bounded ? Math.min(WRITE_ATTEMPT_MS, deadline - Date.now()) : deadline - Date.now(),
      );
      let r: ForwardResult;
      try {
        r =
          target === this.d.self
            ? await this.local(f, attemptMs)
            : ((await this.d.request(target, f, attemptMs)) as ForwardResult);
      } catch (e) {
        if (e instanceof PeerUnreachable || f.t === "read") continue; // nothing changed: asking another replica is safe
        if (f.t === "meta") return unknownOutcome(`no reply from ${target}, the leader of partition ${p}`);
        unknown = (e as Error).message;
        this.d.stats.writeResends++;
        continue;
      }
      if ("reply" in r) {
        this.leaderHints.set(f.grp, target);
        // As standalone, the reader's next command (INFO's expired_keys too) sees the read's write here.
        if (r.wrote && this.d.raft.has(f.grp)) await this.d.raft.readBarrier(f.grp).catch(() => {});
        return r.reply;
      }
      if ("dropped" in r) {
        this.d.stats.writeResends++;
        await Bun.sleep(RETRY_MS / 2); // a leader change is under way
        continue;
      }
      this.leaderHints.delete(f.grp);
      if (r.notLeader !== null && !tried.has(r.notLeader)) next = r.notLeader;
      else await Bun.sleep(RETRY_MS / 2);
    }
    if (unknown !== undefined) {
      const why = `no answer from the leader of partition ${p} within ${REQUEST_TIMEOUT_MS} ms (last: ${unknown})`;
      return unknownOutcome(why);
    }
    // No attempt reached a leader that could have proposed it: not applied, so clients may resend.
    return err(`CLUSTERDOWN partition ${p} has no reachable leader within ${REQUEST_TIMEOUT_MS} ms`);
  }

  /** serve on this node, giving up on a write after attemptMs as a remote request would. */
  private local(f: Routed, attemptMs: number): Promise<ForwardResult> {
    if (f.t !== "op") return this.serve(f);
    const expired = () => new RequestTimeout(`the proposal was not applied here within ${attemptMs} ms`);
    return withDeadline(this.serve(f), attemptMs, expired);
  }
}
