// Minimal structured logger: one line per event, text or JSON, to stderr (the journal under
// systemd). pino would do, but its transports crash a compiled binary: the worker thread they
// spawn is not in the bundle.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevel,
  format: LogFormat,
  base: Record<string, unknown> = {},
  out: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      out(`${JSON.stringify({ time, level: lvl, msg, ...base, ...fields })}\n`);
      return;
    }
    const kv = Object.entries({ ...base, ...fields })
      .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(" ");
    out(`${time} ${lvl.toUpperCase().padEnd(5)} ${msg}${kv ? ` ${kv}` : ""}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** The last lines a logger wrote, for the web console's log view (src/http/console.ts). */
export class LogTail {
  private readonly lines: string[] = [];

  constructor(private readonly max: number) {}

  write(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  snapshot(): readonly string[] {
    return [...this.lines];
  }
}
