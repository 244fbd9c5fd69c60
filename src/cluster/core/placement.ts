// Which nodes hold which partition (docs/design/cluster.md): min(replication_factor, nodes) replicas per
// partition, spread across zones, balanced across nodes, and moved as little as possible when
// membership changes. Pure: the metadata leader runs it and proposes the result through group 0.

export interface PlacementMember {
  readonly id: string;
  readonly zone: string;
}

/** partition → replica node ids; the first replica is the preferred leader. */
export type PartitionMap = readonly (readonly string[])[];

export interface PlacementInput {
  readonly members: readonly PlacementMember[];
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** The current map, if any; replicas on members that are gone are dropped. */
  readonly current?: PartitionMap;
}

/**
 * The target map. Deterministic for a given input (ties broken by node id), so every node
 * computing it agrees, and stable: an input that is already balanced comes back unchanged.
 */
export function place(input: PlacementInput): string[][] {
  const members = [...input.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = members.length;
  if (n === 0) return Array.from({ length: input.partitionCount }, () => []);
  const rf = Math.min(input.replicationFactor, n);
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const load = new Map(members.map((m) => [m.id, 0]));
  const total = rf * input.partitionCount;
  const ceiling = Math.ceil(total / n);

  // Keep what still stands, up to rf, and never above the per-node ceiling.
  const map: string[][] = [];
  for (let p = 0; p < input.partitionCount; p++) {
    const kept: string[] = [];
    for (const id of input.current?.[p] ?? []) {
      if (kept.length >= rf || !zoneOf.has(id) || kept.includes(id) || load.get(id)! >= ceiling) continue;
      kept.push(id);
      load.set(id, load.get(id)! + 1);
    }
    map.push(kept);
  }

  const zonesUsed = (replicas: readonly string[]) => new Set(replicas.map((r) => zoneOf.get(r)));
  /** Fewest replicas first, then a zone this partition lacks, then id. */
  const pick = (replicas: readonly string[]): string | undefined => {
    const used = zonesUsed(replicas);
    let best: string | undefined;
    let bestKey: [number, number, string] | undefined;
    for (const m of members) {
      if (replicas.includes(m.id)) continue;
      const key: [number, number, string] = [load.get(m.id)!, used.has(m.zone) ? 1 : 0, m.id];
      if (
        !bestKey ||
        key[0] < bestKey[0] ||
        (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))
      ) {
        best = m.id;
        bestKey = key;
      }
    }
    return best;
  };

  for (const replicas of map) {
    while (replicas.length < rf) {
      const id = pick(replicas)!;
      replicas.push(id);
      load.set(id, load.get(id)! + 1);
    }
  }

  // A node that joined after the fill above may still sit below the floor: move replicas to it
  // from the most loaded nodes, one at a time, never reducing a partition's zone spread.
  const floor = Math.floor(total / n);
  for (const m of members) {
    for (let p = 0; p < map.length && load.get(m.id)! < floor; p++) {
      const replicas = map[p]!;
      if (replicas.includes(m.id)) continue;
      let donor = -1;
      for (let i = 0; i < replicas.length; i++) {
        const r = replicas[i]!;
        // Taking one from a donor must not push it below the floor itself.
        if (load.get(r)! <= floor) continue;
        const without = replicas.filter((_, j) => j !== i);
        if (zonesUsed([...without, m.id]).size < zonesUsed(replicas).size) continue;
        if (donor === -1 || load.get(r)! > load.get(replicas[donor]!)!) donor = i;
      }
      if (donor === -1) continue;
      load.set(replicas[donor]!, load.get(replicas[donor]!)! - 1);
      replicas[donor] = m.id;
      load.set(m.id, load.get(m.id)! + 1);
    }
  }

  balanceLeaders(
    map,
    members.map((m) => m.id),
  );
  return map;
}

/** Reorders each partition's replicas so preferred leaders (index 0) spread evenly over nodes. */
function balanceLeaders(map: string[][], ids: readonly string[]): void {
  const leads = new Map(ids.map((id) => [id, 0]));
  for (const replicas of map) {
    if (replicas.length === 0) continue;
    let best = 0;
    for (let i = 1; i < replicas.length; i++) {
      const a = leads.get(replicas[i]!)!;
      const b = leads.get(replicas[best]!)!;
      if (a < b) best = i;
    }
    const [leader] = replicas.splice(best, 1);
    replicas.unshift(leader!);
    leads.set(leader!, leads.get(leader!)! + 1);
  }
}

export type MoveStep =
  | { readonly kind: "addLearner"; readonly partition: number; readonly node: string }
  | { readonly kind: "promote"; readonly partition: number; readonly node: string }
  | { readonly kind: "remove"; readonly partition: number; readonly node: string };

/**
 * Steps that take each partition from `from` to `to` one membership change at a time: a new
 * replica joins as a learner, is promoted once caught up, and only then is an old one removed, so
 * a partition never has fewer up-to-date voters than before.
 */
export function planMoves(from: PartitionMap, to: PartitionMap): MoveStep[][] {
  return to.map((target, partition) => {
    const current = from[partition] ?? [];
    const steps: MoveStep[] = [];
    const adds = target.filter((id) => !current.includes(id));
    const removes = current.filter((id) => !target.includes(id));
    for (const node of adds) {
      steps.push({ kind: "addLearner", partition, node });
      steps.push({ kind: "promote", partition, node });
    }
    for (const node of removes) steps.push({ kind: "remove", partition, node });
    return steps;
  });
}
