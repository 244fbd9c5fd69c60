// Network namespaces for tests (cluster, discovery, install): N hosts, each a namespace with one
// veth into a bridge that itself lives in an extra namespace, so nothing at all appears on the
// machine's own interfaces and every address is private to this set (multicast included: each
// host routes 224.0.0.0/4 to its veth). Faults are injected per host: the host's link goes down
// or up, netem drops a share of its packets, or blackhole routes drop what one host sends to
// another (partitions of any shape, asymmetric ones included); link() adds a second,
// point-to-point network between two hosts. destroy() kills whatever runs inside the namespaces (by PID) and deletes
// them; call it from afterAll.
import type { Subprocess } from "bun";

export interface NsHost {
  /** Namespace name, unique per process: fly-ct-<pid>-<n>. */
  readonly ns: string;
  /** The host's veth inside its namespace. */
  readonly iface: string;
  readonly address: string;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed at its timeout. */
  readonly timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  stdin?: string;
  env?: Record<string, string>;
  cwd?: string;
}

export type Stdio = "pipe" | "ignore" | "inherit" | number;

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** A file descriptor (e.g. from fs.openSync(log, "a")) keeps long-lived output off pipes nobody drains. */
  stdout?: Stdio;
  stderr?: Stdio;
  stdin?: "pipe" | "ignore";
}

export interface Netns {
  readonly hosts: readonly NsHost[];
  /** First three octets of the private /24, e.g. "10.231.17". */
  readonly subnet: string;
  host(ns: string): NsHost;
  /** Run a command inside a namespace to completion (killed at timeoutMs when given). */
  exec(ns: string, cmd: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Start a long-lived command inside a namespace (stdout and stderr piped unless told otherwise).
   * `ip netns exec` execs the command, so the child's PID is the command's own: kill it with
   * child.kill(), never by name. destroy() kills it if it still runs.
   */
  spawn(ns: string, cmd: readonly string[], opts?: SpawnOptions): Subprocess<"ignore" | "pipe", "pipe", "pipe">;
  /** A second, point-to-point network between two hosts (a LAN of two); returns each end. */
  link(a: NsHost, b: NsHost): Promise<[NsHost, NsHost]>;
  /** Take the host's interface down inside its namespace: it can reach no one and no one it. */
  linkDown(ns: string): Promise<void>;
  /** Bring it back, with the multicast route that going down removed. */
  linkUp(ns: string): Promise<void>;
  /**
   * Drop every packet `from` sends to `to`'s address (a blackhole route in from's namespace), one
   * way only: cut both ways for a partition between two hosts, one way for an asymmetric one.
   * Other pairs (the client namespace and each side, say) keep talking: partitions of any shape.
   */
  dropTo(from: string, to: NsHost): Promise<void>;
  /** Remove every route dropTo added. */
  healDrops(): Promise<void>;
  /** Whether `tc` is installed and the kernel has the netem qdisc; netemLoss throws otherwise. */
  readonly hasNetem: boolean;
  /** Drop `pct` percent of the host's outgoing packets (0 removes the qdisc). */
  netemLoss(ns: string, pct: number): Promise<void>;
  destroy(): Promise<void>;
}

const PREFIX = "fly-ct";
let created = 0;

export const isRoot = (): boolean => process.getuid?.() === 0;
/** Namespace tests may skip only on a developer machine without root; in CI they must run (and fail). */
export const skipNetns: boolean = !isRoot() && process.env.CI !== "true";

/** Environment for every process the tests start (see BRIEF: one msgpackr behaviour everywhere). */
function childEnv(extra?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...extra };
}

/**
 * Waits for carrier: node's os.networkInterfaces() (libuv) leaves out interfaces that are up
 * but not yet running, and a veth pair needs a moment after `link set up`.
 */
function waitRunning(ns: string, iface: string): void {
  for (let i = 0; i < 200; i++) {
    const r = Bun.spawnSync(["ip", "-n", ns, "-o", "link", "show", "dev", iface]);
    if (/[<,]LOWER_UP[,>]/.test(r.stdout.toString())) return;
    Bun.sleepSync(10);
  }
  throw new Error(`${iface} in ${ns} did not get carrier within 2 s`);
}

function ipSync(...args: string[]): string {
  const r = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

function pidsIn(ns: string): number[] {
  const r = Bun.spawnSync(["ip", "netns", "pids", ns], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return [];
  return r.stdout
    .toString()
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killAllIn(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function waitEmpty(ns: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pidsIn(ns).length > 0 && Date.now() < deadline) await Bun.sleep(20);
}

/**
 * Namespaces left by an earlier test process of this area that died before its afterAll (a
 * crashed or killed `bun test`): only names with our prefix whose creating PID is gone.
 */
function removeOrphans(): void {
  const list = Bun.spawnSync(["ip", "netns", "list"], { stdout: "pipe" }).stdout.toString();
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    killAllIn(name);
    Bun.spawnSync(["ip", "netns", "del", name]);
  }
}

/** tc may be installed while the kernel lacks sch_netem ("Specified qdisc kind is unknown"). */
function probeNetem(ns: string): boolean {
  if (Bun.which("tc") === null) return false;
  const add = Bun.spawnSync(
    ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "br0", "root", "netem", "loss", "0%"],
    { stderr: "pipe" },
  );
  if (add.exitCode !== 0) return false;
  Bun.spawnSync(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "br0", "root"]);
  return true;
}

export function createNetns(count: number): Netns {
  if (count < 1 || count > 200) throw new Error(`createNetns: count ${count} out of range 1..200`);
  removeOrphans();
  const tag = `${PREFIX}-${process.pid}`;
  const bridgeNs = `${tag}-${++created}`;
  // Nothing is routed on the host, so the /24 only has to be distinct within this set.
  const subnet = `10.231.${Math.floor(Math.random() * 250) + 1}`;
  const namespaces: string[] = [];
  const hosts: NsHost[] = [];
  const children = new Set<Subprocess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all([...children].map((c) => Promise.race([c.exited, Bun.sleep(2_000)]).catch(() => undefined)));
    // Anything else still inside (a grandchild, a process started by hand) would keep the
    // namespace alive after `ip netns del`: everything in these namespaces is ours.
    for (const ns of namespaces) killAllIn(ns);
    for (const ns of namespaces) await waitEmpty(ns, 2_000);
    for (const ns of [...namespaces].reverse()) Bun.spawnSync(["ip", "netns", "del", ns]);
  };

  try {
    ipSync("netns", "add", bridgeNs);
    namespaces.push(bridgeNs);
    ipSync("-n", bridgeNs, "link", "add", "br0", "type", "bridge");
    ipSync("-n", bridgeNs, "link", "set", "br0", "up");
    for (let i = 1; i <= count; i++) {
      const ns = `${tag}-${++created}`;
      ipSync("netns", "add", ns);
      namespaces.push(ns);
      // Both ends are created directly inside their namespaces: no interface ever shows on the host.
      ipSync("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", bridgeNs);
      ipSync("-n", bridgeNs, "link", "set", `p${i}`, "master", "br0");
      ipSync("-n", bridgeNs, "link", "set", `p${i}`, "up");
      const address = `${subnet}.${i}`;
      ipSync("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
      ipSync("-n", ns, "link", "set", "lo", "up");
      ipSync("-n", ns, "link", "set", "eth0", "up");
      ipSync("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
      hosts.push({ ns, iface: "eth0", address });
    }
    for (const h of hosts) waitRunning(h.ns, h.iface);
  } catch (e) {
    void destroy();
    throw e;
  }

  const host = (ns: string): NsHost => {
    const h = hosts.find((x) => x.ns === ns);
    if (!h) throw new Error(`unknown namespace ${ns} (have ${hosts.map((x) => x.ns).join(", ")})`);
    return h;
  };

  const spawn: Netns["spawn"] = (ns, cmd, opts) => {
    host(ns);
    if (destroyed) throw new Error(`spawn ${cmd.join(" ")} in ${ns}: namespaces already destroyed`);
    if (cmd.length === 0) throw new Error(`spawn in ${ns}: empty command`);
    const child = Bun.spawn(["ip", "netns", "exec", ns, ...cmd], {
      cwd: opts?.cwd,
      env: childEnv(opts?.env),
      stdin: opts?.stdin ?? "ignore",
      stdout: opts?.stdout ?? "pipe",
      stderr: opts?.stderr ?? "pipe",
    });
    children.add(child);
    void child.exited.then(() => children.delete(child));
    return child as Subprocess<"ignore" | "pipe", "pipe", "pipe">;
  };

  const exec: Netns["exec"] = async (ns, cmd, opts) => {
    const child = spawn(ns, cmd, {
      env: opts?.env,
      cwd: opts?.cwd,
      stdin: opts?.stdin === undefined ? "ignore" : "pipe",
    });
    if (opts?.stdin !== undefined) {
      const sink = child.stdin as import("bun").FileSink;
      sink.write(opts.stdin);
      await sink.end();
    }
    let timedOut = false;
    const timer =
      opts?.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    clearTimeout(timer);
    return { code: timedOut ? null : code, stdout, stderr, timedOut };
  };

  const must = async (ns: string, cmd: string[]): Promise<void> => {
    const r = await exec(ns, cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")} in ${ns} failed (${r.code}): ${r.stderr.trim()}`);
  };

  const hasNetem = probeNetem(bridgeNs);

  let links = 0;
  const link: Netns["link"] = async (a, b) => {
    links++;
    // Another /24 than the hosts' (nothing is routed on the machine, so only this set matters).
    const [o1, o2, o3] = subnet.split(".").map(Number) as [number, number, number];
    const net = `${o1}.${o2}.${((o3 - 1 + links) % 250) + 1}`;
    const [ia, ib] = [`x${links}a`, `x${links}b`];
    ipSync("-n", a.ns, "link", "add", ia, "type", "veth", "peer", "name", ib, "netns", b.ns);
    const ends: [NsHost, NsHost] = [
      { ns: a.ns, iface: ia, address: `${net}.1` },
      { ns: b.ns, iface: ib, address: `${net}.2` },
    ];
    for (const e of ends) {
      ipSync("-n", e.ns, "addr", "add", `${e.address}/24`, "dev", e.iface);
      ipSync("-n", e.ns, "link", "set", e.iface, "up");
    }
    for (const e of ends) waitRunning(e.ns, e.iface);
    return ends;
  };

  // "ns address" of each blackhole route dropTo added.
  const drops = new Set<string>();

  return {
    hosts,
    subnet,
    host,
    exec,
    spawn,
    link,
    linkDown: (ns) => must(ns, ["ip", "link", "set", host(ns).iface, "down"]),
    linkUp: async (ns) => {
      const h = host(ns);
      await must(ns, ["ip", "link", "set", h.iface, "up"]);
      await must(ns, ["ip", "route", "replace", "224.0.0.0/4", "dev", h.iface]);
    },
    dropTo: async (from, to) => {
      host(from);
      await must(from, ["ip", "route", "replace", "blackhole", `${to.address}/32`]);
      drops.add(`${from} ${to.address}`);
    },
    healDrops: async () => {
      for (const d of drops) {
        const [ns, address] = d.split(" ") as [string, string];
        await must(ns, ["ip", "route", "del", "blackhole", `${address}/32`]);
        drops.delete(d);
      }
    },
    hasNetem,
    netemLoss: async (ns, pct) => {
      if (!hasNetem) throw new Error("netemLoss: tc or the kernel's netem qdisc (sch_netem) is not available here");
      if (!(pct >= 0 && pct <= 100)) throw new Error(`netemLoss: pct ${pct} out of range 0..100`);
      const dev = host(ns).iface;
      if (pct === 0) {
        const r = await exec(ns, ["tc", "qdisc", "del", "dev", dev, "root"]);
        // "No such file or directory" / "Cannot delete qdisc with handle of zero": nothing installed.
        if (r.code !== 0 && !/No such file|handle of zero|Invalid handle/i.test(r.stderr)) {
          throw new Error(`tc qdisc del in ${ns} failed: ${r.stderr.trim()}`);
        }
        return;
      }
      await must(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "netem", "loss", `${pct}%`]);
    },
    destroy,
  };
}
