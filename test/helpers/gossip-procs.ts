// Parent side of test/helpers/gossip-member.ts: spawn members as real processes (optionally in a
// network namespace), follow their JSON lines, wait for conditions, kill them by PID.
import type { Subprocess } from "bun";
import type { GossipNodeOptions } from "../../src/gossip/index.ts";

const SCRIPT = new URL("./gossip-member.ts", import.meta.url).pathname;

export interface MemberLine {
  kind: string;
  type?: string;
  id?: string;
  at?: number;
  addr?: string;
  pid?: number;
  view?: Record<string, string>;
  counters?: {
    udpOut: number;
    tcpOut: number;
    udpIn: number;
    tcpIn: number;
    bytesOut: number;
    dropped: Record<string, number>;
    core: Record<string, number>;
  };
}

export class MemberProc {
  readonly lines: MemberLine[] = [];
  view: Record<string, string> = {};
  addr = "";
  exited = false;
  private readonly proc: Subprocess<"pipe", "pipe", "inherit">;

  constructor(
    readonly opts: GossipNodeOptions,
    netns?: string,
  ) {
    const cmd = [process.execPath, SCRIPT, JSON.stringify(opts)];
    // `ip netns exec` execs the command, so the PID we hold is the member's own.
    this.proc = Bun.spawn(netns ? ["ip", "netns", "exec", netns, ...cmd] : cmd, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
      env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" },
    });
    void this.proc.exited.then(() => (this.exited = true));
    void this.follow();
  }

  get id(): string {
    return this.opts.nodeId;
  }

  get pid(): number {
    return this.proc.pid;
  }

  private async follow(): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of this.proc.stdout) {
      rest += decoder.decode(chunk, { stream: true });
      for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
        const line = JSON.parse(rest.slice(0, nl)) as MemberLine;
        rest = rest.slice(nl + 1);
        this.lines.push(line);
        if (line.view) this.view = line.view;
        if (line.addr) this.addr = line.addr;
      }
    }
  }

  command(line: string): void {
    this.proc.stdin.write(`${line}\n`);
    this.proc.stdin.flush();
  }

  async stats(timeoutMs = 5_000): Promise<MemberLine> {
    const seen = this.lines.length;
    this.command("stats");
    await waitFor(() => this.lines.slice(seen).some((l) => l.kind === "stats"), timeoutMs, `${this.id} stats`);
    return this.lines.slice(seen).find((l) => l.kind === "stats") as MemberLine;
  }

  kill9(): void {
    this.proc.kill(9);
  }

  async close(): Promise<void> {
    if (!this.exited) this.proc.kill(9);
    await this.proc.exited;
  }

  eventsAbout(id: string, type: string): MemberLine[] {
    return this.lines.filter((l) => l.kind === "event" && l.id === id && l.type === type);
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Fast timings for tests: the same protocol, ~5× quicker than the LAN defaults. */
export const FAST = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  gossipIntervalMs: 50,
  pushPullIntervalMs: 2_000,
  reconnectIntervalMs: 500,
  gossipToTheDeadMs: 5_000,
} as const;
