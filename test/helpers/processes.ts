// Real server processes for integration tests and benchmarks: redis-server (the reference) and
// FlyDB, run from source (`bun cli/flydb.ts`) or as the compiled binary. Every process is tracked
// by PID and killed when the test process exits, even after a failed assertion.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePorts } from "./ports.ts";
import { answersPing } from "./raw-socket.ts";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const DIST_BINARY = join(REPO_ROOT, "dist", "flydb");

const live = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill(9);
});

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `flydb-e2e-${prefix}-`));
}

export interface ServerProcess {
  readonly port: number;
  readonly pid: number;
  readonly proc: Subprocess;
  /** Directory with the server's log (and, for redis-server, its files). */
  readonly dir: string;
  /** The server's stdout and stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after the grace period; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL (kill -9) and wait for the process to be gone. */
  kill9(): Promise<void>;
}

interface SpawnSpec {
  readonly cmd: string[];
  readonly port: number;
  readonly dir: string;
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly what: string;
  /** Removed when the process is stopped (temp dirs the helper created). */
  readonly cleanup: string[];
}

/** Thrown when the process exited before serving; `portTaken` when another process won the port race. */
class StartError extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

async function spawnServer(spec: SpawnSpec, readyTimeoutMs = 15_000): Promise<ServerProcess> {
  const logPath = join(spec.dir, `${spec.what.replace(/\W+/g, "-")}-${spec.port}.log`);
  const proc = Bun.spawn(spec.cmd, {
    cwd: spec.cwd ?? REPO_ROOT,
    env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...spec.env },
    stdin: "ignore",
    stdout: Bun.file(logPath),
    stderr: Bun.file(logPath),
  });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await answersPing(spec.port))) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const out = log();
      throw new StartError(
        `${spec.what} exited (${proc.exitCode ?? proc.signalCode}) before answering PING on ${spec.port}: ${spec.cmd.join(" ")}\n${out.slice(-2000)}`,
        /EADDRINUSE|address already in use|in use/i.test(out),
      );
    }
    if (Date.now() > deadline) {
      proc.kill(9);
      throw new StartError(
        `${spec.what} did not answer PING on ${spec.port} within ${readyTimeoutMs} ms\n${log().slice(-2000)}`,
        false,
      );
    }
    await Bun.sleep(25);
  }
  const cleanup = () => {
    for (const d of spec.cleanup) rmSync(d, { recursive: true, force: true });
  };
  return {
    port: spec.port,
    pid: proc.pid,
    proc,
    dir: spec.dir,
    log,
    async stop(graceMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill(9), graceMs);
        await proc.exited;
        clearTimeout(timer);
      }
      cleanup();
      return proc.exitCode;
    },
    async kill9() {
      proc.kill(9);
      await proc.exited;
    },
  };
}

/** Retries with fresh ports when another process took ours between probe and bind. */
async function withFreshPorts<T>(n: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = freePorts(n);
    try {
      return await start(ports);
    } catch (e) {
      if (!(e instanceof StartError && e.portTaken && attempt < 4)) throw e;
    }
  }
}

export interface RedisServerOptions {
  /** `--appendonly yes --appendfsync always`: the durable reference for write benchmarks. */
  readonly aofAlways?: boolean;
  /** Extra arguments, e.g. ["--requirepass", "pw"]. */
  readonly args?: string[];
}

/** A real redis-server on 127.0.0.1 with no persistence unless asked, in its own temp dir. */
export function startRedisServer(opts: RedisServerOptions = {}): Promise<ServerProcess> {
  return withFreshPorts(1, ([port]) => {
    const dir = tempDir("redis");
    const persistence = opts.aofAlways ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
    return spawnServer({
      cmd: [
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        ...persistence,
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        ...(opts.args ?? []),
      ],
      port: port!,
      dir,
      what: "redis-server",
      cleanup: [dir],
    });
  });
}

export interface FlyDBProcess extends ServerProcess {
  readonly httpPort: number;
  readonly dataDir: string;
  readonly http: string;
}

export interface FlyDBOptions {
  /** Extra flags, e.g. ["--requirepass", "s3cret"]. */
  readonly args?: string[];
  /** Reuse a data dir (restart tests); a temp one is made (and removed on stop) otherwise. */
  readonly dataDir?: string;
  /** "source": `bun cli/flydb.ts` (default); "dist": dist/flydb; or a path to a compiled binary. */
  readonly binary?: "source" | "dist" | string;
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Default e2e-<port>; a data dir remembers its node id, so restarts on one must pass it. */
  readonly nodeId?: string;
  /** Fixed ports, e.g. to restart on the same ones. */
  readonly port?: number;
  readonly httpPort?: number;
}

/** Starts FlyDB as a real child process on free loopback ports and waits until it answers PING. */
export function startFlyDB(opts: FlyDBOptions = {}): Promise<FlyDBProcess> {
  return withFreshPorts(2, async ([p1, p2]) => {
    const port = opts.port ?? p1!;
    const httpPort = opts.httpPort ?? p2!;
    const dir = tempDir("flydb");
    const dataDir = opts.dataDir ?? join(dir, "data");
    // process.execPath is the bun binary running the tests: the same bun `npx bun` would run,
    // without npx's wrapper process, so the PID we kill is the server's.
    const entry =
      opts.binary === undefined || opts.binary === "source"
        ? [process.execPath, join(REPO_ROOT, "cli", "flydb.ts")]
        : [opts.binary === "dist" ? DIST_BINARY : opts.binary];
    const cmd = [
      ...entry,
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--http-addr",
      `127.0.0.1:${httpPort}`,
      "--data-dir",
      dataDir,
      "--node-id",
      opts.nodeId ?? `e2e-${port}`,
      ...(opts.args ?? []),
    ];
    const server = await spawnServer({ cmd, port, dir, cwd: opts.cwd, env: opts.env, what: "flydb", cleanup: [dir] });
    return { ...server, httpPort, dataDir, http: `http://127.0.0.1:${httpPort}` };
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * dist/flydb as `npm run build` makes it. scripts/test.sh builds before the tests; a developer
 * running `bun test` alone gets a rebuild here when the binary is missing or older than the source.
 */
export function ensureBinary(): string {
  const sourceTime = Math.max(newestMtime(join(REPO_ROOT, "src")), newestMtime(join(REPO_ROOT, "cli")));
  if (existsSync(DIST_BINARY) && statSync(DIST_BINARY).mtimeMs >= sourceTime) return DIST_BINARY;
  const build = Bun.spawnSync(["npm", "run", "-s", "build"], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) {
    throw new Error(`npm run build failed (${build.exitCode}):\n${build.stdout.toString()}${build.stderr.toString()}`);
  }
  return DIST_BINARY;
}

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command-line tool (redis-cli, nc, the flydb binary …) to completion. */
export async function runTool(
  cmd: string[],
  opts: { stdin?: string | Uint8Array; cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  live.add(proc);
  const timer = setTimeout(() => proc.kill(9), opts.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  live.delete(proc);
  return { code, stdout, stderr };
}

export interface ClusterMemberProcess extends FlyDBProcess {
  readonly id: string;
  readonly gossip: number;
  readonly raft: number;
}

export interface ClusterMemberOptions {
  readonly id: string;
  /** Gossip port of a member to join; absent: bootstrap a new cluster (or rejoin, with dataDir). */
  readonly seed?: number;
  readonly partitions: number;
  readonly args?: string[];
  readonly binary?: FlyDBOptions["binary"];
  readonly env?: Record<string, string>;
  /** Restart on the same data dir and ports. */
  readonly restart?: {
    readonly dataDir: string;
    readonly resp: number;
    readonly http: number;
    readonly gossip: number;
    readonly raft: number;
  };
}

/** A cluster member as a real child process on loopback (kill -9 works on it). */
export async function startClusterMember(o: ClusterMemberOptions): Promise<ClusterMemberProcess> {
  const [gossip, raft] = o.restart ? [o.restart.gossip, o.restart.raft] : freePorts(2);
  const role = o.seed !== undefined ? ["--peers", `127.0.0.1:${o.seed}`] : o.restart ? [] : ["--bootstrap"];
  const proc = await startFlyDB({
    binary: o.binary,
    env: o.env,
    dataDir: o.restart?.dataDir,
    port: o.restart?.resp,
    httpPort: o.restart?.http,
    args: [
      "--node-id",
      o.id,
      "--cluster-addr",
      `127.0.0.1:${gossip}`,
      "--raft-addr",
      `127.0.0.1:${raft}`,
      "--partition-count",
      String(o.partitions),
      ...role,
      ...(o.args ?? []),
    ],
  });
  return { ...proc, id: o.id, gossip: gossip!, raft: raft! };
}

/** A sample's value from a member's Prometheus /metrics, e.g. `flydb_transport_frames_total{direction="out"}`. */
export async function metricValue(m: FlyDBProcess, series: string): Promise<number> {
  const text = await (await fetch(`${m.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`${m.http}/metrics has no series ${series}`);
  return Number(line.slice(series.length + 1));
}
