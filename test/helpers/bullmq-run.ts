// BullMQ (npm, unmodified) on a loopback FlyDB cluster: producers add jobs (some delayed, some that
// fail twice before they succeed), workers on other members process them, and one member can be
// killed with kill -9 midway and restarted. Shared by test/cluster/bullmq.test.ts (a bounded count)
// and bench/bullmq.ts (the 10,000 jobs of issue #16).
//
// Keys carry the `{bull}` hash-tag prefix BullMQ documents for Redis Cluster, so a queue lives in one
// slot. Jobs have ids of their own: adding an id twice is a no-op in BullMQ, so a producer that gets
// an error (the write may or may not have been applied) adds again and still makes one job.
import { type ConnectionOptions, type Job, Queue, Worker } from "bullmq";
import Redis, { type Cluster } from "ioredis";
import type { LoopbackCluster, LoopbackMember } from "./loopback-cluster.ts";

export interface BullmqRunOptions {
  readonly jobs: number;
  /** Kill -9 this member once this share of the jobs has completed, and restart it. */
  readonly kill?: { readonly member: LoopbackMember; readonly atShare: number; readonly downMs: number };
  readonly timeoutMs: number;
  readonly log?: (line: string) => void;
}

export interface BullmqRunResult {
  /**
   * "completed" entries per job id in the queue's event stream: moveToFinished wrote one each time
   * it moved the job to completed, so this counts completions where they happen, on the server.
   */
  readonly completions: ReadonlyMap<string, number>;
  /**
   * Worker "completed" events per job id: fewer than completions when the worker's moveToFinished
   * was applied but its reply lost (-UNKNOWN, a killed member), which BullMQ reports as an error.
   */
  readonly workerEvents: ReadonlyMap<string, number>;
  /** Successful processor runs per job id (more than completions when a stalled job was run again). */
  readonly successfulRuns: ReadonlyMap<string, number>;
  /** Completions when the kill came, and whether the producers were still adding; null: no kill. */
  readonly killedAt: { readonly completed: number; readonly adding: boolean } | null;
  /** Job ids whose processor failed on purpose, with how many times. */
  readonly planned: { readonly delayed: number; readonly failTwice: number };
  readonly counts: Record<string, number>;
  readonly completedInSet: number;
  readonly addMs: number;
  readonly totalMs: number;
  readonly addRetries: number;
}

const QUEUE = "jobs";
const PREFIX = "{bull}";
const isDelayed = (i: number) => i % 10 === 3;
const failsTwice = (i: number) => i % 10 === 7;

function clusterClient(m: LoopbackMember): Cluster {
  const c = new Redis.Cluster([{ host: "127.0.0.1", port: m.proc.port }], {
    // BullMQ requires maxRetriesPerRequest null on its connections.
    redisOptions: { maxRetriesPerRequest: null },
    clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
  });
  c.on("error", () => {}); // a killed member: the client moves on to the others
  return c;
}

export async function runBullmq(c: LoopbackCluster, o: BullmqRunOptions): Promise<BullmqRunResult> {
  const log = o.log ?? (() => {});
  const [m1, m2, m3] = c.members;
  const connections: (Cluster | Redis)[] = [];
  /** BullMQ types its connections with its own ioredis (a newer 5.x); at run time any 5.x client does. */
  const conn = (x: Cluster | Redis): ConnectionOptions => {
    connections.push(x);
    return x as unknown as ConnectionOptions;
  };
  const started = performance.now();
  const admin = clusterClient(m1!);
  // Long enough an event stream to hold every completion of the run.
  const streams = { events: { maxLen: o.jobs * 10 } };
  const queue = new Queue(QUEUE, { connection: conn(clusterClient(m1!)), prefix: PREFIX, streams });
  const workerEvents = new Map<string, number>();
  const successfulRuns = new Map<string, number>();
  const processor = async (job: Job) => {
    if (failsTwice(job.data.i) && job.attemptsMade < 2) throw new Error(`planned failure ${job.attemptsMade + 1}`);
    successfulRuns.set(job.id!, (successfulRuns.get(job.id!) ?? 0) + 1);
    return job.data.i;
  };
  // One worker speaks Redis Cluster from another member, one is a plain connection that member 3
  // proxies to the queue's leader.
  const plain = new Redis({ host: "127.0.0.1", port: m3!.proc.port, maxRetriesPerRequest: null });
  plain.on("error", () => {}); // while member 3 is down
  // A moveToActive the cluster applied but could not confirm (-UNKNOWN, or a killed member's socket)
  // leaves a job locked by no worker until its lock expires and the stalled check hands it out
  // again: under heavy load a job stalls more often than on one Redis, so more stalls are allowed.
  // Locks of 10 s checked every 5 s (BullMQ's defaults: 30 s and 30 s) hand out the jobs a killed
  // member left locked within ~15 s; a job runs for milliseconds, far below its lock.
  const opts = { prefix: PREFIX, concurrency: 20, maxStalledCount: 5, lockDuration: 10_000, stalledInterval: 5_000 };
  const workers = [
    new Worker(QUEUE, processor, { connection: conn(clusterClient(m2!)), ...opts }),
    new Worker(QUEUE, processor, { connection: conn(plain), ...opts }),
  ];
  for (const w of workers) {
    w.on("completed", (job) => workerEvents.set(job.id!, (workerEvents.get(job.id!) ?? 0) + 1));
    w.on("error", (e) => log(`worker error: ${e.message}`));
  }

  let addRetries = 0;
  const add = async (i: number) => {
    const opts = {
      jobId: `job-${i}`,
      attempts: 3,
      backoff: { type: "fixed", delay: 200 },
      ...(isDelayed(i) ? { delay: 500 + (i % 7) * 100 } : {}),
    };
    for (;;) {
      try {
        return await queue.add("work", { i }, opts);
      } catch (e) {
        addRetries++;
        log(`add job-${i}: ${(e as Error).message}; adding again`);
        await Bun.sleep(100);
      }
    }
  };
  // The kill is watched while the producers still add, so it lands midway through the run whether
  // or not the workers keep up with the producers.
  let killedAt: BullmqRunResult["killedAt"] = null;
  let adding = true;
  const deadline = performance.now() + o.timeoutMs;
  let completed = 0;
  const watch = (async () => {
    while ((adding || completed < o.jobs) && performance.now() < deadline) {
      completed = await queue.getCompletedCount().catch(() => completed);
      if (o.kill && !killedAt && completed >= o.jobs * o.kill.atShare) {
        killedAt = { completed, adding };
        log(`kill -9 ${o.kill.member.id} at ${completed} completions${adding ? " (still adding)" : ""}`);
        await c.kill9(o.kill.member);
        await Bun.sleep(o.kill.downMs);
        await c.restart(o.kill.member);
        log(`${o.kill.member.id} restarted`);
      }
      await Bun.sleep(250);
    }
  })();
  const PRODUCERS = 20;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      for (let i = p; i < o.jobs; i += PRODUCERS) await add(i);
    }),
  );
  adding = false;
  const addMs = performance.now() - started;
  log(`added ${o.jobs} jobs in ${Math.round(addMs)} ms`);
  await watch;
  // Late duplicates would show up after the last first completion: give them a moment.
  await Bun.sleep(1000);
  const counts = await queue.getJobCounts();
  const completedInSet = await queue.getCompletedCount();
  for (const j of await queue.getFailed()) log(`failed ${j.id}: ${j.failedReason}`);
  const totalMs = performance.now() - started;
  const completions = new Map<string, number>();
  const events = (await admin.xrange(`${PREFIX}:${QUEUE}:events`, "-", "+")) as [string, string[]][];
  for (const [, fields] of events) {
    const f = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    const id = f.get("jobId");
    if (f.get("event") === "completed" && id) completions.set(id, (completions.get(id) ?? 0) + 1);
  }
  await Promise.all(workers.map((w) => w.close(true)));
  await queue.close();
  for (const x of [...connections, admin]) x.disconnect();
  const planned = { delayed: 0, failTwice: 0 };
  for (let i = 0; i < o.jobs; i++) {
    if (isDelayed(i)) planned.delayed++;
    if (failsTwice(i)) planned.failTwice++;
  }
  return {
    completions,
    workerEvents,
    successfulRuns,
    killedAt,
    planned,
    counts,
    completedInSet,
    addMs,
    totalMs,
    addRetries,
  };
}
