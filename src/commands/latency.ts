// LATENCY: this node's latency spikes, Redis's latency monitor in its basic form. A command that
// takes at least latency-monitor-threshold milliseconds is a sample of the "command" event (or
// "fast-command" for commands flagged fast); each event keeps its last 160 samples, one per second.
import { array, bulk, err, int, simple, verbatim, type Reply } from "../resp/reply.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, str } from "./util.ts";

const HISTORY_LEN = 160;

interface Sample {
  /** Unix seconds. */
  readonly time: number;
  readonly ms: number;
}

interface Series {
  samples: Sample[];
  max: number;
}

export class LatencyMonitor {
  private readonly events = new Map<string, Series>();

  /** A spike of `ms` at unix second `time` (the caller has compared it with the threshold). */
  add(event: string, time: number, ms: number): void {
    let s = this.events.get(event);
    if (!s) this.events.set(event, (s = { samples: [], max: 0 }));
    const last = s.samples[s.samples.length - 1];
    // One sample per second, the worst one, as Redis keeps them.
    if (last && last.time === time) {
      if (ms > last.ms) s.samples[s.samples.length - 1] = { time, ms };
    } else {
      s.samples.push({ time, ms });
      if (s.samples.length > HISTORY_LEN) s.samples.shift();
    }
    s.max = Math.max(s.max, ms);
  }

  latest(): [string, Sample, number][] {
    return [...this.events].map(([name, s]) => [name, s.samples[s.samples.length - 1]!, s.max]);
  }

  history(event: string): readonly Sample[] {
    return this.events.get(event)?.samples ?? [];
  }

  /** Forgets the named events (all when none are named); how many existed. */
  reset(names: readonly string[]): number {
    if (names.length === 0) {
      const n = this.events.size;
      this.events.clear();
      return n;
    }
    let n = 0;
    for (const name of names) if (this.events.delete(name)) n++;
    return n;
  }
}

const HELP = [
  "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "DOCTOR",
  "    Return a human readable latency analysis report.",
  "GRAPH <event>",
  "    Return an ASCII latency graph for the <event> class.",
  "HISTORY <event>",
  "    Return time-latency samples for the <event> class.",
  "LATEST",
  "    Return the latest latency samples for all events.",
  "RESET [<event> ...]",
  "    Reset latency data of one or more <event> classes.",
  "    (default: reset all data for all event classes)",
  "HISTOGRAM [COMMAND ...]",
  "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
  "    If no commands are specified then all histograms are replied.",
  "HELP",
  "    Prints this help.",
];

const NO_SPIKES =
  "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. " +
  "I honestly think you ought to sit down calmly, take a stress pill, and think things over.";

const DISABLED =
  "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use " +
  '"CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren\'t in a deep space ' +
  "mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";

function doctor(s: SessionApi, mon: LatencyMonitor): string {
  const latest = mon.latest();
  if (latest.length > 0) return `${latest.map(([n, l, m]) => `${n}: latest ${l.ms} ms, max ${m} ms`).join("\n")}\n`;
  return s.server.configValue("latency_monitor_threshold") === "0" ? DISABLED : NO_SPIKES;
}

export function latency(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const mon = s.server.latency;
  switch (sub) {
    case "latest":
      return argv.length === 2
        ? array(mon.latest().map(([name, last, max]) => array([bulk(name), int(last.time), int(last.ms), int(max)])))
        : E.arity("latency|latest");
    case "history":
      if (argv.length !== 3) return E.arity("latency|history");
      return array(mon.history(str(argv[2]!)).map((x) => array([int(x.time), int(x.ms)])));
    case "reset":
      return int(mon.reset(argv.slice(2).map((a) => str(a))));
    case "doctor":
      if (argv.length !== 2) return E.arity("latency|doctor");
      return verbatim(doctor(s, mon));
    case "help":
      return argv.length === 2 ? array(HELP.map((l) => simple(l))) : E.arity("latency|help");
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try LATENCY HELP.`);
  }
}
