// Forming a cluster from discovered nodes (DESIGN §8, Consul's bootstrap_expect rule) as a pure
// decision: given what this node knows of itself and what the nodes it found answered to a
// formation probe, bootstrap, join a formed cluster, wait, or refuse. The I/O (browsing, probing
// over the transport, gossip joins) is src/cluster/formation.ts.

/** What a node answers to a formation probe (and what this node knows of itself). */
export interface FormationReport {
  readonly nodeId: string;
  /** Holds cluster state: bootstrapped, admitted, or restarted with Raft groups. */
  readonly formed: boolean;
  /** The cluster's settings when formed (from the metadata once applied), else the node's config. */
  readonly clusterId: string;
  readonly partitionCount: number;
  readonly bootstrapExpect: number;
  /** Gossip addresses to join: the cluster's members when formed, else the node itself. */
  readonly gossip: readonly string[];
  /** Unformed candidates (node ids, itself included) the node saw in its last round. */
  readonly sees: readonly string[];
}

export type FormationStep =
  | { readonly kind: "member" }
  | { readonly kind: "bootstrap" }
  | { readonly kind: "join"; readonly via: string; readonly gossip: readonly string[] }
  | { readonly kind: "refuse"; readonly reason: string }
  | { readonly kind: "wait"; readonly reason: string };

const lowest = (ids: Iterable<string>): string => [...ids].reduce((a, b) => (b < a ? b : a));

/** The unformed nodes that count towards `bootstrap_expect`, this node first. */
export function candidates(self: FormationReport, peers: readonly FormationReport[]): string[] {
  return [self.nodeId, ...peers.filter((p) => !p.formed && p.bootstrapExpect === self.bootstrapExpect).map((p) => p.nodeId)];
}

/**
 * One round of the decision. Rules, in order:
 * - a node holding cluster state never bootstraps (it is a member, or restarting as one);
 * - a formed cluster found is joined, unless its cluster id or partition count differs (refused);
 *   found several (a race lost elsewhere), the one reached through the lowest node id is chosen,
 *   so every undecided node picks the same;
 * - without `bootstrap_expect` a node only ever joins;
 * - with it, once `bootstrap_expect` unformed nodes (same expectation) see each other, the lowest
 *   node id bootstraps, but only after every candidate it sees reported seeing it and nobody
 *   lower: two nodes that both bootstrap can therefore never have seen each other.
 */
export function decideFormation(self: FormationReport, peers: readonly FormationReport[]): FormationStep {
  if (self.formed) return { kind: "member" };
  const formed = peers.filter((p) => p.formed);
  const misfit = [...formed, ...peers.filter((p) => !p.formed && p.bootstrapExpect > 0 && self.bootstrapExpect > 0)].find(
    (p) => p.clusterId !== self.clusterId || p.partitionCount !== self.partitionCount,
  );
  if (misfit) {
    const what = misfit.formed ? `the formed cluster ${JSON.stringify(misfit.clusterId)} reached through node ${misfit.nodeId}` : `node ${misfit.nodeId}, which expects to form the same cluster,`;
    return {
      kind: "refuse",
      reason: `refusing to join: ${what} has cluster_id = ${JSON.stringify(misfit.clusterId)} and partition_count = ${misfit.partitionCount}, this node has cluster_id = ${JSON.stringify(self.clusterId)} and partition_count = ${self.partitionCount}`,
    };
  }
  if (formed.length > 0) {
    const via = formed.reduce((a, b) => (b.nodeId < a.nodeId ? b : a));
    return { kind: "join", via: via.nodeId, gossip: via.gossip };
  }
  if (self.bootstrapExpect === 0) return { kind: "wait", reason: "no formed cluster found yet" };
  const seen = candidates(self, peers);
  if (seen.length < self.bootstrapExpect) return { kind: "wait", reason: `${seen.length} of ${self.bootstrapExpect} expected nodes see each other` };
  const first = lowest(seen);
  if (first !== self.nodeId) return { kind: "wait", reason: `node ${first} has the lowest node id and bootstraps the cluster` };
  const doubter = peers.find((p) => !p.formed && p.bootstrapExpect === self.bootstrapExpect && (!p.sees.includes(self.nodeId) || lowest(p.sees) !== self.nodeId));
  if (doubter) return { kind: "wait", reason: `node ${doubter.nodeId} does not yet see this node as the lowest` };
  return { kind: "bootstrap" };
}
