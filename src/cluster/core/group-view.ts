// The cluster's view of its Raft groups, assembled from every member's report of the groups it
// hosts (for /cluster/status, /cluster/partitions and the leave drain). Pure.

export interface GroupReport {
  readonly grp: number;
  readonly role: string;
  readonly leader: string | null;
  readonly term: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/**
 * The most authoritative report per group: the highest term, and within a term the leader's own
 * report (a replica just removed may still list itself as a voter), then any that knows a leader.
 */
export function freshestGroups<G extends GroupReport>(reports: Iterable<readonly G[]>): Map<number, G> {
  const rank = (g: G) => (g.role === "leader" ? 2 : g.leader !== null ? 1 : 0);
  const out = new Map<number, G>();
  for (const list of reports) {
    for (const g of list) {
      const seen = out.get(g.grp);
      if (!seen || g.term > seen.term || (g.term === seen.term && rank(g) > rank(seen))) out.set(g.grp, g);
    }
  }
  return out;
}

/**
 * Groups in which `id` may still vote: those whose freshest report lists it as a voter, plus
 * those nobody reported a leader for (unknown counts as held until a leader says otherwise).
 */
export function groupsVotedBy(
  byGroup: ReadonlyMap<number, GroupReport>,
  groups: readonly number[],
  id: string,
): number[] {
  return groups.filter((grp) => {
    const g = byGroup.get(grp);
    return !g || g.leader === null || g.voters.includes(id);
  });
}
