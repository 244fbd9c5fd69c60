// The nemesis (issue #13): real FlyDB processes, one per network namespace (cluster-harness.ts),
// in lease-read mode, each node's clock skewed by a test-only offset (FLYDB_TEST_CLOCK_OFFSET_MS,
// src/wall-clock.ts) that changes at every start, under a recorded workload (registers, counters,
// TTL keys) from the client namespace, while a seeded schedule injects one fault at a time and
// repairs it: kill -9 and restart, SIGSTOP, network partitions (a minority cut off, the metadata
// leader isolated, a bridge node that alone sees both halves, a node whose packets out are all
// dropped while it still hears everyone), and membership changes (a node added, a member killed
// and removed with POST /cluster/remove, a member leaving with POST /cluster/leave; a removed or
// departed node comes back later on a wiped data dir under its old id). Judged by the WGL
// checker plus the lost-write checks (workload.ts) and the TTL check: a key read expired is never
// read alive again. Used by test/cluster/nemesis.test.ts and bench/soak.ts.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "../../src/lib/prng.ts";
import {
  clusterStatus,
  createHarness,
  type FlyNode,
  type Harness,
  keysInDistinctPartitions,
  waitClusterSettled,
  waitUntil,
} from "./cluster-harness.ts";
import { checkHistory, describeFailures, finalReads, type OpRecord, startWorkload, ttlViolations } from "./workload.ts";

export interface NemesisOptions {
  readonly seed: number;
  /** How long faults are injected; the workload then runs CALM_MS more without faults. */
  readonly workloadMs: number;
  /** Largest clock offset of a node, either way. */
  readonly maxSkewMs: number;
  readonly partitions?: number;
  /**
   * Multiplies the harness's own deadlines (a node ready after its start, the final reads' retries),
   * never the cluster's: on a machine shared with other work a node can take longer than 30 s to be
   * admitted without anything being wrong with it (bench/soak.ts).
   */
  readonly patience?: number;
}

export interface NemesisResult {
  readonly seed: number;
  readonly faults: string[];
  /**
   * Keys that failed the WGL check, TTL keys read alive after being read expired, a removed node
   * refused on a wiped data dir, or one that left refused again after the remedy its error names.
   */
  readonly violations: string[];
  /** Findings short of a violation: a node that left refused on a wiped data dir at first (see `add`). */
  readonly notes: string[];
  /** Acknowledged writes missing at the end (also counted in violations). */
  readonly lostWrites: string[];
  /** Per fault: ms from the fault until every workload key had an acknowledged write again. */
  readonly recoveryMs: number[];
  readonly ops: number;
  readonly ttlReads: number;
}

/** Fault-free tail of the workload, so the last fault's recovery is measured too. */
const CALM_MS = 8_000;
/** Members at the start; the other hosts wait as spares for "add" faults. */
const INITIAL = 3;
const HOSTS = 5;

export async function runNemesis(o: NemesisOptions): Promise<NemesisResult> {
  const rnd = seededRandom(o.seed);
  const partitions = o.partitions ?? 8;
  const startMs = 30_000 * (o.patience ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const skew = () => ({ FLYDB_TEST_CLOCK_OFFSET_MS: String(Math.round((rnd() * 2 - 1) * o.maxSkewMs)) });
  const h = createHarness({
    nodes: HOSTS,
    mode: "cluster",
    partitionCount: partitions,
    extraArgs: () => ["--read-consistency", "lease"],
  });
  try {
    const [n1, ...rest] = h.nodes as [FlyNode, ...FlyNode[]];
    await h.start(n1, { env: skew(), timeoutMs: startMs });
    await Promise.all(rest.slice(0, INITIAL - 1).map((n) => h.start(n, { env: skew(), timeoutMs: startMs })));
    await waitClusterSettled(h, 60_000);
    const keys = keysInDistinctPartitions(6, partitions, `nm${o.seed}-`);
    const registerKeys = keys.slice(0, 4);
    const counterKeys = keys.slice(4);
    const run = startWorkload(h.net, h.client.ns, {
      targets: h.nodes.map((n) => n.resp),
      clients: 6,
      registerKeys,
      counterKeys,
      maxOps: 50_000,
      // Stopped after the calm tail; this only bounds a run whose faults overran badly.
      maxMs: o.workloadMs + 120_000,
      opTimeoutMs: 2_000,
      thinkMs: 5,
      seed: o.seed,
      ttlPrefix: `ttl${o.seed}-`,
    });
    const started = Date.now();
    const nemesis = new Nemesis(h, rnd, pick, skew, startMs);
    const faultTimes: number[] = [];
    while (Date.now() < started + o.workloadMs) {
      await Bun.sleep(1_000 + rnd() * 1_500);
      faultTimes.push(Date.now());
      await nemesis.next();
    }
    await Bun.sleep(CALM_MS);
    run.stop();
    const { records } = await run.done;
    const settled = await waitClusterSettled(h, 60_000).catch((e: Error) => e);
    if (settled instanceof Error) throw new Error(`${settled.message}; faults: ${nemesis.faults.join(", ")}`);
    const members = h.nodes.filter((n) => h.isRunning(n));
    const finals = await finalReads(h, members, keys, 5_000 * (o.patience ?? 1));
    const checks = checkHistory(records, finals);
    const violations = [...describeFailures(checks), ...ttlViolations(records), ...nemesis.refused];
    const lostWrites = checks.flatMap((c) => c.problems.filter((p) => /lost|null after/.test(p)));
    return {
      seed: o.seed,
      faults: nemesis.faults,
      violations,
      notes: nemesis.notes,
      lostWrites,
      recoveryMs: faultTimes.map((t) => recovery(records, keys, t)),
      ops: records.filter((r) => r.model !== "ttl").length,
      ttlReads: records.filter((r) => r.model === "ttl" && r.op === "get").length,
    };
  } finally {
    await h.destroy();
  }
}

/** The fault schedule and the cluster's membership as the faults changed it. */
class Nemesis {
  readonly faults: string[] = [];
  /** Refused rejoins on wiped data dirs that are violations (see `add`). */
  readonly refused: string[] = [];
  readonly notes: string[] = [];
  /**
   * How each spare that was a member went: a removed id must be free at once, and so must one that
   * left, unless its leave answered that some member still counted it (`known_by`): then after the remedy.
   */
  private readonly departed = new Map<FlyNode, "removed" | "left" | "left, still known">();
  /** Stopped nodes whose next start is a new member: spares never started, or removed and wiped. */
  private readonly spares: FlyNode[];

  constructor(
    private readonly h: Harness,
    private readonly rnd: () => number,
    private readonly pick: <T>(xs: readonly T[]) => T,
    private readonly skew: () => Record<string, string>,
    private readonly startMs: number,
  ) {
    this.spares = h.nodes.filter((n) => !h.isRunning(n));
  }

  private members(): FlyNode[] {
    return this.h.nodes.filter((n) => this.h.isRunning(n));
  }

  async next(): Promise<void> {
    const r = this.rnd();
    if (r < 0.2) return this.kill();
    if (r < 0.35) return this.pause();
    if (r < 0.7) return this.partition();
    return this.membership();
  }

  private async kill(): Promise<void> {
    const m = this.pick(this.members());
    this.faults.push(`kill -9 ${m.id}`);
    await this.h.kill9(m);
    await Bun.sleep(500 + this.rnd() * 1_500);
    await this.h.start(m, { env: this.skew(), wait: "health" });
  }

  private async pause(): Promise<void> {
    const m = this.pick(this.members());
    const ms = Math.round(500 + this.rnd() * 2_000);
    this.faults.push(`SIGSTOP ${m.id} ${ms} ms`);
    m.proc!.kill("SIGSTOP");
    await Bun.sleep(ms);
    m.proc!.kill("SIGCONT");
  }

  private async partition(): Promise<void> {
    const { h, rnd } = this;
    const members = this.members();
    const shuffled = [...members].sort(() => rnd() - 0.5);
    const cut = async (a: readonly FlyNode[], b: readonly FlyNode[], oneWay = false) => {
      for (const x of a) {
        for (const y of b) {
          await h.net.dropTo(x.host.ns, y.host);
          if (!oneWay) await h.net.dropTo(y.host.ns, x.host);
        }
      }
    };
    const kind = rnd();
    const ids = (ns: readonly FlyNode[]) => ns.map((n) => n.id).join("+");
    let what: string;
    if (kind < 0.3) {
      const minority = shuffled.slice(0, Math.max(1, Math.floor((members.length - 1) / 2)));
      const majority = members.filter((n) => !minority.includes(n));
      await cut(minority, majority);
      what = `partition ${ids(minority)} | ${ids(majority)}`;
    } else if (kind < 0.55) {
      const s = await clusterStatus(h, members[0]!).catch(() => undefined);
      const leader = members.find((n) => n.id === s?.metadata_leader) ?? shuffled[0]!;
      await cut(
        [leader],
        members.filter((n) => n !== leader),
      );
      what = `isolate metadata leader ${leader.id}`;
    } else if (kind < 0.8) {
      const [bridge, ...others] = shuffled as [FlyNode, ...FlyNode[]];
      const half = Math.ceil(others.length / 2);
      await cut(others.slice(0, half), others.slice(half));
      what = `bridge ${bridge.id} between ${ids(others.slice(0, half))} | ${ids(others.slice(half))}`;
    } else {
      const mute = shuffled[0]!;
      await cut(
        [mute],
        members.filter((n) => n !== mute),
        true,
      );
      what = `asymmetric: ${mute.id}'s packets out dropped`;
    }
    const ms = Math.round(1_000 + rnd() * 3_000);
    this.faults.push(`${what} ${ms} ms`);
    await Bun.sleep(ms);
    await h.net.healDrops();
  }

  /** Add a spare when the cluster is smallest, remove or drain a member when it is largest, else either. */
  private async membership(): Promise<void> {
    const members = this.members();
    // n1 founded the cluster (--bootstrap): on a wiped data dir it would found another.
    const removable = members.filter((n) => n !== this.h.nodes[0]);
    const grow = members.length <= INITIAL ? true : this.spares.length === 0 ? false : this.rnd() < 0.5;
    if (grow) return this.add(this.pick(this.spares));
    const m = this.pick(removable);
    const left = this.rnd() >= 0.5;
    if (left) this.departed.set(m, await this.leave(m));
    else {
      await this.remove(m);
      this.departed.set(m, "removed");
    }
    this.wipe(m);
    this.spares.push(m);
  }

  /**
   * Starts a spare. On a wiped data dir under an id that was removed (POST /cluster/remove) or
   * left (POST /cluster/leave, which waits until no member counts the id), a refusal is a
   * violation: the id must be free at once. A leave that gave up waiting names the members that
   * still counted it (`known_by`: a replica the map moved away still lists it as a voter until it
   * is dropped); a refusal then is a note, and the remedy the error names (POST /cluster/remove,
   * then start again) must work, else a violation.
   */
  private async add(n: FlyNode): Promise<void> {
    this.spares.splice(this.spares.indexOf(n), 1);
    const how = this.departed.get(n);
    this.faults.push(
      `add ${n.id}${how ? ` (wiped, same id, after it ${how === "removed" ? "was removed" : how})` : ""}`,
    );
    const refusal = await this.start(n);
    if (refusal === undefined) return;
    if (how === "left, still known") {
      this.notes.push(`${n.id} refused on a wiped data dir after it left; removing it and starting again: ${refusal}`);
      await this.removeVia(n);
      const again = await this.start(n);
      if (again === undefined) return;
      this.refused.push(`${n.id} refused again after POST /cluster/remove: ${again}`);
    } else {
      this.refused.push(`${n.id} on a wiped data dir was refused after it ${how ?? "departed"}: ${refusal}`);
    }
    this.spares.push(n);
  }

  /** Starts a node and waits until ready; the refusal line if it was refused. */
  private async start(n: FlyNode): Promise<string | undefined> {
    try {
      await this.h.start(n, { env: this.skew(), timeoutMs: this.startMs });
      return undefined;
    } catch (e) {
      const refusal = this.h
        .logTail(n, 20)
        .split("\n")
        .find((l) => l.includes("refusing to join"));
      if (!refusal) throw e;
      return refusal;
    }
  }

  /** kill -9, then POST /cluster/remove through another member until it is removed everywhere. */
  private async remove(m: FlyNode): Promise<void> {
    const { h } = this;
    this.faults.push(`kill -9 and remove ${m.id}`);
    await h.kill9(m);
    await this.removeVia(m);
  }

  /** POST /cluster/remove through another member until it answers 200 (no group counts the id's vote). */
  private async removeVia(m: FlyNode): Promise<void> {
    const { h } = this;
    const via = this.pick(this.members());
    let last = "";
    const removed = waitUntil(
      async () => {
        // 409 while gossip still sees it alive; 504 while some group still counts its vote.
        const path = `/cluster/remove?node=${m.id}&timeout_ms=5000`;
        const r = await h.http(via, path, { method: "POST", timeoutMs: 8_000 });
        last = `${r.status} ${r.body}`;
        return r.status === 200;
      },
      40_000,
      `POST /cluster/remove?node=${m.id} through ${via.id} to succeed`,
      300,
    );
    await removed.catch((e: Error) => {
      throw new Error(`${e.message} (last answer: ${last})`);
    });
  }

  /** POST /cluster/leave: it drains, waits until forgotten, then stops by itself. */
  private async leave(m: FlyNode): Promise<"left" | "left, still known"> {
    const { h } = this;
    this.faults.push(`leave ${m.id}`);
    const r = await h.http(m, "/cluster/leave?timeout_ms=30000", { method: "POST", timeoutMs: 35_000 });
    if (r.status !== 200) throw new Error(`POST /cluster/leave on ${m.id}: ${r.status} ${r.body}`);
    const knownBy = (JSON.parse(r.body) as { known_by?: string[] }).known_by;
    if (knownBy) this.notes.push(`${m.id}'s leave stopped waiting while ${knownBy.join(", ")} still counted it`);
    const exited = await Promise.race([m.proc!.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
    if (!exited) throw new Error(`${m.id} still running 10 s after it drained and left`);
    const via = this.members()[0]!;
    await waitUntil(
      async () => !(await clusterStatus(h, via)).members.some((x) => x.id === m.id),
      20_000,
      `${m.id} gone from the members ${via.id} lists after its leave`,
      300,
    );
    return knownBy ? "left, still known" : "left";
  }

  /** Empties a departed node's data dir: its next start is a new incarnation of the id. */
  private wipe(n: FlyNode): void {
    for (const f of readdirSync(n.dataDir)) rmSync(join(n.dataDir, f), { recursive: true, force: true });
  }
}

/** ms from `at` until each key had an acknowledged write invoked after it (the slowest key). */
function recovery(records: readonly OpRecord[], keys: readonly string[], at: number): number {
  let worst = 0;
  for (const key of keys) {
    const first = records.find((r) => r.key === key && r.op !== "get" && r.status === "ok" && r.call >= at);
    worst = Math.max(worst, first ? first.ret! - at : Infinity);
  }
  return worst;
}
