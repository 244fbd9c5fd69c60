// SLOWLOG: the node's most recent commands that ran longer than slowlog-log-slower-than
// microseconds, newest first, with arguments trimmed as Redis trims them (src/slowlog.c in Redis).
import { array, bulk, err, int, OK, simple, type Reply } from "../resp/reply.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, parseIntArg, str, utf8 } from "./util.ts";

/** Redis keeps at most 32 arguments of a call, the last standing for the rest, and 128 bytes of each. */
const MAX_ARGC = 32;
const MAX_STRING = 128;

export interface SlowLogEntry {
  readonly id: number;
  /** Unix time in seconds when the command ran. */
  readonly time: number;
  readonly micros: number;
  readonly argv: readonly Uint8Array[];
  readonly addr: string;
  readonly name: string;
}

export class SlowLog {
  private entries: SlowLogEntry[] = [];
  private nextId = 0;

  /** Records a call when it is slow enough; `thresholdUs` < 0 records nothing. */
  record(
    call: Omit<SlowLogEntry, "id" | "argv">,
    argv: readonly Uint8Array[],
    thresholdUs: number,
    maxLen: number,
  ): void {
    if (thresholdUs < 0 || call.micros < thresholdUs) return;
    this.entries.unshift({ ...call, id: this.nextId++, argv: trimArgs(argv) });
    if (this.entries.length > maxLen) this.entries.length = maxLen;
  }

  /** Newest first. */
  latest(count: number): readonly SlowLogEntry[] {
    return this.entries.slice(0, count);
  }

  get length(): number {
    return this.entries.length;
  }

  reset(): void {
    this.entries = [];
  }
}

function trimArgs(argv: readonly Uint8Array[]): Uint8Array[] {
  const kept: Uint8Array[] = argv.length > MAX_ARGC ? argv.slice(0, MAX_ARGC - 1) : argv.slice();
  const out: Uint8Array[] = kept.map((a) => {
    if (a.length <= MAX_STRING) return a.slice();
    const tail = utf8(`... (${a.length - MAX_STRING} more bytes)`);
    const b = new Uint8Array(MAX_STRING + tail.length);
    b.set(a.subarray(0, MAX_STRING));
    b.set(tail, MAX_STRING);
    return b;
  });
  if (argv.length > MAX_ARGC) out.push(utf8(`... (${argv.length - MAX_ARGC + 1} more arguments)`));
  return out;
}

const HELP = [
  "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET [<count>]",
  "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
  "    Entries are made of:",
  "    id, timestamp, time in microseconds, arguments array, client IP and port,",
  "    client name",
  "LEN",
  "    Return the length of the slowlog.",
  "RESET",
  "    Reset the slowlog.",
  "HELP",
  "    Prints this help.",
];

export function slowlog(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const log = s.server.slowlog;
  if (sub === "help" && argv.length === 2) return array(HELP.map((l) => simple(l)));
  if (sub === "reset" && argv.length === 2) {
    log.reset();
    return OK;
  }
  if (sub === "len" && argv.length === 2) return int(log.length);
  if (sub === "get" && (argv.length === 2 || argv.length === 3)) {
    let count = 10;
    if (argv.length === 3) {
      const n = parseIntArg(argv[2]!);
      if (n === undefined || n < -1) return err("ERR count should be greater than or equal to -1");
      count = n === -1 ? log.length : n;
    }
    return array(
      log
        .latest(count)
        .map((e) =>
          array([int(e.id), int(e.time), int(e.micros), array(e.argv.map((a) => bulk(a))), bulk(e.addr), bulk(e.name)]),
        ),
    );
  }
  if (["help", "reset", "len", "get"].includes(sub)) return E.arity(`slowlog|${sub}`);
  return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try SLOWLOG HELP.`);
}
