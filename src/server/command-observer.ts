// What a node learns from every command it answers: Prometheus metrics, INFO commandstats and
// errorstats, SLOWLOG and LATENCY. One place, so the connection handler calls one function.
import { LatencyMonitor } from "../commands/latency.ts";
import { SlowLog } from "../commands/slowlog.ts";
import { COMMANDS } from "../commands/table.ts";
import type { ClientState } from "../commands/types.ts";
import type { Config } from "../config/schema.ts";
import type { Reply } from "../resp/reply.ts";
import { CommandStats, statName } from "./command-stats.ts";

/** The Prometheus side (src/http/metrics.ts): per-command latency and error counts. */
export interface CommandMetrics {
  readonly commands: { record(name: string, seconds: number, failed: boolean): void };
}

export class CommandObserver {
  readonly stats = new CommandStats();
  readonly slowlog = new SlowLog();
  readonly latency = new LatencyMonitor();

  constructor(
    private readonly config: Config,
    private readonly metrics: CommandMetrics,
  ) {}

  /** A command answered after `micros`; `name` is undefined for an unknown command. */
  record(
    name: string | undefined,
    client: ClientState,
    argv: readonly Uint8Array[],
    micros: number,
    reply: Reply,
  ): void {
    // Unknown commands share one label: client-chosen names must not grow the series.
    this.metrics.commands.record(name ?? "unknown", micros / 1e6, reply.t === "error");
    if (name === undefined) {
      if (reply.t === "error") this.stats.error(reply.v);
      return;
    }
    this.stats.record(statName(name, argv, reply), micros, reply);
    const call = {
      time: Math.floor(Date.now() / 1000),
      micros: Math.round(micros),
      addr: client.addr,
      name: client.name,
    };
    this.slowlog.record(call, argv, this.config.slowlog_log_slower_than, this.config.slowlog_max_len);
    const threshold = this.config.latency_monitor_threshold;
    if (threshold > 0 && micros >= threshold * 1000) {
      const fast = COMMANDS.get(name)?.flags.includes("fast") ?? false;
      this.latency.add(fast ? "fast-command" : "command", call.time, Math.round(micros / 1000));
    }
  }
}
