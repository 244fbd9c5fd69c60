// A minimal RESP2/RESP3 client for tests that compare servers byte-type for byte-type: every
// reply keeps its wire type (simple vs bulk, null bulk vs null array, set vs array, …), which
// ioredis would blur. One command in flight at a time.
import { connect, type Socket } from "node:net";

export type Wire =
  | { t: "simple" | "error" | "bulk" | "double" | "verbatim" | "bignum"; v: string }
  | { t: "int"; v: string }
  | { t: "bool"; v: boolean }
  | { t: "nullbulk" | "nullarray" | "null" }
  | { t: "array" | "set" | "push"; v: Wire[] }
  | { t: "map"; v: [Wire, Wire][] };

export class RespClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** `to` is a TCP port on 127.0.0.1 or a unix socket path. */
  static open(to: number | string): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const sock = typeof to === "number" ? connect(to, "127.0.0.1") : connect(to);
      sock.once("connect", () => resolve(new RespClient(sock)));
      sock.once("error", reject);
    });
  }

  async call(...args: (string | Uint8Array)[]): Promise<Wire> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === "string" ? Buffer.from(a) : Buffer.from(a);
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
    }
    this.sock.write(Buffer.concat(parts));
    for (;;) {
      const parsed = parse(this.buf, 0);
      if (parsed) {
        this.buf = this.buf.subarray(parsed.next);
        return parsed.value;
      }
      if (this.closed) throw new Error(`connection to ${this.sock.remoteAddress ?? "unix socket"} closed waiting for the reply to ${args.map(String).join(" ")}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

function line(buf: Buffer, at: number): { text: string; next: number } | undefined {
  const end = buf.indexOf("\r\n", at);
  return end < 0 ? undefined : { text: buf.toString("latin1", at, end), next: end + 2 };
}

function parse(buf: Buffer, at: number): { value: Wire; next: number } | undefined {
  if (at >= buf.length) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const l = line(buf, at + 1);
  if (!l) return undefined;
  const simpleTypes: Record<string, "simple" | "error" | "double" | "bignum"> = { "+": "simple", "-": "error", ",": "double", "(": "bignum" };
  if (simpleTypes[type]) return { value: { t: simpleTypes[type]!, v: l.text }, next: l.next };
  if (type === ":") return { value: { t: "int", v: l.text }, next: l.next };
  if (type === "#") return { value: { t: "bool", v: l.text === "t" }, next: l.next };
  if (type === "_") return { value: { t: "null" }, next: l.next };
  if (type === "$" || type === "=" || type === "!") {
    const n = Number(l.text);
    if (n < 0) return { value: { t: "nullbulk" }, next: l.next };
    if (buf.length < l.next + n + 2) return undefined;
    const v = buf.toString("latin1", l.next, l.next + n);
    return { value: { t: type === "=" ? "verbatim" : type === "!" ? "error" : "bulk", v }, next: l.next + n + 2 };
  }
  if (type === "*" || type === "~" || type === ">" || type === "%") {
    const n = Number(l.text);
    if (n < 0) return { value: { t: "nullarray" }, next: l.next };
    const count = type === "%" ? 2 * n : n;
    const items: Wire[] = [];
    let next = l.next;
    for (let i = 0; i < count; i++) {
      const p = parse(buf, next);
      if (!p) return undefined;
      items.push(p.value);
      next = p.next;
    }
    if (type === "%") {
      const pairs: [Wire, Wire][] = [];
      for (let i = 0; i < items.length; i += 2) pairs.push([items[i]!, items[i + 1]!]);
      return { value: { t: "map", v: pairs }, next };
    }
    return { value: { t: type === "*" ? "array" : type === "~" ? "set" : "push", v: items }, next };
  }
  throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
}
