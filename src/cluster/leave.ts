// Graceful leave (POST /cluster/leave, docs/design/cluster.md): the node asks the metadata leader to mark it
// draining, so placement moves its replicas to the other members and group 0 stops counting its
// vote; it waits (bounded) until no group lists it as a voter any more, and only then may it
// announce its leave by gossip and stop. Leaving before that would take a vote out of every group
// it held at once.
import type { Reply } from "../resp/reply.ts";
import { freshestGroups, groupsVotedBy } from "./core/group-view.ts";
import { groupOf, META_GROUP } from "../keyspace/groups.ts";
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

const POLL_MS = 250;

/** What draining needs of the cluster node. */
export interface Drainable {
  readonly self: string;
  meta(): MetaState;
  setDraining(draining: boolean): Promise<Reply>;
  /** Every member's report of the groups it hosts. */
  clusterGroups(): Promise<Map<string, GroupStatus[]>>;
}

export async function drain(node: Drainable, timeoutMs: number): Promise<DrainReport> {
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
