// A bounded concurrent client workload, run inside a network namespace by workload.ts:
//   ip netns exec NS bun test/helpers/workload-client.ts '<WorkloadConfig as JSON>'
// `clients` connections each issue one command at a time (GET/SET on register keys, GET/INCR on
// counter keys) against the target nodes, and every operation is recorded: invocation time,
// completion time, outcome. A write that times out, loses its connection or gets an error reply
// is "unknown" (it may have been applied), except an error whose code promises the write was not
// applied (the codes clients resend on: src/cluster/core/write-outcome.ts), which is "fail", as is
// a read that fails: it changed nothing, and the checker holds the cluster to that.
// After any failure the client drops its connection and moves to the next target, as a client
// would fail over. It stops after maxOps operations, after maxMs, or on SIGTERM (operations in
// flight finish first), then writes the history as JSON lines to historyPath and prints a
// one-line JSON summary.
import { RESENT_BY_CLIENTS } from "../../src/cluster/core/write-outcome.ts";
import { seededRandom } from "../../src/lib/prng.ts";
import { parseHostPort } from "../../src/net/hostport.ts";
import { Socket } from "node:net";
import { writeFileSync } from "node:fs";

export interface WorkloadConfig {
  /** RESP addresses "ip:port"; client i starts at targets[i % targets.length]. */
  targets: string[];
  clients: number;
  registerKeys: string[];
  counterKeys: string[];
  maxOps: number;
  maxMs: number;
  /**
   * Operations issued before maxMs ends the run (default 0): on a loaded machine the run goes on
   * past maxMs, at most MIN_OPS_GRACE_MS, until this many were issued, so a test's checks of what
   * the operations did do not depend on the machine's speed.
   */
  minOps?: number;
  opTimeoutMs: number;
  historyPath: string;
  /** Pause of each client after each operation (default 0): bounds the rate, and the history size. */
  thinkMs?: number;
  /** Share of operations that are reads (default 0.5). */
  readRatio?: number;
  seed?: number;
  /**
   * One more client writes TTL keys (a fresh key `${ttlPrefix}<n>` per write, PX 150–600 ms) and
   * reads each through random targets until it was read expired three times: records of model
   * "ttl", judged by ttlViolations (workload.ts), not by the linearizability check.
   */
  ttlPrefix?: string;
}

/** How far past maxMs a run may go to reach minOps; under workload.ts's kill at maxMs + 15 s. */
const MIN_OPS_GRACE_MS = 10_000;

export type OpStatus = "ok" | "fail" | "unknown";

/** A write's error reply: "fail" when its code says it was not applied, else "unknown". */
export const writeErrorStatus = (error: string): OpStatus =>
  RESENT_BY_CLIENTS.has(error.split(" ", 1)[0]!) ? "fail" : "unknown";

export interface OpRecord {
  client: number;
  key: string;
  model: "register" | "counter" | "ttl";
  op: "get" | "set" | "incr";
  /** The value a SET wrote. */
  value?: string;
  /** Epoch ms (sub-ms precision) when the command was sent. */
  call: number;
  /** Epoch ms when the reply arrived; null when the outcome is unknown or failed. */
  ret: number | null;
  status: OpStatus;
  /** GET: the string or null; SET: "OK"; INCR: the new value. */
  out?: string | number | null;
  error?: string;
  target: string;
}

export interface WorkloadSummary {
  ops: number;
  ok: number;
  fail: number;
  unknown: number;
  elapsedMs: number;
  byTarget: Record<string, { ok: number; fail: number; unknown: number }>;
}

type Reply = string | number | null | Reply[] | { error: string };

const now = () => performance.timeOrigin + performance.now();

/** Parses one RESP2 reply from buf at pos; undefined when incomplete. */
function parseReply(buf: Buffer, pos: number): { value: Reply; end: number } | undefined {
  const nl = buf.indexOf("\r\n", pos);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString("utf8", pos + 1, nl);
  switch (type) {
    case "+":
      return { value: line, end: nl + 2 };
    case "-":
      return { value: { error: line }, end: nl + 2 };
    case ":":
      return { value: Number(line), end: nl + 2 };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: nl + 2 };
      if (buf.length < nl + 2 + len + 2) return undefined;
      return { value: buf.toString("utf8", nl + 2, nl + 2 + len), end: nl + 2 + len + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: nl + 2 };
      const items: Reply[] = [];
      let at = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (!r) return undefined;
        items.push(r.value);
        at = r.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

function encode(args: readonly string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/** One connection with at most one command in flight. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private closedWith: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      const r = parseReply(this.buf, 0);
      if (!r || !this.pending) return;
      this.buf = this.buf.subarray(r.end);
      const p = this.pending;
      this.pending = undefined;
      p.resolve(r.value);
    });
    const fail = (e: Error) => {
      this.closedWith ??= e;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
  }

  static open(addr: string, timeoutMs: number): Promise<Conn> {
    const { host, port } = parseHostPort(addr);
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${addr} timed out`));
      }, timeoutMs);
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.connect(port, host, () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.setNoDelay(true);
        resolve(new Conn(socket));
      });
    });
  }

  command(args: readonly string[], timeoutMs: number): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(encode(args));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function runWorkload(cfg: WorkloadConfig): Promise<{ records: OpRecord[]; summary: WorkloadSummary }> {
  const keys = [
    ...cfg.registerKeys.map((k) => ({ key: k, model: "register" as const })),
    ...cfg.counterKeys.map((k) => ({ key: k, model: "counter" as const })),
  ];
  if (keys.length === 0 || cfg.targets.length === 0 || cfg.clients < 1)
    throw new Error("workload: need keys, targets and at least one client");
  const readRatio = cfg.readRatio ?? 0.5;
  const random = seededRandom(cfg.seed ?? 1);
  const records: OpRecord[] = [];
  const started = now();
  let issued = 0;
  let stopRequested = false;
  process.on("SIGTERM", () => (stopRequested = true));
  const more = () => {
    const ms = now() - started;
    const wanted = ms < cfg.maxMs || (issued < (cfg.minOps ?? 0) && ms < cfg.maxMs + MIN_OPS_GRACE_MS);
    return !stopRequested && issued < cfg.maxOps && wanted;
  };

  const client = async (id: number) => {
    let target = id % cfg.targets.length;
    let conn: Conn | undefined;
    let seq = 0;
    while (more()) {
      const addr = cfg.targets[target]!;
      if (!conn) {
        try {
          conn = await Conn.open(addr, cfg.opTimeoutMs);
        } catch {
          target = (target + 1) % cfg.targets.length;
          await Bun.sleep(50);
          continue;
        }
      }
      if (!more()) break;
      issued++;
      const { key, model } = keys[Math.floor(random() * keys.length)]!;
      const read = random() < readRatio;
      const op: OpRecord["op"] = read ? "get" : model === "register" ? "set" : "incr";
      const value = op === "set" ? `${id}-${seq++}` : undefined;
      const args = op === "get" ? ["GET", key] : op === "set" ? ["SET", key, value!] : ["INCR", key];
      const rec: OpRecord = { client: id, key, model, op, call: now(), ret: null, status: "unknown", target: addr };
      if (value !== undefined) rec.value = value;
      try {
        const reply = await conn.command(args, cfg.opTimeoutMs);
        if (typeof reply === "object" && reply !== null && !Array.isArray(reply)) {
          rec.error = reply.error;
          rec.status = read ? "fail" : writeErrorStatus(reply.error);
        } else {
          rec.ret = now();
          rec.status = "ok";
          rec.out = reply as string | number | null;
        }
      } catch (e) {
        rec.error = e instanceof Error ? e.message : String(e);
        rec.status = read ? "fail" : "unknown";
      }
      records.push(rec);
      if (cfg.thinkMs) await Bun.sleep(cfg.thinkMs);
      if (rec.status !== "ok") {
        conn.close();
        conn = undefined;
        target = (target + 1) % cfg.targets.length;
      }
    }
    conn?.close();
  };

  // Every TTL operation on a fresh connection to a random target, as different clients would.
  const ttlOp = async (id: number, key: string, args: string[]): Promise<OpRecord> => {
    const addr = cfg.targets[Math.floor(random() * cfg.targets.length)]!;
    const op = args[0] === "SET" ? "set" : "get";
    const rec: OpRecord = {
      client: id,
      key,
      model: "ttl",
      op,
      call: now(),
      ret: null,
      status: "unknown",
      target: addr,
    };
    let conn: Conn | undefined;
    try {
      conn = await Conn.open(addr, cfg.opTimeoutMs);
      rec.call = now();
      const reply = await conn.command(args, cfg.opTimeoutMs);
      if (typeof reply === "object" && reply !== null && !Array.isArray(reply)) {
        rec.error = reply.error;
        rec.status = op === "get" ? "fail" : writeErrorStatus(reply.error);
      } else {
        rec.ret = now();
        rec.status = "ok";
        rec.out = reply as string | null;
      }
    } catch (e) {
      rec.error = e instanceof Error ? e.message : String(e);
      rec.status = op === "get" ? "fail" : "unknown";
    }
    conn?.close();
    return rec;
  };
  const ttlClient = async (id: number, prefix: string) => {
    for (let n = 0; more(); n++) {
      const key = `${prefix}${n}`;
      const set = await ttlOp(id, key, ["SET", key, "v", "PX", String(Math.round(150 + random() * 450))]);
      records.push(set);
      if (set.status !== "ok") continue;
      let expiredSeen = 0;
      while (expiredSeen < 3 && more()) {
        const get = await ttlOp(id, key, ["GET", key]);
        records.push(get);
        if (get.status === "ok" && get.out === null) expiredSeen++;
        await Bun.sleep(random() * 60);
      }
    }
  };

  await Promise.all([
    ...Array.from({ length: cfg.clients }, (_, i) => client(i)),
    ...(cfg.ttlPrefix === undefined ? [] : [ttlClient(cfg.clients, cfg.ttlPrefix)]),
  ]);
  const byTarget: WorkloadSummary["byTarget"] = {};
  for (const r of records) {
    const t = (byTarget[r.target] ??= { ok: 0, fail: 0, unknown: 0 });
    t[r.status]++;
  }
  const summary: WorkloadSummary = {
    ops: records.length,
    ok: records.filter((r) => r.status === "ok").length,
    fail: records.filter((r) => r.status === "fail").length,
    unknown: records.filter((r) => r.status === "unknown").length,
    elapsedMs: now() - started,
    byTarget,
  };
  return { records, summary };
}

if (import.meta.main) {
  const cfg = JSON.parse(process.argv[2] ?? "") as WorkloadConfig;
  const { records, summary } = await runWorkload(cfg);
  writeFileSync(cfg.historyPath, `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
}
