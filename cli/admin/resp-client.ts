// A pipelining RESP2 client for the CLI's bulk commands (import-rdb): commands go out as they are
// sent, replies come back in order and resolve their commands' promises. Only the reply kinds those
// commands get (+, -, :, $, *) are parsed.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { parseHostPort } from "../../src/net/hostport.ts";
import { Unreachable } from "./client.ts";
import { UsageError } from "./commands.ts";

export type RespValue = string | number | Uint8Array | null | RespValue[] | RespError;

/** An error reply (-ERR …): a value, not a thrown error, so a pipeline can report which command got it. */
export class RespError {
  constructor(readonly message: string) {}
}

const CRLF = new Uint8Array([13, 10]);
const enc = new TextEncoder();

/** One connection; `closed` is set (with why) once the socket ends, and every pending command fails with it. */
export class RespConnection {
  private readonly pending: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
  private buf: Uint8Array = new Uint8Array(0);
  closed: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const fail = (why: string) => {
      if (this.closed) return;
      this.closed = new Error(`connection to ${address} ${why}`);
      for (const p of this.pending.splice(0)) p.reject(this.closed);
    };
    socket.on("error", (e) => fail(`failed: ${e.message}`));
    socket.on("close", () => fail("closed"));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<RespConnection> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Unreachable(`connection to ${address}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(new RespConnection(s, address));
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(new Unreachable(`connection to ${address} failed: ${e.message}`));
      });
    });
  }

  /** Sends a command now; the promise settles with its reply (an error reply is a RespError value). */
  send(argv: readonly (string | Uint8Array)[]): Promise<RespValue> {
    if (this.closed) return Promise.reject(this.closed);
    const parts: Uint8Array[] = [enc.encode(`*${argv.length}\r\n`)];
    for (const a of argv) {
      const b = typeof a === "string" ? enc.encode(a) : a;
      parts.push(enc.encode(`$${b.length}\r\n`), b, CRLF);
    }
    this.socket.write(Buffer.concat(parts));
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  close(): void {
    this.socket.end();
  }

  private onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    let pos = 0;
    for (;;) {
      const parsed = parseReply(joined, pos);
      if (!parsed) break;
      pos = parsed.next;
      this.pending.shift()?.resolve(parsed.value);
    }
    this.buf = joined.slice(pos);
  }
}

/** A reply starting at `pos`, or undefined when it has not fully arrived. */
function parseReply(b: Uint8Array, pos: number): { value: RespValue; next: number } | undefined {
  const eol = b.indexOf(13, pos);
  if (eol < 0 || eol + 1 >= b.length) return undefined;
  const line = new TextDecoder().decode(b.subarray(pos + 1, eol));
  const after = eol + 2;
  switch (b[pos]) {
    case 43: // +
      return { value: line, next: after };
    case 45: // -
      return { value: new RespError(line), next: after };
    case 58: // :
      return { value: Number(line), next: after };
    case 36: {
      // $
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      if (after + n + 2 > b.length) return undefined;
      return { value: b.slice(after, after + n), next: after + n + 2 };
    }
    case 42: {
      // *
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < n; i++) {
        const item = parseReply(b, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(b[pos]!))}`);
  }
}

export const DEFAULT_RESP = "127.0.0.1:6380";
const CONNECT_TIMEOUT_MS = 10_000;

export interface RespTargetOpts {
  resp: string;
  passwordFile?: string;
}

/** Where --resp points: a bad address is a usage error (exit 2). */
export function respAddress(o: RespTargetOpts): { host: string; port: number } {
  try {
    return parseHostPort(o.resp, "127.0.0.1");
  } catch (e) {
    throw new UsageError(`--resp: ${(e as Error).message}`);
  }
}

/** A connection to --resp, authenticated with --password-file or $FLYDB_REQUIREPASS when given. */
export async function openResp(o: RespTargetOpts): Promise<RespConnection> {
  const { host, port } = respAddress(o);
  const conn = await RespConnection.open(host, port, CONNECT_TIMEOUT_MS);
  const password = o.passwordFile
    ? readFileSync(o.passwordFile, "utf8").trim()
    : process.env.FLYDB_REQUIREPASS || undefined;
  if (password !== undefined) {
    const r = await conn.send(["AUTH", password]);
    if (r instanceof RespError) {
      conn.close();
      throw new Error(`AUTH on ${conn.address}: ${r.message}`);
    }
  }
  return conn;
}
