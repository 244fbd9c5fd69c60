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
  /** Worker "completed" events per job id: BullMQ moved the job to completed that many times. */
  readonly completions: ReadonlyMap<string, number>;
  /** Successful processor runs per job id (more than completions when a stalled job was run again). */
  readonly successfulRuns: ReadonlyMap<string, number>;
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
  const queue = new Queue(QUEUE, { connection: conn(clusterClient(m1!)), prefix: PREFIX });
  const completions = new Map<string, number>();
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
  const workers = [
    new Worker(QUEUE, processor, { connection: conn(clusterClient(m2!)), prefix: PREFIX, concurrency: 20 }),
    new Worker(QUEUE, processor, { connection: conn(plain), prefix: PREFIX, concurrency: 20 }),
  ];
  for (const w of workers) {
    w.on("completed", (job) => completions.set(job.id!, (completions.get(job.id!) ?? 0) + 1));
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
  const PRODUCERS = 20;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      for (let i = p; i < o.jobs; i += PRODUCERS) await add(i);
    }),
  );
  const addMs = performance.now() - started;
  log(`added ${o.jobs} jobs in ${Math.round(addMs)} ms`);

  let killed = false;
  const deadline = performance.now() + o.timeoutMs;
  while (completions.size < o.jobs && performance.now() < deadline) {
    if (o.kill && !killed && completions.size >= o.jobs * o.kill.atShare) {
      killed = true;
      log(`kill -9 ${o.kill.member.id} at ${completions.size} completions`);
      await c.kill9(o.kill.member);
      await Bun.sleep(o.kill.downMs);
      await c.restart(o.kill.member);
      log(`${o.kill.member.id} restarted at ${completions.size} completions`);
    }
    await Bun.sleep(100);
  }
  // Late duplicates would show up after the last first completion: give them a moment.
  await Bun.sleep(1000);
  const counts = await queue.getJobCounts();
  const completedInSet = await queue.getCompletedCount();
  const totalMs = performance.now() - started;
  await Promise.all(workers.map((w) => w.close(true)));
  await queue.close();
  for (const x of connections) x.disconnect();
  const planned = { delayed: 0, failTwice: 0 };
  for (let i = 0; i < o.jobs; i++) {
    if (isDelayed(i)) planned.delayed++;
    if (failsTwice(i)) planned.failTwice++;
  }
  return { completions, successfulRuns, planned, counts, completedInSet, addMs, totalMs, addRetries };
}
