// Removing a member that cannot leave by itself (POST /cluster/remove, docs/design/cluster.md):
// a dead node, or one whose data dir was wiped. Formation refuses a node whose id the cluster
// still counts while it holds no state (core/formation.ts `staleIdentity`); this is the way out.
// The metadata leader removes the member, placement moves its replicas away and every group's
// leader removes its vote; only once no group counts its vote may the id come back on an empty
// data dir, as a new member.
import type { Reply } from "../resp/reply.ts";
import { freshestGroups, groupsVotedBy } from "./core/group-view.ts";
import { groupOf, META_GROUP } from "../keyspace/groups.ts";
import type { MetaState } from "./core/meta.ts";
import type { GroupStatus } from "./status.ts";

export interface RemoveReport {
  readonly removed: boolean;
  readonly node: string;
  /** Groups (keyspace/groups.ts) in which the node may still vote, in any member's view. */
  readonly voter_groups: readonly number[];
  readonly waited_ms: number;
  readonly error?: string;
}

/** Why a removal was refused before anything changed: the caller answers 409. */
export class RemoveRefused extends Error {}

const POLL_MS = 250;

/** What removing a member needs of the cluster node. */
export interface Removable {
  readonly self: string;
  meta(): MetaState;
  /** Whether gossip sees the node up. */
  alive(id: string): boolean;
  /** Proposes the metadata removal of a member through the metadata leader. */
  removeMember(id: string): Promise<Reply>;
  /** Every member's report of the groups it hosts. */
  clusterGroups(): Promise<Map<string, GroupStatus[]>>;
}

/**
 * Removes member `id` and waits (bounded) until no group counts its vote. Refused for this node
 * itself (POST /cluster/leave drains it) and for a node gossip sees alive: the metadata leader
 * would admit it again at once.
 */
export async function removeMember(node: Removable, id: string, timeoutMs: number): Promise<RemoveReport> {
  if (id === node.self) throw new RemoveRefused(`node ${id} is this node: POST /cluster/leave on it instead`);
  if (node.alive(id)) {
    throw new RemoveRefused(`node ${id} is alive: stop it first (or POST /cluster/leave on it to drain it)`);
  }
  const started = Date.now();
  const report = (removed: boolean, voterGroups: readonly number[], error?: string): RemoveReport => ({
    removed,
    node: id,
    voter_groups: voterGroups,
    waited_ms: Date.now() - started,
    ...(error ? { error } : {}),
  });
  if (id in node.meta().members) {
    const r = await node.removeMember(id);
    // Another removal (the controller's, after dead_node_timeout) may have won the race.
    if (r.t === "error" && !r.v.includes(`no member ${id}`)) return report(false, [], r.v);
  }
  const partitions = node.meta().partitionCount;
  const groups = [META_GROUP, ...Array.from({ length: partitions }, (_, p) => groupOf(p))];
  for (;;) {
    // Every member's view counts, not only the leaders': a member whose replica has not applied
    // the removal yet still lists the id, and formation refuses the id while any member does.
    const reports = [...(await node.clusterGroups()).values()];
    const lagging = groups.filter((grp) => reports.some((l) => l.some((g) => g.grp === grp && g.voters.includes(id))));
    const held = [...new Set([...groupsVotedBy(freshestGroups(reports), groups, id), ...lagging])].sort(
      (a, b) => a - b,
    );
    if (held.length === 0) return report(true, []);
    if (Date.now() - started >= timeoutMs) {
      const why = `still a voter in ${held.length} group(s) after ${timeoutMs} ms; POST /cluster/remove again to wait`;
      return report(false, held, why);
    }
    await Bun.sleep(POLL_MS);
  }
}
