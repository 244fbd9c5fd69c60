// A seeded simulation of read routing: nodes with a fixed service capacity per tick, clients on
// every node issuing reads (uniform over the partitions, or a hot partition taking a share), each
// node's router choosing with the real policy (src/cluster/core/read-target.ts), loads gossiped
// every few ticks as the LoadMeter smooths them (src/cluster/load-meter.ts), RTTs by zone.
import { type RoutingStrategy, readTargetPolicy, type ReplicaFacts } from "../../src/cluster/core/read-target.ts";
import { seededRandom } from "../../src/lib/prng.ts";

export interface RoutingSimOptions {
  readonly strategy: RoutingStrategy;
  readonly seed: number;
  readonly nodes: number;
  readonly replication: number;
  readonly partitions: number;
  /** Zone of each node ("" for none). */
  readonly zones?: readonly string[];
  /** Share of the reads that go to partition 0 (0: uniform). */
  readonly hotShare: number;
  /** Reads issued per node per tick, and reads a node serves per tick. */
  readonly readsPerNode: number;
  readonly capacity: number;
  /** Extra work per tick a node has besides reads (writes it leads, say), by node index. */
  readonly background?: readonly number[];
  readonly ticks: number;
  /** Loads are gossiped every this many ticks. */
  readonly gossipEvery: number;
}

export interface RoutingSimResult {
  /** Share of all reads served by each node. */
  readonly share: number[];
  /** Share of the reads of partition 0 served by each node. */
  readonly hotShare: number[];
  /** Reads served in the asking node's zone, as a share of all reads. */
  readonly inZone: number;
  /** Reads served by the asking node itself. */
  readonly local: number;
  /** Reads served per tick, on average, and the longest queue seen (in ticks of work). */
  readonly throughput: number;
  readonly maxBacklogTicks: number;
}

const node = (i: number) => `n${i}`;

export function runRoutingSim(o: RoutingSimOptions): RoutingSimResult {
  const rnd = seededRandom(o.seed);
  const ids = Array.from({ length: o.nodes }, (_, i) => node(i));
  const zones = o.zones ?? ids.map(() => "");
  // Replicas of partition p: consecutive nodes from p; the first leads.
  const replicas = Array.from({ length: o.partitions }, (_, p) =>
    Array.from({ length: Math.min(o.replication, o.nodes) }, (_, k) => node((p + k) % o.nodes)),
  );
  const policies = ids.map(() => readTargetPolicy(o.strategy));
  const queue = ids.map(() => 0);
  const servedWindow = ids.map(() => 0);
  const smoothed = ids.map(() => 0);
  const gossiped = ids.map(() => 0);
  const served = ids.map(() => 0);
  const hot = ids.map(() => 0);
  let inZone = 0;
  let local = 0;
  let total = 0;
  let maxBacklog = 0;
  const idx = (id: string) => Number(id.slice(1));
  for (let tick = 0; tick < o.ticks; tick++) {
    for (let asker = 0; asker < o.nodes; asker++) {
      const facts: ReplicaFacts = {
        zone: (id) => zones[idx(id)]!,
        load: (id) => (idx(id) === asker ? smoothed[asker] : gossiped[idx(id)]),
        rttMs: (id) => (idx(id) === asker ? 0 : zones[idx(id)] !== "" && zones[idx(id)] === zones[asker] ? 0.2 : 20),
        lag: () => 0,
      };
      for (let r = 0; r < o.readsPerNode; r++) {
        const p = rnd() < o.hotShare ? 0 : Math.floor(rnd() * o.partitions);
        const reps = replicas[p]!;
        const target = policies[asker]!.choose({
          partition: p,
          replicas: reps,
          leader: reps[0]!,
          hint: undefined,
          tried: new Set(),
          alive: () => true,
          self: node(asker),
          facts,
        })!;
        const t = idx(target);
        queue[t]!++;
        served[t]!++;
        if (p === 0) hot[t]!++;
        if (t === asker) local++;
        if (zones[t] !== "" && zones[t] === zones[asker]) inZone++;
        total++;
      }
    }
    for (let i = 0; i < o.nodes; i++) {
      const bg = o.background?.[i] ?? 0;
      const done = Math.min(queue[i]!, Math.max(0, o.capacity - bg));
      queue[i]! -= done;
      servedWindow[i]! += done;
      maxBacklog = Math.max(maxBacklog, queue[i]! / o.capacity);
      // The meter's load: requests served plus those waiting, smoothed like LoadMeter's EWMA.
      smoothed[i] = 0.3 * (bg + done + queue[i]!) + 0.7 * smoothed[i]!;
    }
    if (tick % o.gossipEvery === 0) for (let i = 0; i < o.nodes; i++) gossiped[i] = Math.round(smoothed[i]!);
  }
  const sum = served.reduce((a, b) => a + b, 0);
  const hotSum = hot.reduce((a, b) => a + b, 0) || 1;
  return {
    share: served.map((s) => s / sum),
    hotShare: hot.map((s) => s / hotSum),
    inZone: inZone / total,
    local: local / total,
    throughput: servedWindow.reduce((a, b) => a + b, 0) / o.ticks,
    maxBacklogTicks: maxBacklog,
  };
}
