// A wire-exact RESP2/RESP3 client for differential tests. ioredis folds +OK and $2\r\nOK together,
// turns errors into exceptions and reshapes some replies; comparing FlyDB with redis-server needs
// the reply exactly as it was framed, so this client keeps the type byte of every value.
import { Socket } from "node:net";

export type Wire =
  | { readonly t: "+"; readonly v: string } // simple string
  | { readonly t: "-"; readonly v: string } // error (RESP3 blob errors `!` are folded in here)
  | { readonly t: ":"; readonly v: bigint }
  | { readonly t: "$"; readonly v: Buffer }
  | { readonly t: "nil"; readonly kind: "$" | "*" | "_" } // $-1, *-1, RESP3 _
  | { readonly t: "*" | "~" | ">"; readonly v: Wire[] } // array, set, push
  | { readonly t: "%" | "|"; readonly v: [Wire, Wire][] } // map, attribute
  | { readonly t: ","; readonly v: string } // double, as sent
  | { readonly t: "#"; readonly v: boolean }
  | { readonly t: "("; readonly v: bigint }
  | { readonly t: "="; readonly format: string; readonly v: Buffer };

/** Thrown by the parser for a reply stream that is not valid RESP (a server bug). */
class ReplyFormatError extends Error {}

/** Parses one reply at buf[pos..]; returns it and the next position, or undefined when incomplete. */
export function parseReply(buf: Buffer, pos: number): { value: Wire; next: number } | undefined {
  const eol = buf.indexOf("\r\n", pos, "latin1");
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString("latin1", pos + 1, eol);
  const after = eol + 2;
  const count = () => {
    if (!/^-?\d+$/.test(line)) throw new ReplyFormatError(`bad length ${JSON.stringify(line)} after '${type}'`);
    return Number(line);
  };
  const blob = (n: number) =>
    buf.length < after + n + 2 ? undefined : { data: buf.subarray(after, after + n), next: after + n + 2 };
  const items = (n: number) => {
    const out: Wire[] = [];
    let at = after;
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, at);
      if (!r) return undefined;
      out.push(r.value);
      at = r.next;
    }
    return { out, next: at };
  };
  switch (type) {
    case "+":
      return { value: { t: "+", v: line }, next: after };
    case "-":
      return { value: { t: "-", v: line }, next: after };
    case ":":
      return { value: { t: ":", v: BigInt(line) }, next: after };
    case "(":
      return { value: { t: "(", v: BigInt(line) }, next: after };
    case ",":
      return { value: { t: ",", v: line }, next: after };
    case "#":
      return { value: { t: "#", v: line === "t" }, next: after };
    case "_":
      return { value: { t: "nil", kind: "_" }, next: after };
    case "$":
    case "!":
    case "=": {
      const n = count();
      if (n < 0) return { value: { t: "nil", kind: "$" }, next: after };
      const b = blob(n);
      if (!b) return undefined;
      if (type === "!") return { value: { t: "-", v: b.data.toString("latin1") }, next: b.next };
      if (type === "=")
        return {
          value: { t: "=", format: b.data.toString("latin1", 0, 3), v: Buffer.from(b.data.subarray(4)) },
          next: b.next,
        };
      return { value: { t: "$", v: Buffer.from(b.data) }, next: b.next };
    }
    case "*":
    case "~":
    case ">": {
      const n = count();
      if (n < 0) return { value: { t: "nil", kind: "*" }, next: after };
      const r = items(n);
      return r && { value: { t: type, v: r.out }, next: r.next };
    }
    case "%":
    case "|": {
      const r = items(count() * 2);
      if (!r) return undefined;
      const pairs: [Wire, Wire][] = [];
      for (let i = 0; i < r.out.length; i += 2) pairs.push([r.out[i]!, r.out[i + 1]!]);
      return { value: { t: type, v: pairs }, next: r.next };
    }
    default:
      throw new ReplyFormatError(
        `unknown reply type byte 0x${buf[pos]!.toString(16)} in ${JSON.stringify(buf.toString("latin1", pos, pos + 40))}`,
      );
  }
}

export function encodeCommand(argv: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = typeof a === "string" ? Buffer.from(a, "latin1") : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** One connection; commands may be pipelined, replies resolve in order. */
export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (w: Wire) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error("connection closed by server")));
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      socket.once("error", reject);
      socket.connect(port, host, () => {
        socket.removeListener("error", reject);
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
    });
  }

  /** Strings are sent as latin1 so every byte 0-255 can be written. */
  call(...argv: (string | Uint8Array)[]): Promise<Wire> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(argv));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Shuts down the sending side only (a FIN), as a client that exits with a command pending. */
  halfClose(): void {
    this.socket.end();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    try {
      for (;;) {
        const r = parseReply(this.buf, pos);
        if (!r) break;
        pos = r.next;
        const p = this.pending.shift();
        if (!p) throw new ReplyFormatError(`unsolicited reply ${JSON.stringify(r.value)}`);
        p.resolve(r.value);
      }
    } catch (e) {
      this.fail(e as Error);
      this.socket.destroy();
      return;
    }
    this.buf = this.buf.subarray(pos);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const p = this.pending;
    this.pending = [];
    for (const x of p) x.reject(this.failure);
  }
}

/** A readable, comparable rendering of a reply (binary bytes escaped). */
export function show(w: Wire): string {
  const esc = (b: Buffer) =>
    JSON.stringify(b.toString("latin1")).replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
  switch (w.t) {
    case "+":
      return `+${w.v}`;
    case "-":
      return `-${w.v}`;
    case ":":
    case "(":
      return `${w.t}${w.v}`;
    case ",":
      return `,${w.v}`;
    case "#":
      return w.v ? "#t" : "#f";
    case "$":
      return `$${esc(w.v)}`;
    case "=":
      return `=${w.format}:${esc(w.v)}`;
    case "nil":
      return `nil(${w.kind})`;
    case "*":
    case "~":
    case ">":
      return `${w.t}[${w.v.map(show).join(", ")}]`;
    case "%":
    case "|":
      return `${w.t}{${w.v.map(([k, v]) => `${show(k)}: ${show(v)}`).join(", ")}}`;
  }
}
