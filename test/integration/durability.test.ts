// Acknowledged writes survive kill -9 (fsync = "always"), and data.db is rebuilt from the log
// (raft.db) when it is lost. Writers record every acknowledged write; after the crash the
// restarted node must have each of them, and no counter may exceed what was attempted.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startFlyDB, tempDir, type FlyDBProcess } from "../helpers/processes.ts";
import { RespClient, show, type Wire } from "../helpers/resp-client.ts";

const WRITERS = 4;
/** Requests each writer keeps in flight: several group commits' worth. */
const WINDOW = 16;
/** The crash comes after this many acknowledged ops, or after CRASH_AFTER_MS, whichever is first. */
const CRASH_AFTER_ACKS = 3000;
const CRASH_AFTER_MS = 2000;

interface History {
  /** key → value of every acknowledged SET of a unique key. */
  readonly acked: Map<string, string>;
  ackedIncrs: number;
  attemptedIncrs: number;
  /** All requests sent and all answered: a difference means the crash hit requests in flight. */
  sent: number;
  answered: number;
  /** Per writer: the highest acknowledged and the highest attempted value of its register key. */
  readonly registers: { acked: number; attempted: number }[];
}

/** One connection writing unique keys, a shared counter and its own register until the server dies. */
async function writer(port: number, id: number, h: History, stop: () => boolean): Promise<void> {
  const c = await RespClient.connect(port);
  let seq = 0;
  const reg = h.registers[id]!;
  const one = async (): Promise<void> => {
    while (!stop()) {
      const n = seq++;
      h.sent++;
      const kind = n % 3;
      if (kind === 0) {
        const key = `w${id}:${n}`;
        const value = `v${n}-${"x".repeat(n % 40)}`;
        if (show(await c.call("SET", key, value)) !== "+OK") throw new Error(`SET ${key} failed`);
        h.acked.set(key, value);
        h.answered++;
      } else if (kind === 1) {
        h.attemptedIncrs++;
        const r = await c.call("INCR", "counter");
        if (r.t !== ":") throw new Error(`INCR failed: ${show(r)}`);
        h.ackedIncrs++;
        h.answered++;
      } else {
        // Each window slot writes larger values; the register ends at least at the largest acked.
        reg.attempted = Math.max(reg.attempted, n);
        if (show(await c.call("SET", `reg:${id}`, String(n))) !== "+OK") throw new Error("SET reg failed");
        reg.acked = Math.max(reg.acked, n);
        h.answered++;
      }
    }
  };
  // The server going away rejects the calls in flight: their outcome is unknown, which is fine.
  await Promise.allSettled(Array.from({ length: WINDOW }, one));
  c.close();
}

async function verify(node: FlyDBProcess, h: History): Promise<Map<string, string>> {
  const c = await RespClient.connect(node.port);
  try {
    const keys = [...h.acked.keys()];
    const got = await Promise.all(keys.map((k) => c.call("GET", k)));
    const missing = keys.filter((k, i) => show(got[i]!) !== show({ t: "$", v: Buffer.from(h.acked.get(k)!) } as Wire));
    expect(missing.slice(0, 5)).toEqual([]);
    const counter = await c.call("GET", "counter");
    const n = counter.t === "$" ? Number(counter.v.toString()) : 0;
    expect(n).toBeGreaterThanOrEqual(h.ackedIncrs);
    expect(n).toBeLessThanOrEqual(h.attemptedIncrs);
    for (let id = 0; id < WRITERS; id++) {
      const r = await c.call("GET", `reg:${id}`);
      const v = r.t === "$" ? Number(r.v.toString()) : -1;
      expect(v).toBeGreaterThanOrEqual(h.registers[id]!.acked);
      expect(v).toBeLessThanOrEqual(h.registers[id]!.attempted);
    }
    // The whole keyspace, to compare against after the next restart.
    const all = await c.call("KEYS", "*");
    if (all.t !== "*") throw new Error(`KEYS failed: ${show(all)}`);
    const names = all.v.map((k) => (k as { v: Buffer }).v.toString());
    const values = await Promise.all(names.map((k) => c.call("GET", k)));
    return new Map(names.map((k, i) => [k, show(values[i]!)]));
  } finally {
    c.close();
  }
}

describe("durability", () => {
  const dataDir = join(tempDir("durability"), "data");
  const started: FlyDBProcess[] = [];
  afterAll(async () => {
    for (const n of started) await n.stop();
    rmSync(join(dataDir, ".."), { recursive: true, force: true });
  });

  test("every acknowledged write survives kill -9, and data.db is rebuilt from the log", async () => {
    const h: History = {
      acked: new Map(),
      ackedIncrs: 0,
      attemptedIncrs: 0,
      sent: 0,
      answered: 0,
      registers: Array.from({ length: WRITERS }, () => ({ acked: -1, attempted: -1 })),
    };
    const first = await startFlyDB({ dataDir, nodeId: "durable", args: ["--fsync", "always"] });
    started.push(first);
    let crashed = false;
    const writers = Array.from({ length: WRITERS }, (_, id) => writer(first.port, id, h, () => crashed));
    const t0 = Date.now();
    while (h.acked.size * 3 < CRASH_AFTER_ACKS && Date.now() - t0 < CRASH_AFTER_MS) await Bun.sleep(10);
    // Mid-stream: every writer has requests in flight right now.
    await first.kill9();
    crashed = true;
    await Promise.all(writers);
    expect(h.acked.size).toBeGreaterThan(50);
    expect(h.sent).toBeGreaterThan(h.answered);
    console.log(`durability: ${h.answered} writes acknowledged, ${h.sent - h.answered} in flight at kill -9`);

    // Restart on the same data dir: raft.db is the truth, data.db is caught up from it.
    const second = await startFlyDB({ dataDir, nodeId: "durable", port: first.port, httpPort: first.httpPort });
    started.push(second);
    const state = await verify(second, h);
    await second.kill9();

    // Lose data.db entirely: the log alone must rebuild the same state.
    for (const f of ["data.db", "data.db-wal", "data.db-shm"]) rmSync(join(dataDir, f), { force: true });
    expect(existsSync(join(dataDir, "raft.db"))).toBe(true);
    const third = await startFlyDB({ dataDir, nodeId: "durable" });
    started.push(third);
    const rebuilt = await verify(third, h);
    expect(rebuilt.size).toBe(state.size);
    for (const [k, v] of state) if (rebuilt.get(k) !== v) expect(`${k}=${rebuilt.get(k)}`).toBe(`${k}=${v}`);
    expect(await third.stop()).toBe(0);
  }, 60_000);
});
