// What a node learns from every command it answers: Prometheus metrics, INFO commandstats and
// errorstats, SLOWLOG and LATENCY. One place, so the connection handler calls one function.
import { LatencyMonitor } from "../commands/latency.ts";
import { SlowLog } from "../commands/slowlog.ts";
import { COMMANDS } from "../commands/table.ts";
import type { ClientState, Op } from "../commands/types.ts";
import type { Config } from "../config/schema.ts";
import type { Reply } from "../resp/reply.ts";
import { CommandStats, statName } from "./command-stats.ts";
import { opKey } from "./op-callers.ts";

/** Apply times kept for replies still to come; a follower's copies of others' ops never take theirs. */
const REMEMBERED_APPLIES = 4096;

/** The Prometheus side (src/http/metrics.ts): per-command latency and error counts. */
export interface CommandMetrics {
  readonly commands: { record(name: string, seconds: number, failed: boolean): void };
}

export class CommandObserver {
  readonly stats = new CommandStats();
  readonly slowlog = new SlowLog();
  readonly latency = new LatencyMonitor();

  /** How long apply ran each recent op on this node, until the reply of its proposal takes it (timed). */
  private readonly applyMicros = new Map<string, number>();
  /** Write replies carrying the apply time of their op. */
  private readonly executed = new WeakMap<Reply, number>();

  constructor(
    private readonly config: Config,
    private readonly metrics: CommandMetrics,
  ) {}

  /** The state machine ran `op` for `micros` (KeyEventsHook.applied). */
  applied(op: Op, micros: number): void {
    if (this.applyMicros.size >= REMEMBERED_APPLIES) this.applyMicros.delete(this.applyMicros.keys().next().value!);
    this.applyMicros.set(opKey(op), micros);
  }

  /** The reply of `op`, proposed by this node, carrying its apply time to record() when this node applied it. */
  timed(op: Op, reply: Reply): Reply {
    const key = opKey(op);
    const micros = this.applyMicros.get(key);
    if (micros === undefined) return reply;
    this.applyMicros.delete(key);
    // A copy: replies such as +OK are shared constants.
    const own = { ...reply };
    this.executed.set(own, micros);
    return own;
  }

  /**
   * A command answered `elapsed` µs after it arrived, `ran` of them in its own call; `name` is
   * undefined for an unknown command. The metrics see the latency; SLOWLOG, LATENCY and INFO
   * commandstats the execution, as Redis's: the call plus the apply of its write, not the wait for
   * the log's fsync or for the writes pipelined before it. A reply without an apply time (EXEC, a
   * write another node applied) counts whole.
   */
  record(
    name: string | undefined,
    client: ClientState,
    argv: readonly Uint8Array[],
    timing: { readonly ran: number; readonly elapsed: number },
    reply: Reply,
  ): void {
    // Unknown commands share one label: client-chosen names must not grow the series.
    this.metrics.commands.record(name ?? "unknown", timing.elapsed / 1e6, reply.t === "error");
    const applied = this.executed.get(reply);
    const micros = applied === undefined ? timing.elapsed : timing.ran + applied;
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
