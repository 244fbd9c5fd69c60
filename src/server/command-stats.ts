// INFO commandstats and errorstats: per-command calls and time, and errors by their first word,
// counted on this node since start or the last CONFIG RESETSTAT.
import type { Reply } from "../resp/reply.ts";

interface CommandCounters {
  calls: number;
  usec: number;
  failed: number;
}

/** Commands Redis counts per subcommand (`cmdstat_config|get`). */
const CONTAINERS = new Set(["config", "client", "command", "object", "memory", "slowlog", "latency", "cluster"]);

/**
 * The name a call is counted under: `container|sub` as Redis does, except for a subcommand the
 * container refused as unknown (client-chosen names must not grow the table).
 */
export function statName(name: string, argv: readonly Uint8Array[], reply: Reply): string {
  if (!CONTAINERS.has(name) || argv.length < 2) return name;
  if (reply.t === "error" && reply.v.startsWith("ERR unknown subcommand")) return name;
  return `${name}|${String.fromCharCode(...argv[1]!.subarray(0, 64)).toLowerCase()}`;
}

const MAX_NAMES = 1024;

export class CommandStats {
  private commands = new Map<string, CommandCounters>();
  private errors = new Map<string, number>();
  totalErrors = 0;

  record(name: string, usec: number, reply: Reply): void {
    // A bound on what clients can add (subcommand names sent before AUTH or queued in MULTI).
    if (!this.commands.has(name) && this.commands.size >= MAX_NAMES) name = name.split("|", 1)[0]!;
    let c = this.commands.get(name);
    if (!c) this.commands.set(name, (c = { calls: 0, usec: 0, failed: 0 }));
    c.calls++;
    c.usec += usec;
    if (reply.t === "error") {
      c.failed++;
      this.error(reply.v);
    }
  }

  /** An error reply to something that never ran as a command (unknown command, protocol error). */
  error(text: string): void {
    const code = text.split(" ", 1)[0]!;
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.totalErrors++;
  }

  reset(): void {
    this.commands.clear();
    this.errors.clear();
    this.totalErrors = 0;
  }

  /** `cmdstat_<name>` lines as Redis prints them. */
  commandLines(): [string, string][] {
    return [...this.commands].map(([name, c]) => {
      const perCall = (c.calls ? c.usec / c.calls : 0).toFixed(2);
      const fields = `calls=${c.calls},usec=${Math.round(c.usec)},usec_per_call=${perCall}`;
      return [`cmdstat_${name}`, `${fields},rejected_calls=0,failed_calls=${c.failed}`];
    });
  }

  errorLines(): [string, string][] {
    return [...this.errors].map(([code, n]) => [`errorstat_${code}`, `count=${n}`]);
  }
}
