// INFO commandstats and errorstats: per-command calls and time, and errors by their first word,
// counted on this node since start or the last CONFIG RESETSTAT.
import type { Reply } from "../resp/reply.ts";

interface CommandCounters {
  calls: number;
  usec: number;
  failed: number;
}

export class CommandStats {
  private commands = new Map<string, CommandCounters>();
  private errors = new Map<string, number>();
  totalErrors = 0;

  record(name: string, usec: number, reply: Reply): void {
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
