// A raw TCP connection for what real clients refuse to send (malformed RESP, huge headers) and
// for readiness probes. Collects every byte the server sends and notices when it closes.
import { Socket } from "node:net";

export class RawConnection {
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      });
    });
    // Errors (ECONNRESET when the server closes on unread input) end up as "close" too.
    socket.on("error", () => {});
  }

  static connect(port: number, host = "127.0.0.1", timeoutMs = 2000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.connect(port, host, () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new RawConnection(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Writes; resolves once the bytes are handed to the kernel (or the socket is gone). */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.closedFlag) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** Everything received so far, as latin1 text (byte-exact). */
  received(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  /**
   * Waits until `done(received)` holds, the connection closes, or the timeout passes; returns
   * what was received either way (callers assert on it).
   */
  async readUntil(done: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received()) && !this.closedFlag) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received();
  }

  /** Waits for the server to close the connection; true when it did within the timeout. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    await this.readUntil(() => false, timeoutMs);
    return this.closedFlag;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** True when a RESP server on the port answers PING (any reply, even -NOAUTH, means it serves). */
export async function answersPing(port: number, timeoutMs = 500): Promise<boolean> {
  let conn: RawConnection | undefined;
  try {
    conn = await RawConnection.connect(port, "127.0.0.1", timeoutMs);
    await conn.write("*1\r\n$4\r\nPING\r\n");
    const got = await conn.readUntil((t) => t.includes("\r\n"), timeoutMs);
    return got.startsWith("+") || got.startsWith("-");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}
