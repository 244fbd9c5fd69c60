// What an operator reads in the log about the cluster: one line per membership change, the leader
// balance, and the start, progress and end of rebalancing. Pure: fed snapshots of what the node
// sees (src/cluster/event-log.ts takes them), it returns the lines to write, so the wording and the
// throttling are tested without a cluster.
import type { MemberState } from "../../gossip/core/types.ts";
import type { NodeId } from "../../raft/types.ts";

export interface ClusterSnapshot {
  /** Milliseconds, from the node's clock. */
  readonly at: number;
  /** Gossip's state of every other node it knows. */
  readonly gossip: ReadonlyMap<NodeId, MemberState>;
  /** The metadata's members and those of them draining (leaving). */
  readonly members: readonly NodeId[];
  readonly draining: readonly NodeId[];
  /** Partitions led per node, as this node believes; only where this node summarises (metadata leader). */
  readonly leaders?: Readonly<Record<NodeId, number>>;
  /** Partitions with no known leader, counted with `leaders`. */
  readonly leaderless?: number;
  /** Of the partitions this node leads, those whose voters are not yet the placement's target. */
  readonly moving: number;
  readonly deadNodeTimeoutMs: number;
}

export interface ClusterEvent {
  readonly level: "info" | "warn";
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A changed leader balance is written at most this often, so elections after a start or a failure read as one line. */
export const BALANCE_EVERY_MS = 10_000;
/** Rebalancing progress is written at most this often while replicas move. */
export const PROGRESS_EVERY_MS = 5_000;

const GOSSIP_LINES: Record<MemberState, { level: ClusterEvent["level"]; msg: string }> = {
  alive: { level: "info", msg: "member is alive" },
  suspect: { level: "info", msg: "member is suspected: it missed its probes" },
  dead: { level: "warn", msg: "member is dead" },
  left: { level: "info", msg: "member left" },
};

export class ClusterEventLog {
  private last: ClusterSnapshot | undefined;
  private balance = { line: "", at: Number.NEGATIVE_INFINITY };
  private rebalance: { startedAt: number; total: number; reportedAt: number; reported: number } | undefined;

  observe(next: ClusterSnapshot): ClusterEvent[] {
    const prev = this.last;
    this.last = next;
    const out: ClusterEvent[] = [];
    // The first snapshot is the baseline: what is already true at start-up is not news.
    if (prev) {
      this.gossipChanges(prev, next, out);
      this.membershipChanges(prev, next, out);
    }
    this.leaderBalance(next, out);
    this.rebalancing(next, out);
    return out;
  }

  private gossipChanges(prev: ClusterSnapshot, next: ClusterSnapshot, out: ClusterEvent[]): void {
    for (const [member, state] of next.gossip) {
      const was = prev.gossip.get(member);
      if (was === state) continue;
      if (was === undefined && state !== "alive") continue;
      const line = GOSSIP_LINES[state];
      const fields: Record<string, unknown> = { member, was: was ?? "unknown" };
      if (state === "dead")
        fields.action = `its replicas are rebuilt on other nodes after dead_node_timeout (${next.deadNodeTimeoutMs / 1000}s) unless it returns; to replace it for good: flydb remove ${member}`;
      out.push({ level: line.level, msg: was === undefined ? "member appeared" : line.msg, fields });
    }
  }

  private membershipChanges(prev: ClusterSnapshot, next: ClusterSnapshot, out: ClusterEvent[]): void {
    const count = next.members.length;
    if (prev.members.length === 0 && count > 0) {
      out.push({ level: "info", msg: "member of the cluster", fields: { members: next.members.join(",") } });
      return;
    }
    for (const m of next.members)
      if (!prev.members.includes(m))
        out.push({ level: "info", msg: "member admitted", fields: { member: m, members: count } });
    for (const m of prev.members)
      if (!next.members.includes(m))
        out.push({ level: "info", msg: "member removed", fields: { member: m, members: count } });
    for (const m of next.draining)
      if (!prev.draining.includes(m))
        out.push({
          level: "info",
          msg: "member is draining: its replicas move away before it leaves",
          fields: { member: m },
        });
  }

  private leaderBalance(next: ClusterSnapshot, out: ClusterEvent[]): void {
    if (!next.leaders) return;
    const line = Object.entries(next.leaders)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, n]) => `${id}=${n}`)
      .join(" ");
    const shown = `${line} leaderless=${next.leaderless ?? 0}`;
    if (shown === this.balance.line || next.at - this.balance.at < BALANCE_EVERY_MS) return;
    this.balance = { line: shown, at: next.at };
    const level = (next.leaderless ?? 0) > 0 ? "warn" : "info";
    out.push({ level, msg: "leader balance", fields: { leaders: line, leaderless: next.leaderless ?? 0 } });
  }

  private rebalancing(next: ClusterSnapshot, out: ClusterEvent[]): void {
    const r = this.rebalance;
    if (!r) {
      if (next.moving === 0) return;
      this.rebalance = { startedAt: next.at, total: next.moving, reportedAt: next.at, reported: 0 };
      out.push({ level: "info", msg: "rebalancing started", fields: { partitions: next.moving } });
      return;
    }
    // More partitions may start moving while others finish: the total is the most seen at once.
    r.total = Math.max(r.total, next.moving);
    const moved = r.total - next.moving;
    if (next.moving === 0) {
      const seconds = Math.round((next.at - r.startedAt) / 100) / 10;
      out.push({ level: "info", msg: "rebalancing finished", fields: { partitions: r.total, seconds } });
      this.rebalance = undefined;
      return;
    }
    if (moved !== r.reported && next.at - r.reportedAt >= PROGRESS_EVERY_MS) {
      r.reported = moved;
      r.reportedAt = next.at;
      out.push({ level: "info", msg: "rebalancing", fields: { moved, of: r.total } });
    }
  }
}
