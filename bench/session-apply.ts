// What exactly-once bookkeeping costs at apply: SETs applied to one partition group through
// ClusterStateMachine in batches (one batch = one group's share of a multi-raft turn), with
// proposal ids (from a few proxying nodes' sessions) and without, alternating rounds.
//
//   npx bun bench/session-apply.ts [--ops 100000] [--batch 8] [--nodes 3] [--rounds 3]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClusterStateMachine } from "../src/cluster/state-machine.ts";
import { ProposalIds } from "../src/keyspace/sessions.ts";
import { EntryKind, type Entry } from "../src/raft/types.ts";
import { encodeOp } from "../src/store/op-codec.ts";
import { StateDb } from "../src/store/state.ts";

const { values } = parseArgs({
  options: {
    ops: { type: "string", default: "100000" },
    batch: { type: "string", default: "8" },
    nodes: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
  },
});
const OPS = Number(values.ops);
const BATCH = Number(values.batch);
const NODES = Number(values.nodes);
const ROUNDS = Number(values.rounds);
const GRP = 1;
const enc = new TextEncoder();
const dir = mkdtempSync(join(tmpdir(), "flydb-bench-sessions-"));

function run(withIds: boolean, round: number): number {
  const state = StateDb.open({ path: join(dir, `${withIds ? "ids" : "plain"}-${round}.db`), partitionCount: 1 });
  const machine = new ClusterStateMachine(state);
  const proposers = Array.from({ length: NODES }, (_, i) => new ProposalIds(`node-${i}`, 1_700_000_000_000 + i));
  // Encoding happens on the proposer, not in apply: prepare the entries first.
  const entries: Entry[] = [];
  for (let i = 0; i < OPS; i++) {
    const op = {
      cmds: [[enc.encode("set"), enc.encode(`key:${i % 100_000}`), enc.encode("xxxxxxxxxxxxxxxx")]],
      now: 1_000 + i,
      seed: 0,
    };
    const p = proposers[i % NODES]!;
    const id = withIds ? p.next(GRP) : undefined;
    if (id) p.settle(GRP, id.seq);
    entries.push({ index: i + 1, term: 1, kind: EntryKind.Normal, data: encodeOp(op, id) });
  }
  // CPU time, not wall time: other processes on a shared machine skew the wall clock far more.
  const started = process.cpuUsage();
  for (let i = 0; i < OPS; i += BATCH) machine.transaction(() => machine.apply(GRP, entries.slice(i, i + BATCH)));
  const used = process.cpuUsage(started);
  const seconds = (used.user + used.system) / 1e6;
  machine.close();
  state.close();
  return OPS / seconds;
}

const results: Record<string, number[]> = { plain: [], ids: [] };
for (let r = 0; r < ROUNDS; r++) {
  results.plain!.push(run(false, r));
  results.ids!.push(run(true, r));
}
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| apply, ${BATCH} SETs per transaction | ops per CPU second (median of ${ROUNDS}) |`);
console.log("|---|---:|");
console.log(`| without proposal ids | ${Math.round(median(results.plain!))} |`);
console.log(`| with proposal ids (${NODES} sessions) | ${Math.round(median(results.ids!))} |`);
console.log(`ratio: ${(median(results.ids!) / median(results.plain!)).toFixed(2)}`);
