// A private LAN of network namespaces for tests that multicast: n hosts, each with one veth
// into a bridge that itself lives in a namespace, so nothing appears on the machine's real
// interfaces. Names are unique per process; destroy() kills what was started and deletes all.
import type { Subprocess } from "bun";

export interface LanHost {
  readonly ns: string;
  readonly iface: string;
  readonly address: string;
}

export interface Lan {
  readonly hosts: readonly LanHost[];
  /** A second, point-to-point network between two hosts (a LAN of two); returns each end. */
  link(a: LanHost, b: LanHost): Promise<[LanHost, LanHost]>;
  /** Start a command inside a host's namespace; it is killed by destroy() if still running. */
  spawn(host: LanHost, cmd: string[], opts?: { cwd?: string; env?: Record<string, string> }): Subprocess<"ignore", "pipe", "pipe">;
  /** Run a command inside a host's namespace to completion. */
  run(host: LanHost, cmd: string[], opts?: { cwd?: string; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

export const isRoot = (): boolean => process.getuid?.() === 0;
/** Namespace tests may skip only on a developer machine without root; in CI they must run. */
export const skipNamespaceTests = !isRoot() && process.env.CI !== "true";

/**
 * Waits for carrier: node's os.networkInterfaces() (libuv) leaves out interfaces that are up
 * but not yet running, and a veth pair needs a moment after `link set up`.
 */
async function waitRunning(ns: string, iface: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = Bun.spawnSync(["ip", "-n", ns, "-o", "link", "show", "dev", iface]);
    if (/[<,]LOWER_UP[,>]/.test(r.stdout.toString())) return;
    await Bun.sleep(10);
  }
  throw new Error(`${iface} in ${ns} did not get carrier within 2 s`);
}

function ip(...args: string[]): void {
  const r = Bun.spawnSync(["ip", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

export async function createLan(area: string, count: number): Promise<Lan> {
  const tag = `fly-${area}-${process.pid}`;
  const bridgeNs = `${tag}-br`;
  const namespaces: string[] = [];
  const children: Subprocess[] = [];
  const subnet = `10.${100 + (process.pid % 100)}.${(process.pid >> 7) % 250}`;
  const hosts: LanHost[] = [];
  const destroy = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited.catch(() => undefined)));
    for (const ns of namespaces.reverse()) Bun.spawnSync(["ip", "netns", "del", ns]);
  };
  try {
    ip("netns", "add", bridgeNs);
    namespaces.push(bridgeNs);
    ip("-n", bridgeNs, "link", "add", "br0", "type", "bridge");
    ip("-n", bridgeNs, "link", "set", "br0", "up");
    for (let i = 1; i <= count; i++) {
      const ns = `${tag}-n${i}`;
      ip("netns", "add", ns);
      namespaces.push(ns);
      const iface = `eth${i}`;
      ip("link", "add", iface, "netns", ns, "type", "veth", "peer", "name", `port${i}`, "netns", bridgeNs);
      ip("-n", bridgeNs, "link", "set", `port${i}`, "master", "br0", "up");
      const address = `${subnet}.${i}`;
      ip("-n", ns, "addr", "add", `${address}/24`, "dev", iface);
      ip("-n", ns, "link", "set", iface, "up");
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", iface);
      hosts.push({ ns, iface, address });
    }
    for (const h of hosts) await waitRunning(h.ns, h.iface);
  } catch (e) {
    await destroy();
    throw e;
  }
  const env = (extra?: Record<string, string>) => ({ ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...extra });
  const spawn: Lan["spawn"] = (host, cmd, opts) => {
    const p = Bun.spawn(["ip", "netns", "exec", host.ns, ...cmd], { cwd: opts?.cwd, env: env(opts?.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    children.push(p);
    return p;
  };
  let links = 0;
  const link: Lan["link"] = async (a, b) => {
    links++;
    const net = `${subnet.split(".").slice(0, 2).join(".")}.${(Number(subnet.split(".")[2]) + links) % 250}`;
    const [ia, ib] = [`x${links}a`, `x${links}b`];
    ip("link", "add", ia, "netns", a.ns, "type", "veth", "peer", "name", ib, "netns", b.ns);
    const ends: [LanHost, LanHost] = [
      { ns: a.ns, iface: ia, address: `${net}.1` },
      { ns: b.ns, iface: ib, address: `${net}.2` },
    ];
    for (const e of ends) {
      ip("-n", e.ns, "addr", "add", `${e.address}/24`, "dev", e.iface);
      ip("-n", e.ns, "link", "set", e.iface, "up");
    }
    for (const e of ends) await waitRunning(e.ns, e.iface);
    return ends;
  };
  return {
    hosts,
    link,
    spawn,
    run: async (host, cmd, opts) => {
      const p = spawn(host, cmd, opts);
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    },
    destroy,
  };
}

/** Reads a process's stdout as lines and waits for one that satisfies `match`. */
export class LineReader {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let buf = "";
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        for (const w of this.waiters.splice(0)) w();
      }
      for (const w of this.waiters.splice(0)) w();
    })();
  }
  async waitFor(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) if (match(this.lines[seen])) return this.lines[seen];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got:\n${this.lines.join("\n")}`);
      let finished = false;
      await Promise.race([
        new Promise<void>((r) => this.waiters.push(r)),
        this.done.then(() => (finished = true)),
        Bun.sleep(left),
      ]);
      if (finished && seen >= this.lines.length) {
        for (; seen < this.lines.length; seen++) if (match(this.lines[seen])) return this.lines[seen];
        throw new Error(`process ended before ${what}; output:\n${this.lines.join("\n")}`);
      }
    }
  }
}
