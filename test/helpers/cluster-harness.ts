// FlyDB nodes as real processes, one per network namespace (see netns.ts), plus one extra
// namespace on the same bridge for clients. Every node uses the default ports on its own address
// (RESP 6380, HTTP 8080, gossip 7946, raft 7947), its own data dir and its own log file. The test
// process cannot reach namespace addresses itself, so every probe (curl, redis-cli) runs inside a
// namespace through `ip netns exec`.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { formatHostPort, parseHostPort } from "../../src/net/hostport.ts";
import { createNetns, type Netns, type NsHost } from "./netns.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

export const PORTS = { resp: 6380, http: 8080, gossip: 7946, raft: 7947 } as const;

export interface FlyNode {
  /** Node id, n1..nN (passed as --node-id in cluster mode). */
  readonly id: string;
  readonly host: NsHost;
  /** "ip:port" of each listener. */
  readonly resp: string;
  readonly http: string;
  readonly gossip: string;
  readonly raft: string;
  readonly dataDir: string;
  /** Output of every start of this node, appended. */
  readonly logPath: string;
  /** The flags this node starts with (every restart uses the same ones). */
  readonly args: string[];
  /** The running process, if any. */
  proc: Subprocess | undefined;
  /** How many times it was started. */
  starts: number;
}

export type RespValue = string | number | null | RespValue[] | { error: string };

export type RedisOutcome =
  | { kind: "reply"; value: Exclude<RespValue, { error: string }> }
  | { kind: "error"; message: string }
  | { kind: "unreachable"; message: string }
  | { kind: "timeout" };

export interface RedisOptions {
  /** Namespace the client runs in (default: the client namespace). */
  from?: string;
  timeoutMs?: number;
  /** redis-cli -c: follow MOVED/ASK. */
  cluster?: boolean;
}

/** One entry of CLUSTER SLOTS: a slot range, its master's and replicas' RESP addresses. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: string;
  readonly replicas: readonly string[];
}

export interface HarnessOptions {
  /** Number of FlyDB nodes; one more namespace is made for clients. */
  nodes: number;
  /** "standalone": independent nodes. "cluster": n1 --bootstrap, the others --peers n1. */
  mode: "standalone" | "cluster";
  /** Cluster mode only (default 16: fewer groups, faster tests). */
  partitionCount?: number;
  /** Extra flags per node. */
  extraArgs?: (index: number) => string[];
}

export interface Harness {
  readonly net: Netns;
  readonly nodes: readonly FlyNode[];
  /** Namespace on the same bridge with no node in it, for clients and workloads. */
  readonly client: NsHost;
  /** The command that starts a node: dist/flydb when it is newer than the sources, else bun cli/flydb.ts. */
  readonly command: readonly string[];
  /**
   * Spawn the node's process (it must not be running), with `env` added to its environment (e.g. a
   * test-only clock offset); wait for /health, /ready or nothing.
   */
  start(
    node: FlyNode,
    opts?: { wait?: "health" | "ready" | "none"; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<void>;
  /** Start every node at once and wait until all are ready. */
  startAll(opts?: { timeoutMs?: number }): Promise<void>;
  /** SIGKILL by PID and wait for the process to be gone. */
  kill9(node: FlyNode): Promise<void>;
  /** SIGTERM, wait up to 10 s (then SIGKILL); resolves to the exit code. */
  stop(node: FlyNode): Promise<number | null>;
  /** Stop it if running (SIGTERM), then start it again and wait for /ready. */
  restart(node: FlyNode, opts?: { wait?: "health" | "ready" | "none"; timeoutMs?: number }): Promise<void>;
  isRunning(node: FlyNode): boolean;
  waitHealthy(node: FlyNode, timeoutMs?: number): Promise<void>;
  waitReady(node: FlyNode, timeoutMs?: number): Promise<void>;
  /** One command through redis-cli --json in a namespace; throws unless it gets a non-error reply. */
  redis(node: FlyNode, ...args: string[]): Promise<Exclude<RespValue, { error: string }>>;
  /** Same, reporting every outcome instead of throwing. */
  redisTry(node: FlyNode, args: readonly string[], opts?: RedisOptions): Promise<RedisOutcome>;
  /**
   * Many commands through one redis-cli process (commands on its stdin, one connection, run in
   * order): far cheaper than one process per command. Commands after a lost connection or the
   * timeout come back as "unreachable" or "timeout".
   */
  redisBatch(node: FlyNode, commands: readonly (readonly string[])[], opts?: RedisOptions): Promise<RedisOutcome[]>;
  /** HTTP through curl in a namespace (default: the client namespace). status 0: no answer. */
  http(
    node: FlyNode,
    path: string,
    opts?: { method?: string; body?: string; from?: string; timeoutMs?: number },
  ): Promise<{ status: number; body: string }>;
  /** CLUSTER SLOTS through `node`, sorted by start slot. */
  clusterSlots(node: FlyNode): Promise<SlotRange[]>;
  /** The node CLUSTER SLOTS (asked through `via`, default the first running node) names master of the key's slot. */
  leaderFor(key: string, via?: FlyNode): Promise<FlyNode>;
  /** The node whose RESP address is `addr` ("ip:port"). */
  byResp(addr: string): FlyNode;
  /** Last lines of a node's log, for failure messages. */
  logTail(node: FlyNode, lines?: number): string;
  destroy(): Promise<void>;
}

/** Polls an async condition until it yields a value other than undefined/false. */
export async function waitUntil<T>(
  cond: () => Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await Bun.sleep(intervalMs);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** A stale binary would test old code: use dist/flydb only when it is newer than src/ and cli/. */
export function flydbCommand(): string[] {
  const bin = join(ROOT, "dist/flydb");
  try {
    const built = statSync(bin).mtimeMs;
    if (built >= Math.max(newestMtime(join(ROOT, "src")), newestMtime(join(ROOT, "cli")))) return [bin];
  } catch {
    // not built
  }
  return [process.execPath, join(ROOT, "cli/flydb.ts")];
}

/** redis-cli --json -2 prints one JSON value, or `error:"…"` for an error reply. */
export function parseRedisCliJson(stdout: string): RespValue {
  const text = stdout.trim();
  if (text.startsWith("error:")) return { error: JSON.parse(text.slice("error:".length)) as string };
  return JSON.parse(text) as RespValue;
}

export function isErrorReply(v: RespValue): v is { error: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `count` keys named `${prefix}<n>` that fall into `count` different partitions (count ≤ partitionCount). */
export function keysInDistinctPartitions(count: number, partitionCount: number, prefix: string): string[] {
  if (count > partitionCount) throw new Error(`cannot spread ${count} keys over ${partitionCount} partitions`);
  const seen = new Set<number>();
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const key = `${prefix}${n}`;
    const p = partitionOf(keySlot(new TextEncoder().encode(key)), partitionCount);
    if (seen.has(p)) continue;
    seen.add(p);
    keys.push(key);
  }
  return keys;
}

/** Parses CLUSTER SLOTS (RESP2 via redis-cli --json): [[start, end, [ip, port, id?], …replicas], …]. */
export function parseClusterSlots(value: RespValue): SlotRange[] {
  if (!Array.isArray(value)) throw new Error(`CLUSTER SLOTS: expected an array, got ${JSON.stringify(value)}`);
  const addr = (n: RespValue) => {
    if (!Array.isArray(n) || typeof n[0] !== "string" || typeof n[1] !== "number")
      throw new Error(`CLUSTER SLOTS: bad node entry ${JSON.stringify(n)}`);
    return `${n[0]}:${n[1]}`;
  };
  return value
    .map((r) => {
      if (!Array.isArray(r) || typeof r[0] !== "number" || typeof r[1] !== "number" || r.length < 3)
        throw new Error(`CLUSTER SLOTS: bad range ${JSON.stringify(r)}`);
      return { start: r[0], end: r[1], master: addr(r[2]!), replicas: r.slice(3).map(addr) };
    })
    .sort((a, b) => a.start - b.start);
}

export function createHarness(opts: HarnessOptions): Harness {
  const net = createNetns(opts.nodes + 1);
  const client = net.hosts[opts.nodes]!;
  const command = flydbCommand();
  const baseDir = mkdtempSync(join(tmpdir(), `fly-ct-${process.pid}-`));
  const partitionCount = opts.partitionCount ?? 16;
  const hostPort = (h: NsHost, port: number) => formatHostPort(h.address, port);

  const nodes: FlyNode[] = net.hosts.slice(0, opts.nodes).map((host, i) => {
    const id = `n${i + 1}`;
    const dataDir = join(baseDir, id);
    mkdirSync(dataDir, { recursive: true });
    const resp = hostPort(host, PORTS.resp);
    const http = hostPort(host, PORTS.http);
    const gossip = hostPort(host, PORTS.gossip);
    const raft = hostPort(host, PORTS.raft);
    const args = ["--bind-addr", resp, "--http-addr", http, "--data-dir", dataDir, "--node-id", id];
    // Clients reach the nodes from another namespace without a password: protected mode would refuse them.
    args.push("--no-protected-mode");
    if (opts.mode === "cluster") {
      args.push(
        "--cluster-addr",
        gossip,
        "--raft-addr",
        raft,
        "--advertise-addr",
        host.address,
        "--partition-count",
        String(partitionCount),
      );
      if (i === 0) args.push("--bootstrap");
      else args.push("--peers", hostPort(net.hosts[0]!, PORTS.gossip));
    }
    args.push(...(opts.extraArgs?.(i) ?? []));
    return {
      id,
      host,
      resp,
      http,
      gossip,
      raft,
      dataDir,
      logPath: join(baseDir, `${id}.log`),
      args,
      proc: undefined,
      starts: 0,
    };
  });

  const isRunning = (node: FlyNode) =>
    node.proc !== undefined && node.proc.exitCode === null && node.proc.signalCode === null;

  const logTail = (node: FlyNode, lines = 30) => {
    try {
      return readFileSync(node.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };

  const http: Harness["http"] = async (node, path, o) => {
    const timeoutMs = o?.timeoutMs ?? 2_000;
    const cmd = [
      "curl",
      "-s",
      "-m",
      String(timeoutMs / 1000),
      "-o",
      "-",
      "-w",
      "\n%{http_code}",
      "-X",
      o?.method ?? "GET",
    ];
    if (o?.body !== undefined) cmd.push("--data-binary", o.body, "-H", "content-type: application/json");
    cmd.push(`http://${node.http}${path}`);
    const r = await net.exec(o?.from ?? client.ns, cmd, { timeoutMs: timeoutMs + 2_000 });
    const nl = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(nl + 1)) || 0, body: r.stdout.slice(0, Math.max(nl, 0)) };
  };

  const waitStatus = async (node: FlyNode, path: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last = { status: 0, body: "" };
    while (Date.now() < deadline) {
      if (!isRunning(node))
        throw new Error(
          `${node.id} exited (${node.proc?.exitCode ?? node.proc?.signalCode}) before ${path} answered 200; log:\n${logTail(node)}`,
        );
      last = await http(node, path, { from: node.host.ns, timeoutMs: 1_000 });
      if (last.status === 200) return;
      await Bun.sleep(100);
    }
    throw new Error(
      `${node.id} ${path} not 200 after ${timeoutMs} ms (last: ${last.status} ${last.body}); log:\n${logTail(node)}`,
    );
  };
  const waitHealthy = (node: FlyNode, timeoutMs = 15_000) => waitStatus(node, "/health", timeoutMs);
  const waitReady = (node: FlyNode, timeoutMs = 30_000) => waitStatus(node, "/ready", timeoutMs);

  const start: Harness["start"] = async (node, o) => {
    if (isRunning(node)) throw new Error(`${node.id} is already running (pid ${node.proc?.pid})`);
    const fd = openSync(node.logPath, "a");
    try {
      const [bin, ...pre] = command;
      node.proc = net.spawn(node.host.ns, [bin!, ...pre, ...node.args], {
        stdout: fd,
        stderr: fd,
        cwd: node.dataDir,
        env: o?.env,
      });
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    node.starts++;
    const wait = o?.wait ?? "ready";
    if (wait === "health") await waitHealthy(node, o?.timeoutMs);
    if (wait === "ready") await waitReady(node, o?.timeoutMs);
  };

  const kill9 = async (node: FlyNode) => {
    const p = node.proc;
    if (!p || !isRunning(node)) return;
    p.kill("SIGKILL");
    await p.exited;
  };

  const stop = async (node: FlyNode) => {
    const p = node.proc;
    if (!p) return null;
    if (isRunning(node)) {
      p.kill("SIGTERM");
      const done = await Promise.race([p.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!done) {
        p.kill("SIGKILL");
        await p.exited;
      }
    }
    return p.exitCode;
  };

  const redisTry: Harness["redisTry"] = async (node, args, o) => {
    const { host, port } = parseHostPort(node.resp);
    const cmd = ["redis-cli", "-h", host, "-p", String(port), "--json", "-2", ...(o?.cluster ? ["-c"] : []), ...args];
    const r = await net.exec(o?.from ?? client.ns, cmd, { timeoutMs: o?.timeoutMs ?? 5_000 });
    if (r.timedOut) return { kind: "timeout" };
    // redis-cli prints connection failures on stderr (stdout empty) and exits 1.
    if (r.stdout.trim() === "") return { kind: "unreachable", message: `${r.stderr.trim()} (exit ${r.code})` };
    const v = parseRedisCliJson(r.stdout);
    return isErrorReply(v) ? { kind: "error", message: v.error } : { kind: "reply", value: v };
  };

  const redisBatch: Harness["redisBatch"] = async (node, commands, o) => {
    const { host, port } = parseHostPort(node.resp);
    const quote = (a: string) => `"${a.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
    const input = `${commands.map((c) => c.map(quote).join(" ")).join("\n")}\n`;
    const cmd = ["redis-cli", "-h", host, "-p", String(port), "--json", "-2", ...(o?.cluster ? ["-c"] : [])];
    const r = await net.exec(o?.from ?? client.ns, cmd, { timeoutMs: o?.timeoutMs ?? 10_000, stdin: input });
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    return commands.map((_, i): RedisOutcome => {
      const line = lines[i];
      if (line === undefined)
        return r.timedOut
          ? { kind: "timeout" }
          : { kind: "unreachable", message: `${r.stderr.trim()} (exit ${r.code})` };
      const v = parseRedisCliJson(line);
      return isErrorReply(v) ? { kind: "error", message: v.error } : { kind: "reply", value: v };
    });
  };

  const redis: Harness["redis"] = async (node, ...args) => {
    const r = await redisTry(node, args);
    if (r.kind === "reply") return r.value;
    throw new Error(`${node.id} ${args.join(" ")}: ${r.kind}${"message" in r ? ` ${r.message}` : ""}`);
  };

  const clusterSlots = async (node: FlyNode) => parseClusterSlots(await redis(node, "CLUSTER", "SLOTS"));

  const byResp = (addr: string) => {
    const n = nodes.find((x) => x.resp === addr);
    if (!n) throw new Error(`no node has RESP address ${addr} (have ${nodes.map((x) => x.resp).join(", ")})`);
    return n;
  };

  return {
    net,
    nodes,
    client,
    command,
    start,
    startAll: async (o) => {
      // The bootstrap node first, so the others find someone to join.
      await start(nodes[0]!, { wait: opts.mode === "cluster" ? "ready" : "health", timeoutMs: o?.timeoutMs });
      await Promise.all(nodes.slice(1).map((n) => start(n, { wait: "health", timeoutMs: o?.timeoutMs })));
      await Promise.all(nodes.map((n) => waitReady(n, o?.timeoutMs)));
    },
    kill9,
    stop,
    restart: async (node, o) => {
      await stop(node);
      await start(node, o);
    },
    isRunning,
    waitHealthy,
    waitReady,
    redis,
    redisTry,
    redisBatch,
    http,
    clusterSlots,
    leaderFor: async (key, via) => {
      const asked = via ?? nodes.find(isRunning);
      if (!asked) throw new Error("leaderFor: no node is running");
      const slot = keySlot(new TextEncoder().encode(key));
      const range = (await clusterSlots(asked)).find((r) => r.start <= slot && slot <= r.end);
      if (!range) throw new Error(`leaderFor: slot ${slot} of ${key} is in no CLUSTER SLOTS range of ${asked.id}`);
      return byResp(range.master);
    },
    byResp,
    logTail,
    destroy: async () => {
      await net.destroy();
      rmSync(baseDir, { recursive: true, force: true });
    },
  };
}

/** Gaps, overlaps and out-of-range slots in a CLUSTER SLOTS answer; empty when it covers 0–16383 exactly once. */
export function slotCoverageProblems(ranges: readonly SlotRange[]): string[] {
  const problems: string[] = [];
  let next = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    if (r.start > next) problems.push(`slots ${next}-${r.start - 1} uncovered`);
    if (r.start < next) problems.push(`slots ${r.start}-${Math.min(r.end, next - 1)} covered twice`);
    if (r.end < r.start) problems.push(`range ${r.start}-${r.end} is reversed`);
    next = Math.max(next, r.end + 1);
  }
  if (next < 16384) problems.push(`slots ${next}-16383 uncovered`);
  if (next > 16384) problems.push(`slots beyond 16383 (up to ${next - 1})`);
  return problems;
}

/** The fields of /cluster/status (src/http/cluster-status.ts) the tests read. */
export interface ClusterStatusView {
  cluster_id: string;
  metadata_leader: string | null;
  map_version: number;
  members: { id: string; state: string; addresses: { resp: string; http: string; raft: string; gossip: string } }[];
  partitions: {
    total: number;
    healthy: number;
    under_replicated: number;
    leaderless: number;
    leaders_per_node: Record<string, number>;
  };
}

export async function clusterStatus(h: Harness, node: FlyNode): Promise<ClusterStatusView> {
  const r = await h.http(node, "/cluster/status");
  if (r.status !== 200) throw new Error(`${node.id} /cluster/status answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as ClusterStatusView;
}

/** The node that leads group 0, as /cluster/status of the first running node reports it. */
export async function metadataLeader(h: Harness): Promise<FlyNode> {
  const via = h.nodes.find((n) => h.isRunning(n));
  if (!via) throw new Error("metadataLeader: no node is running");
  const s = await clusterStatus(h, via);
  const node = h.nodes.find((n) => n.id === s.metadata_leader);
  if (!node) throw new Error(`metadataLeader: ${via.id} reports metadata_leader ${JSON.stringify(s.metadata_leader)}`);
  return node;
}

/**
 * Cluster mode: wait until every running node answers /ready 200 and reports, in
 * /cluster/status, every running node as an alive member, the same metadata leader, and every
 * partition led and fully replicated; and all of that held, with the same map version and
 * leaders, for `stableMs` (replicas still moving or leaders still being spread would otherwise
 * pass for settled). Returns the status seen by the first running node.
 */
export async function waitClusterSettled(h: Harness, timeoutMs = 30_000, stableMs = 1_000): Promise<ClusterStatusView> {
  const running = h.nodes.filter((n) => h.isRunning(n));
  await Promise.all(running.map((n) => h.waitReady(n, timeoutMs)));
  let last = "";
  let since = 0;
  let stableKey = "";
  try {
    return await waitUntil(
      async () => {
        const [views, ready] = await Promise.all([
          Promise.all(running.map((n) => clusterStatus(h, n))),
          Promise.all(running.map((n) => h.http(n, "/ready").then((r) => r.status === 200))),
        ]);
        last = JSON.stringify(
          views.map((v) => ({
            leader: v.metadata_leader,
            map: v.map_version,
            members: v.members.map((m) => `${m.id}:${m.state}`),
            partitions: v.partitions,
          })),
        );
        const settled =
          ready.every(Boolean) &&
          views.every(
            (v) =>
              v.metadata_leader !== null &&
              v.metadata_leader === views[0]!.metadata_leader &&
              v.map_version === views[0]!.map_version &&
              running.every((n) => v.members.some((m) => m.id === n.id && m.state === "alive")) &&
              v.partitions.leaderless === 0 &&
              v.partitions.under_replicated === 0,
          );
        if (!settled) {
          stableKey = "";
          return undefined;
        }
        const key = JSON.stringify([
          views[0]!.map_version,
          views[0]!.metadata_leader,
          views[0]!.partitions.leaders_per_node,
        ]);
        if (key !== stableKey) {
          stableKey = key;
          since = Date.now();
        }
        return Date.now() - since >= stableMs ? views[0] : undefined;
      },
      timeoutMs,
      `the cluster to settle for ${stableMs} ms (all running nodes ready and alive members, one metadata leader and map version, every partition led and fully replicated)`,
      200,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last statuses: ${last}`);
  }
}
