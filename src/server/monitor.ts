// MONITOR: the connections that asked to see every command this node runs, and Redis's line
// format for them: `+<sec>.<usec> [<db> <addr>] "arg" "arg"…`, arguments quoted as Redis's
// sdscatrepr does, passwords redacted.
import { simple, type Reply } from "../resp/reply.ts";
import type { ClientState } from "../commands/types.ts";

const ESCAPES = new Map<number, string>([
  [0x5c, "\\\\"],
  [0x22, '\\"'],
  [0x0a, "\\n"],
  [0x0d, "\\r"],
  [0x09, "\\t"],
  [0x07, "\\a"],
  [0x08, "\\b"],
]);

/** An argument as Redis quotes it: printable ASCII as is, the usual escapes, other bytes as \xHH. */
export function quoteArg(b: Uint8Array): string {
  let out = '"';
  for (const c of b) {
    out += ESCAPES.get(c) ?? (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`);
  }
  return `${out}"`;
}

/** Which arguments Redis shows as "(redacted)": AUTH's, and the user and password of HELLO … AUTH. */
function redacted(argv: readonly Uint8Array[]): Set<number> {
  const name = new TextDecoder().decode(argv[0]).toLowerCase();
  const hidden = new Set<number>();
  if (name === "auth") for (let i = 1; i < argv.length; i++) hidden.add(i);
  if (name === "hello") {
    for (let i = 2; i < argv.length; i++) {
      if (new TextDecoder().decode(argv[i]).toLowerCase() === "auth") hidden.add(i + 1).add(i + 2);
    }
  }
  return hidden;
}

/** One MONITOR line: `micros` is the wall clock in microseconds. */
export function monitorLine(
  micros: number,
  client: Pick<ClientState, "db" | "addr">,
  argv: readonly Uint8Array[],
): string {
  const sec = Math.floor(micros / 1e6);
  const usec = String(Math.floor(micros - sec * 1e6)).padStart(6, "0");
  const hidden = redacted(argv);
  const args = argv.map((a, i) => (hidden.has(i) ? '"(redacted)"' : quoteArg(a))).join(" ");
  return `${sec}.${usec} [${client.db} ${client.addr}] ${args}`;
}

export class Monitors {
  private readonly conns = new Map<number, (r: Reply) => void>();

  add(id: number, push: (r: Reply) => void): void {
    this.conns.set(id, push);
  }

  remove(id: number): void {
    this.conns.delete(id);
  }

  /** Shows a command the node ran to every monitoring connection. */
  feed(micros: number, client: Pick<ClientState, "db" | "addr">, argv: readonly Uint8Array[]): void {
    if (this.conns.size === 0) return;
    const line = simple(monitorLine(micros, client, argv));
    for (const push of this.conns.values()) push(line);
  }
}
