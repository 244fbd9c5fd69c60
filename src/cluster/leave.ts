// Graceful leave (POST /cluster/leave, docs/design/cluster.md): the node asks the metadata leader to mark it
// draining, so placement moves its replicas to the other members and group 0 stops counting its
// vote; it waits (bounded) until no group lists it as a voter any more, and only then may it
// announce its leave by gossip and stop. Leaving before that would take a vote out of every group
// it held at once. After the announcement it waits (bounded) until no member counts its id any
// more (what formation checks, core/formation.ts `staleIdentity`), as POST /cluster/remove does:
// the id may then come back at once on an emptied data dir, as a new member.
import type { Reply } from "../resp/reply.ts";
import { freshestGroups, groupsVotedBy } from "./core/group-view.ts";
import { groupOf, META_GROUP } from "../keyspace/groups.ts";
import type { KnownNode } from "./core/formation.ts";
import type { MetaState } from "./core/meta.ts";
import type { GroupStatus } from "./status.ts";

export interface DrainReport {
  readonly drained: boolean;
  readonly node: string;
  /** Groups (keyspace/groups.ts) in which the node may still vote. */
  readonly voter_groups: readonly number[];
  readonly waited_ms: number;
  readonly error?: string;
}

/** A drain followed by the leave: `known_by` lists the members that still counted the id when it stopped waiting. */
export interface LeaveReport extends DrainReport {
  readonly known_by?: readonly string[];
}

const POLL_MS = 250;
/** How long one member may take to answer a formation probe while the leave waits. */
const PROBE_MS = 2_000;

/** What draining needs of the cluster node. */
export interface Drainable {
  readonly self: string;
  meta(): MetaState;
  setDraining(draining: boolean): Promise<Reply>;
  /** Every member's report of the groups it hosts. */
  clusterGroups(): Promise<Map<string, GroupStatus[]>>;
}

/** What leaving needs of the cluster node beyond draining. */
export interface Leavable extends Drainable {
  /** leave() tells the members that this node left (they remove it from the metadata) and stops gossip. */
  readonly gossip: { leave(): Promise<void> };
  /** Another node's formation report (src/cluster/formation.ts): its `identities` are the ids it counts. */
  askFormation(nodeId: string, raftAddr: string, claim: boolean, timeoutMs: number): Promise<unknown>;
}

/**
 * Drains, announces the leave, then waits until no member that answers counts this node's id
 * (bounded by what is left of timeoutMs): a start under the id on an emptied data dir is then
 * admitted rather than refused. A member that does not answer cannot refuse a start either.
 */
export async function leave(node: Leavable, timeoutMs: number): Promise<LeaveReport> {
  const started = Date.now();
  const others = Object.values(node.meta().members).filter((m) => m.id !== node.self);
  const drained = await drain(node, timeoutMs);
  if (!drained.drained) return drained;
  await node.gossip.leave();
  let knownBy: string[] = [];
  for (;;) {
    const answers = await Promise.all(
      others.map((m) =>
        node.askFormation(m.id, m.addrs.raft, false, PROBE_MS).then(
          (r) => ((r as { identities?: readonly KnownNode[] }).identities ?? []).some((k) => k.id === node.self),
          () => false,
        ),
      ),
    );
    knownBy = others.filter((_, i) => answers[i]).map((m) => m.id);
    const waited = Date.now() - started;
    if (knownBy.length === 0 || waited >= timeoutMs) {
      return { ...drained, waited_ms: waited, ...(knownBy.length > 0 ? { known_by: knownBy } : {}) };
    }
    await Bun.sleep(POLL_MS);
  }
}

async function drain(node: Drainable, timeoutMs: number): Promise<DrainReport> {
  const self = node.self;
  const started = Date.now();
  const report = (drained: boolean, voterGroups: readonly number[], error?: string): DrainReport => ({
    drained,
    node: self,
    voter_groups: voterGroups,
    waited_ms: Date.now() - started,
    ...(error ? { error } : {}),
  });
  const marked = await node.setDraining(true);
  if (marked.t === "error") return report(false, [], marked.v);
  const partitions = node.meta().partitionCount;
  const groups = [META_GROUP, ...Array.from({ length: partitions }, (_, p) => groupOf(p))];
  let held = groups;
  for (;;) {
    held = groupsVotedBy(freshestGroups((await node.clusterGroups()).values()), groups, self);
    if (held.length === 0) return report(true, []);
    if (Date.now() - started >= timeoutMs) {
      return report(
        false,
        held,
        `still a voter in ${held.length} group(s) after ${timeoutMs} ms; the node stays draining, POST /cluster/leave again to finish`,
      );
    }
    await Bun.sleep(POLL_MS);
  }
}
