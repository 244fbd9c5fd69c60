// Forming a cluster from discovered nodes (Consul's bootstrap_expect rule; docs/design/formation.md) as a pure
// decision: given what this node knows of itself and what the nodes it found answered to a
// formation probe, bootstrap, join a formed cluster, wait, or refuse; and whether to promise a
// node that claims it as a founder. The I/O (browsing, probing and claiming over the transport,
// gossip joins) is src/cluster/formation.ts.
import type { MemberInfo } from "./meta.ts";

/** A node id a cluster knows, with the data dir it knows it on when the metadata lists it. */
export interface KnownNode {
  readonly id: string;
  readonly dataDirId?: string;
}

/** What a node answers to a formation probe (and what this node knows of itself). */
export interface FormationReport {
  readonly nodeId: string;
  /** Holds cluster state: bootstrapped, admitted, or restarted with Raft groups. */
  readonly formed: boolean;
  /** The cluster's settings when formed (from the metadata once applied), else the node's config. */
  readonly clusterId: string;
  readonly partitionCount: number;
  readonly bootstrapExpect: number;
  /**
   * When formed, every node its cluster may still count a vote of: the metadata's members (with
   * their data dir ids) and the voters of the groups the node hosts (a removed member stays one
   * until reconciled). Empty when unformed.
   */
  readonly identities: readonly KnownNode[];
  /** Gossip addresses to join: the cluster's members when formed, else the node itself. */
  readonly gossip: readonly string[];
  /** Unformed candidates (node ids, itself included) the node saw in its last round. */
  readonly sees: readonly string[];
  /** Its addresses, zone and version: a founder's entry in the founding metadata. */
  readonly member: MemberInfo;
  /** The node it promised to found a cluster with (itself while it claims), while the promise holds. */
  readonly promisedTo: string | null;
}

export type FormationStep =
  | { readonly kind: "member" }
  /** Claim `founders` (lowest ids first, this node among them), then found the cluster with all of them as voters. */
  | { readonly kind: "bootstrap"; readonly founders: readonly string[] }
  | { readonly kind: "join"; readonly via: string; readonly gossip: readonly string[] }
  | { readonly kind: "refuse"; readonly reason: string }
  | { readonly kind: "wait"; readonly reason: string };

// biome-ignore lint/complexity/useMathMinMax: node ids are strings, compared lexicographically
const lowest = (ids: Iterable<string>): string => [...ids].reduce((a, b) => (b < a ? b : a));

/** The unformed nodes that count towards `bootstrap_expect`, this node first. */
export function candidates(self: FormationReport, peers: readonly FormationReport[]): string[] {
  return [
    self.nodeId,
    ...peers.filter((p) => !p.formed && p.bootstrapExpect === self.bootstrapExpect).map((p) => p.nodeId),
  ];
}

/**
 * One round of the decision. Rules, in order:
 * - a node holding cluster state never bootstraps (it is a member, or restarting as one);
 * - a node holding none whose id a formed cluster knows from another data dir is refused (`staleIdentity`);
 * - a formed cluster found is joined, unless its cluster id or partition count differs (refused);
 *   found several (a race lost elsewhere), the one reached through the lowest node id is chosen,
 *   so every undecided node picks the same; a node that promised another joins only that one's;
 * - without `bootstrap_expect` a node only ever joins; a node that promised another waits for it,
 *   and so does one that sees another claiming founders;
 * - with it, once `bootstrap_expect` unformed nodes (same expectation) see each other, the lowest
 *   node id bootstraps with the `bootstrap_expect` lowest as founders (more nodes found: the
 *   others join afterwards), but only after every founder reported seeing it and nobody lower.
 *   It then claims the founders (`mayPromise`) and founds the cluster only if all promised.
 */
export function decideFormation(self: FormationReport, peers: readonly FormationReport[]): FormationStep {
  if (self.formed) return { kind: "member" };
  const stale = staleIdentity(self, peers);
  if (stale) {
    return {
      kind: "refuse",
      reason:
        `refusing to join: node ${stale.nodeId} reports that its cluster knows node id ` +
        `${JSON.stringify(self.nodeId)} from another data dir, and this one holds no cluster state (wiped or ` +
        `replaced?); with an empty vote record it could vote twice in one term. Remove the old member first: stop ` +
        `it and run \`curl -X POST 'http://<any member's http_addr>/cluster/remove?node=` +
        `${encodeURIComponent(self.nodeId)}'\`, which returns once no group counts its vote, then start this ` +
        `node again; or start it under a new node id`,
    };
  }
  const formed = peers.filter((p) => p.formed);
  const misfit = [
    ...formed,
    ...peers.filter((p) => !p.formed && p.bootstrapExpect > 0 && self.bootstrapExpect > 0),
  ].find((p) => p.clusterId !== self.clusterId || p.partitionCount !== self.partitionCount);
  if (misfit) {
    const what = misfit.formed
      ? `the formed cluster ${JSON.stringify(misfit.clusterId)} reached through node ${misfit.nodeId}`
      : `node ${misfit.nodeId}, which expects to form the same cluster,`;
    return {
      kind: "refuse",
      reason: `refusing to join: ${what} has cluster_id = ${JSON.stringify(misfit.clusterId)} and partition_count = ${misfit.partitionCount}, this node has cluster_id = ${JSON.stringify(self.clusterId)} and partition_count = ${self.partitionCount}`,
    };
  }
  const promised = self.promisedTo !== null && self.promisedTo !== self.nodeId ? self.promisedTo : null;
  // A founder must end up in the cluster it promised: the founder may already list it as a voter.
  const joinable = promised === null ? formed : formed.filter((p) => p.nodeId === promised);
  if (joinable.length > 0) {
    const via = joinable.reduce((a, b) => (b.nodeId < a.nodeId ? b : a));
    return { kind: "join", via: via.nodeId, gossip: via.gossip };
  }
  if (promised !== null)
    return { kind: "wait", reason: `promised to found the cluster with node ${promised}; waiting for it to bootstrap` };
  if (self.bootstrapExpect === 0) {
    const unformed = peers.filter((p) => !p.formed).length;
    return {
      kind: "wait",
      reason:
        `no formed cluster found (${unformed} unformed node${unformed === 1 ? "" : "s"} seen); ` +
        "without bootstrap_expect " +
        "this node only joins: start a member of the cluster, or set bootstrap_expect = N on the first N nodes " +
        "(or bootstrap = true on one of them) to form one",
    };
  }
  // A node claiming its founders may form a cluster any moment: this node then joins it.
  const claimer = peers.find((p) => !p.formed && p.promisedTo === p.nodeId);
  if (claimer) return { kind: "wait", reason: `node ${claimer.nodeId} is claiming founders for a new cluster` };
  const seen = candidates(self, peers);
  if (seen.length < self.bootstrapExpect)
    return {
      kind: "wait",
      reason:
        `${seen.length} of ${self.bootstrapExpect} expected nodes see each other (${seen.join(", ")}); the cluster ` +
        `forms once ${self.bootstrapExpect - seen.length} more with the same cluster id and bootstrap_expect answer`,
    };
  const first = lowest(seen);
  if (first !== self.nodeId)
    return { kind: "wait", reason: `node ${first} has the lowest node id and bootstraps the cluster` };
  const founders = [...seen].sort().slice(0, self.bootstrapExpect);
  const doubter = peers.find(
    (p) =>
      founders.includes(p.nodeId) &&
      (!p.sees.includes(self.nodeId) ||
        lowest(p.sees) !== self.nodeId ||
        (p.promisedTo !== null && p.promisedTo !== self.nodeId)),
  );
  if (doubter) return { kind: "wait", reason: `node ${doubter.nodeId} does not yet see this node as the lowest` };
  return { kind: "bootstrap", founders };
}

/**
 * The formed peer whose cluster knows this node's id from another data dir (as a member with
 * another data dir id, or a voter of a group only) although this node holds no cluster state:
 * the same id on a wiped or replaced data dir, whose empty vote record could grant a second vote
 * in a term it already voted in. A founder, or a node the controller admitted before this check
 * ran, is listed with this data dir's id: not stale.
 */
export function staleIdentity(self: FormationReport, peers: readonly FormationReport[]): FormationReport | undefined {
  return peers.find(
    (p) => p.formed && p.identities.some((k) => k.id === self.nodeId && k.dataDirId !== self.member.dataDirId),
  );
}

/**
 * Whether this node promises `claimer` to found a cluster with it: only while unformed, expecting
 * to form one, not promised to anyone else, and seeing nobody lower than the claimer. A promise
 * is what keeps two claimers from both founding with the same node: each needs every founder's.
 */
export function mayPromise(self: FormationReport, claimer: string): boolean {
  if (self.formed || self.bootstrapExpect === 0 || claimer === self.nodeId) return false;
  if (self.promisedTo !== null && self.promisedTo !== claimer) return false;
  return lowest([claimer, ...self.sees]) === claimer;
}

/**
 * Formed nodes found on this node's link that hold another cluster under the same cluster id:
 * neither is a member the other's cluster knows. Two clusters founded apart (two nodes given
 * `bootstrap = true`) never merge (their metadata and Raft groups are unrelated); this is how
 * they are noticed. A node this cluster is admitting knows this node once the metadata reaches
 * it, so a caller reports only what persists over more than one round.
 */
export function foreignClusterNodes(self: FormationReport, peers: readonly FormationReport[]): FormationReport[] {
  const mine = new Set(self.identities.map((k) => k.id));
  return peers.filter(
    (p) =>
      p.formed &&
      p.clusterId === self.clusterId &&
      p.identities.length > 0 &&
      !mine.has(p.nodeId) &&
      !p.identities.some((k) => k.id === self.nodeId),
  );
}
