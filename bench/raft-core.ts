// Raft core numbers without I/O: failover time in ticks and proposal throughput of a 3-node
// group on in-memory storage, messages delivered within the tick (LAN). Run: npx bun bench/raft-core.ts
import { Raft } from "../src/raft/raft.ts";
import { MemoryRaftStorage } from "../src/raft/memory-storage.ts";
import { bootstrapWrite } from "../src/raft/storage.ts";
import { seededRandom } from "../src/lib/prng.ts";
import type { Message } from "../src/raft/types.ts";

const TICK_MS = 50;
const ids = ["a", "b", "c"];

function cluster(seed: number) {
  const nodes = new Map<string, Raft>();
  for (const [i, id] of ids.entries()) {
    const s = new MemoryRaftStorage();
    s.saveBatch([bootstrapWrite(1, ids)]);
    nodes.set(id, new Raft({ grp: 1, id, storage: s, random: seededRandom(seed * 10 + i) }));
  }
  let inflight: Message[] = [];
  const down = new Set<string>();
  const drain = () => {
    for (const [id, r] of nodes) {
      if (down.has(id)) continue;
      while (r.hasReady()) {
        const rd = r.ready();
        inflight.push(...rd.messages);
        r.advance();
      }
    }
  };
  // On a LAN a round trip (~0.2 ms) is far below a tick: deliver until quiet within the tick.
  const tick = () => {
    for (const [id, r] of nodes) if (!down.has(id)) r.tick();
    drain();
    while (inflight.length > 0) {
      const msgs = inflight;
      inflight = [];
      for (const m of msgs) if (!down.has(m.to)) nodes.get(m.to)!.step(m);
      drain();
    }
  };
  const leader = () =>
    [...nodes].find(
      ([id, r]) => !down.has(id) && r.status().role === "leader" && r.status().commit === r.status().lastIndex,
    )?.[0];
  return { nodes, down, tick, drain, leader };
}

const failover: number[] = [];
for (let seed = 1; seed <= 500; seed++) {
  const c = cluster(seed);
  for (let t = 0; t < 200 && !c.leader(); t++) c.tick();
  for (let t = 0; t < 7; t++) c.tick(); // some heartbeats in between
  const old = c.leader()!;
  c.down.add(old);
  let t = 0;
  while (!c.leader()) {
    c.tick();
    if (++t > 1000) throw new Error(`seed ${seed}: no new leader`);
  }
  failover.push(t);
}
failover.sort((a, b) => a - b);
const q = (p: number) => failover[Math.min(failover.length - 1, Math.floor(p * failover.length))];
console.log(
  `failover (leader crash -> new leader with committed no-op), 500 runs, E=10 H=2: p50 ${q(0.5)} ticks, p99 ${q(0.99)}, max ${failover[failover.length - 1]} ticks = ${failover[failover.length - 1] * TICK_MS} ms at ${TICK_MS} ms/tick`,
);

{
  const c = cluster(1);
  while (!c.leader()) c.tick();
  const l = c.nodes.get(c.leader()!)!;
  const payload = new Uint8Array(100);
  const N = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    l.propose(payload);
    if (i % 64 === 63) {
      c.drain();
      c.tick();
    }
  }
  for (let i = 0; i < 5; i++) c.tick();
  const ms = performance.now() - t0;
  console.log(
    `throughput: ${N} proposals of 100 B, batches of 64, committed ${l.status().commit}: ${Math.round((N / ms) * 1000)} proposals/s through a 3-node in-memory group (one thread for all three nodes)`,
  );
}
