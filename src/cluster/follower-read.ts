// The serving side of a routed read, on whichever replica the read target policy picked
// (src/cluster/core/read-target.ts). The leader serves as before. A follower (or learner) serves
// only when the read was sent to any replica (`replica`), and only under the consistency the
// node was configured with:
// - linearizable / lease: a ReadIndex round to the leader (MultiRaft.readBarrier; the leader
//   confirms its leadership with a quorum, or under "lease" answers from its lease) gives the
//   commit index at the time of the read, and the follower answers once it has applied up to it
//   (etcd's ReadIndex, TiKV's follower read). Every write acknowledged before the read started
//   was applied on the leader, so is at or below that index: the read sees it, and so sees every
//   value any client has already seen acknowledged (read-your-writes across nodes included).
// - stale: the replica answers from what it has applied, without asking anyone.
import { COMMANDS } from "../commands/table.ts";
import { lower } from "../commands/util.ts";
import type { CommandSpec } from "../commands/types.ts";
import type { Reply } from "../resp/reply.ts";
import type { MultiRaft } from "./core/multiraft.ts";
import { NotLeader } from "./core/multiraft.ts";
import type { ReadTargetPolicy } from "./core/read-target.ts";
import { withDeadline } from "./deadline.ts";
import type { LoadMeter } from "./load-meter.ts";
import type { ReadStats } from "./read-stats.ts";
import type { ForwardResult, Routed } from "./router.ts";

/** A follower that cannot confirm a read with the leader by then sends the router to another replica. */
export const FOLLOWER_BARRIER_MS = 1_000;

export type RoutedRead = Extract<Routed, { t: "read" }>;

export interface ReadServerDeps {
  readonly readConsistency: "linearizable" | "lease" | "stale";
  readonly raft: Pick<MultiRaft, "status" | "readBarrier">;
  runLocal(spec: CommandSpec, argv: readonly Uint8Array[], resp3: boolean, db: number): Reply | Promise<Reply>;
  readonly meter?: LoadMeter;
  readonly readStats?: ReadStats;
}

/**
 * The sending side's hand-off (src/cluster/router.ts): under a policy that lets followers serve,
 * the read is marked so that a follower serves it rather than naming the leader, and carries the
 * policy's name (for /metrics) and lag guard to the replica that checks them.
 */
export function forReplicas(f: RoutedRead, policy: ReadTargetPolicy): RoutedRead {
  if (!policy.replicaReads) return f;
  const { name, maxLag } = policy;
  return { ...f, replica: true, via: name, ...(maxLag !== undefined ? { maxLag } : {}) };
}

/** Serves a routed read here, or names the leader to ask instead. */
export async function serveRead(d: ReadServerDeps, f: RoutedRead): Promise<ForwardResult> {
  const s = d.raft.status(f.grp);
  if (!s) return { notLeader: null };
  const leads = s.role === "leader";
  if (!leads && !f.replica) return { notLeader: s.leader };
  // Hybrid's guard: a replica far behind would make the read wait for a long apply; the leader
  // (or another replica) answers sooner.
  if (!leads && f.maxLag !== undefined && s.commit - s.applied > f.maxLag) return { notLeader: s.leader };
  const done = d.meter?.begin();
  try {
    if (d.readConsistency !== "stale") {
      const barrier = d.raft.readBarrier(f.grp);
      const late = () =>
        new NotLeader(f.grp, s.leader, `the leader did not confirm a follower read within ${FOLLOWER_BARRIER_MS} ms`);
      await (leads ? barrier : withDeadline(barrier, FOLLOWER_BARRIER_MS, late));
    }
    d.readStats?.served(f.via ?? "key-based", leads ? "leader" : "follower");
    const reply = d.runLocal(COMMANDS.get(lower(f.argv[0]!))!, f.argv, f.resp3 === true, f.db ?? 0);
    return reply instanceof Promise ? { reply: await reply, wrote: true } : { reply };
  } catch (e) {
    if (e instanceof NotLeader) return { notLeader: e.leader };
    throw e;
  } finally {
    done?.();
  }
}
