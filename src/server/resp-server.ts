// The RESP listener: Bun.listen sockets in, decoded commands to a per-connection handler,
// encoded replies out. What it guarantees to handlers and clients:
// - commands reach onCommand in arrival order, as soon as they are decoded (a pipelined batch of
//   writes can thus share one group commit); replies go out strictly in command order even when
//   some of them are promises;
// - every reply available after a read is encoded into one buffer and sent with one write;
//   replies that settle later are batched per microtask;
// - socket.write() takes what the kernel accepts; the rest waits for `drain`, and reading pauses
//   while more than PAUSE_READING_AT bytes wait, so a client that pipelines without reading cannot
//   grow the server's memory without bound;
// - at most MAX_IN_FLIGHT commands of a connection are dispatched and unanswered at once: past that
//   the rest of its input waits, undecoded, and the socket is paused (a `redis-cli --pipe` burst
//   backs up into TCP instead of into promises, and each command's deadline starts when it runs);
// - push() writes a reply out of band (pub/sub messages): after the replies to every command
//   received so far, before those of later ones; a client that does not read its pushes is
//   disconnected past RespServerOptions.pushLimit (Redis's client-output-buffer-limit pubsub);
// - a protocol error is answered `-ERR Protocol error: …` after the replies to the commands before
//   it, then the connection is closed;
// - a refused connection (ConnectionHandler.refusal: maxclients) gets its error at once and is closed;
// - with fewer than FD_RESERVE file descriptors left it stops listening (src/server/fd-budget.ts)
//   and listens again once half as many more are free; the connections it has are served meanwhile.
import type { Socket, TCPSocketListener, TCPSocketListenOptions } from "bun";
import type { Logger } from "../log.ts";
import { FD_RESERVE, fdsRecovered, fdsRunningOut, fdUsage } from "./fd-budget.ts";
import { RespDecoder, type RespLimits } from "../resp/decoder.ts";
import { encodeReply, RespEncoder, type Protocol } from "../resp/encoder.ts";
import { formatHostPort } from "../net/hostport.ts";
import { err, type Reply } from "../resp/reply.ts";
import type { OutputLimit } from "../config/schema.ts";

export interface ConnectionControl {
  /** Unique in this process, increasing (CLIENT ID). */
  readonly id: number;
  /** "ip:port" of the client ("[ip6]:port" for IPv6), as redis prints addr= in CLIENT LIST. */
  readonly remoteAddress: string;
  /** "ip:port" of the server end (laddr=). */
  readonly localAddress: string;
  /**
   * Closes the connection once the replies to commands already received are flushed, the reply
   * to the command being run included (QUIT, CLIENT KILL). Commands after it are not run.
   */
  close(): void;
  /**
   * Writes a reply between replies, after those of the commands received so far (in the protocol
   * the connection speaks then). Dropped once the connection is closing.
   */
  push(reply: Reply): void;
}

export interface ConnectionHandler {
  /**
   * Runs one command. Called in arrival order without waiting for earlier promises; the reply
   * order is kept by the server.
   */
  onCommand(argv: Uint8Array[]): Reply | Promise<Reply>;
  /**
   * The protocol the connection speaks. Sampled right after each onCommand returns, so HELLO
   * must switch it before returning, and its own reply is then encoded in the new protocol.
   */
  protocol(): Protocol;
  /** Called once when the socket has closed, whoever closed it. */
  onClose(): void;
  /**
   * Optional: the client shut down its sending side. The commands it sent are still answered,
   * but a blocked one stops waiting: Redis frees such a client at once, so nothing it would
   * have popped is taken from the keyspace for a reader that is gone.
   */
  onPeerEnd?(): void;
  /** Optional: the input broke the protocol (the connection is answered the error and closed). */
  onProtocolError?(message: string): void;
  /**
   * Optional: false while the client must still AUTH (requirepass). Sampled before each command
   * is decoded, so AUTH must flip it before returning; while false, redis's small request
   * limits for strangers apply (10 arguments, 16384-byte bulks).
   */
  authenticated?(): boolean;
  /**
   * Optional: true when the reply to the command just run must not be written (CLIENT REPLY OFF
   * or SKIP). Sampled right after each onCommand returns, like protocol(); pushes are still written.
   */
  silent?(): boolean;
  /**
   * Optional: the connection is refused (maxclients, protected mode). The client is sent this
   * reply as soon as it connects, before it sends anything, and the connection is closed;
   * onCommand is never called.
   */
  readonly refusal?: Reply;
}

export interface RespServerOptions {
  host: string;
  /** 0 picks a free port; RespServer.port says which. */
  port: number;
  limits?: Partial<RespLimits>;
  /** Output limit of connections that were pushed to (default: none). */
  pushLimit?: OutputLimit;
  onConnection(conn: ConnectionControl): ConnectionHandler;
  /** Where running out of file descriptors is said (once per FD_LOG_MS while it lasts). */
  log?: Pick<Logger, "warn" | "info">;
  /** Serve TLS (Bun's TLS options: key, cert, ca, requestCert, rejectUnauthorized). */
  tls?: import("bun").TLSOptions;
  /** With `tls` asking for client certificates without requiring one: a certificate that fails verification is refused. */
  refuseUnverifiedPeers?: boolean;
}

export interface RespServer {
  readonly port: number;
  /** Stops listening and closes every connection; resolves once each onClose has run. */
  stop(): Promise<void>;
  /** Listens anew with these TLS options (new certificates); open connections keep theirs. */
  reloadTls(tls: import("bun").TLSOptions): void;
  connections(): number;
}

/** Unsent reply bytes above which a connection stops reading until the client catches up. */
const PAUSE_READING_AT = 4 * 1024 * 1024;
/**
 * Replies still awaited (promises and the replies queued behind them) past which a connection's
 * next command waits undecoded: enough for a pipeline to fill a group commit, few enough that a
 * bulk load's commands do not pile up on the event loop (issue #20: `--pipe` of 1M keys peaked at
 * 696 MB RSS; through a proxy under CPU starvation, thousands timed out together). Decoding
 * resumes when half of them are answered.
 */
const MAX_IN_FLIGHT = 512;
/**
 * An unsent reply this big is handed over by the encoder rather than copied into `unsent`: one
 * 100 MB GET would otherwise cost a 200 MB allocation and a copy on the event loop.
 */
const ADOPT_UNSENT_AT = 1024 * 1024;

/** While descriptors stay short, the warning is repeated this often; accepting is retried every FD_RETRY_MS. */
const FD_LOG_MS = 60_000;
const FD_RETRY_MS = 1_000;

/** How long a connection we ended may stay half-open before it is terminated. */
const LINGER_AFTER_END_MS = 5000;

let nextConnectionId = 1;

interface Slot {
  reply: Reply | null;
  readonly protocol: Protocol;
  /** Computed but not written (CLIENT REPLY OFF/SKIP). */
  readonly silent?: boolean;
}

function internalError(e: unknown): Reply {
  const message = e instanceof Error ? e.message : String(e);
  return err(`ERR internal error: ${message}`);
}

/** A malformed Reply (a handler bug) becomes an error reply instead of breaking the stream. */
function encodeOrReport(encoder: RespEncoder, reply: Reply, protocol: Protocol): void {
  const mark = encoder.length;
  try {
    encoder.encode(reply, protocol);
  } catch (e) {
    encoder.truncate(mark);
    encoder.encode(internalError(e), protocol);
  }
}

class Connection implements ConnectionControl {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly localAddress: string;
  handler: ConnectionHandler | null = null;
  private readonly decoder: RespDecoder;
  /** Replies waiting for an earlier promise, in command order, from index `head`. */
  private queue: Slot[] = [];
  private head = 0;
  private readonly unsent = new ByteQueue();
  private flushScheduled = false;
  private paused = false;
  private lingerTimer: ReturnType<typeof setTimeout> | null = null;
  private closing = false;
  private closed = false;
  /** Since when (ms) unsent bytes have been over the soft push limit; undefined while under it. */
  private overSoftSince: number | undefined;
  /** Inside onData: a close() from the command being run (QUIT) must wait for its reply to be encoded. */
  private running = false;
  /**
   * Decoding stopped at MAX_IN_FLIGHT with input left in the decoder. The socket stays paused
   * until that input has run, so a client's FIN (read only while reading) never cuts it off.
   */
  private held = false;

  constructor(
    private readonly socket: Socket<Connection>,
    private readonly encoder: RespEncoder,
    limits: Partial<RespLimits> | undefined,
    private readonly pushLimit: OutputLimit | undefined,
  ) {
    this.decoder = new RespDecoder(limits);
    this.remoteAddress = formatHostPort(socket.remoteAddress, socket.remotePort);
    this.localAddress = formatHostPort(socket.localAddress, socket.localPort);
  }

  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    if (!this.running) this.endIfDone();
  }

  /** Sends a refusal (ConnectionHandler.refusal) before anything is read, then closes. */
  refuse(reply: Reply): void {
    this.encoder.reset();
    encodeOrReport(this.encoder, reply, 2);
    this.sendEncoded();
    this.closing = true;
    this.endIfDone();
  }

  push(reply: Reply): void {
    if (this.closing || this.closed || this.handler === null) return;
    if (this.overPushLimit()) {
      // As Redis: the client is dropped with what it has not read; the messages are lost to it.
      this.terminate();
      return;
    }
    this.queue.push({ reply, protocol: this.handler.protocol() });
    this.scheduleFlush();
  }

  /** Checked as Redis does, when output is added: hard limit at once, soft limit held for its seconds. */
  private overPushLimit(): boolean {
    const limit = this.pushLimit;
    if (!limit) return false;
    const used = this.unsent.length;
    if (limit.hard > 0 && used >= limit.hard) return true;
    if (limit.soft === 0 || used < limit.soft) {
      this.overSoftSince = undefined;
      return false;
    }
    const now = Date.now();
    this.overSoftSince ??= now;
    return now - this.overSoftSince >= limit.softSeconds * 1000;
  }

  onData(chunk: Uint8Array): void {
    if (this.closing || this.closed || this.handler === null) return;
    this.decoder.push(chunk);
    this.dispatch();
  }

  /** Runs decoded commands until the input runs out or MAX_IN_FLIGHT replies are awaited. */
  private dispatch(): void {
    const handler = this.handler;
    if (this.closing || this.closed || handler === null) return;
    const decoder = this.decoder;
    const encoder = this.encoder;
    encoder.reset();
    this.held = false;
    while (!this.closing) {
      if (this.queue.length - this.head >= MAX_IN_FLIGHT) {
        this.held = true;
        break;
      }
      if (handler.authenticated) decoder.setAuthenticated(handler.authenticated());
      const argv = decoder.next();
      if (argv === null) break;
      let reply: Reply | Promise<Reply>;
      this.running = true;
      try {
        reply = handler.onCommand(argv);
      } catch (e) {
        reply = internalError(e);
      } finally {
        this.running = false;
      }
      const protocol = handler.protocol();
      const silent = handler.silent?.() === true;
      if (reply instanceof Promise) {
        const slot: Slot = { reply: null, protocol, silent };
        this.queue.push(slot);
        reply.then(
          (r) => this.settle(slot, r),
          (e: unknown) => this.settle(slot, internalError(e)),
        );
      } else if (this.head === this.queue.length) {
        if (!silent) encodeOrReport(encoder, reply, protocol);
      } else {
        this.queue.push({ reply, protocol, silent });
      }
    }
    if (decoder.error !== null && !this.closing) {
      handler.onProtocolError?.(decoder.error);
      const reply = err(`ERR ${decoder.error}`);
      const protocol = handler.protocol();
      if (this.head === this.queue.length) encodeOrReport(encoder, reply, protocol);
      else this.queue.push({ reply, protocol });
      this.closing = true;
    }
    this.sendEncoded();
    this.updateReading();
    this.endIfDone();
  }

  onDrain(): void {
    if (this.closed || this.unsent.length === 0) return;
    this.unsent.shift(this.socket.write(this.unsent.view()));
    this.updateReading();
    this.endIfDone();
  }

  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.queue = [];
    this.unsent.clear();
    this.handler?.onClose();
  }

  /** Force-closes without flushing (server stop). */
  terminate(): void {
    if (!this.closed) this.socket.terminate();
  }

  private settle(slot: Slot, reply: Reply): void {
    slot.reply = reply;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.closed || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flushSettled());
  }

  private flushSettled(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const encoder = this.encoder;
    encoder.reset();
    const queue = this.queue;
    let i = this.head;
    for (; i < queue.length; i++) {
      const slot = queue[i];
      if (slot.reply === null) break;
      if (!slot.silent) encodeOrReport(encoder, slot.reply, slot.protocol);
    }
    if (i === queue.length) {
      this.queue = [];
      this.head = 0;
    } else {
      this.head = i;
      if (i > 1024 && i * 2 > queue.length) {
        this.queue = queue.slice(i);
        this.head = 0;
      }
    }
    this.sendEncoded();
    if (this.held && this.queue.length - this.head <= MAX_IN_FLIGHT / 2) this.dispatch();
    else this.updateReading();
    this.endIfDone();
  }

  /** Writes what the encoder holds; what the socket does not take now waits in unsent for `drain`. */
  private sendEncoded(): void {
    const bytes = this.encoder.bytes();
    if (bytes.length === 0 || this.closed) return;
    if (this.unsent.length > 0) {
      this.unsent.append(bytes);
      return;
    }
    const written = Math.max(this.socket.write(bytes), 0);
    if (written === bytes.length) return;
    // A big reply (a large GET) is kept where it was encoded rather than copied into a new buffer.
    if (bytes.length >= ADOPT_UNSENT_AT) this.unsent.adopt(this.encoder.detach().subarray(written));
    else this.unsent.append(bytes.subarray(written));
  }

  /**
   * Stops reading while the client is not taking its replies or while too many replies are
   * still being computed, so one client's pipeline backs up into TCP, not into our memory.
   */
  private updateReading(): void {
    const tooMuch = this.unsent.length >= PAUSE_READING_AT || this.held;
    if (tooMuch === this.paused || this.closed) return;
    this.paused = tooMuch;
    if (tooMuch) this.socket.pause();
    else this.socket.resume();
  }

  private endIfDone(): void {
    if (!this.closing || this.closed) return;
    if (this.head !== this.queue.length || this.unsent.length !== 0 || this.lingerTimer !== null) return;
    this.socket.end();
    // After our FIN the client is expected to close; one that keeps the socket open is cut off.
    this.lingerTimer = setTimeout(() => this.terminate(), LINGER_AFTER_END_MS);
    this.lingerTimer.unref();
  }
}

/** Bytes waiting for `drain`: appended at the end, consumed from the front. */
class ByteQueue {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Takes bytes nobody else writes to as the whole queue, without copying them; only while empty. */
  adopt(bytes: Uint8Array): void {
    if (this.length > 0) throw new Error(`ByteQueue.adopt with ${this.length} bytes queued`);
    this.buf = bytes;
    this.start = 0;
    this.end = bytes.length;
  }

  append(bytes: Uint8Array): void {
    if (this.end + bytes.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + bytes.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max((live + bytes.length) * 2, 64 * 1024));
        grown.set(this.buf.subarray(this.start, this.end), 0);
        this.buf = grown;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  shift(n: number): void {
    if (n <= 0) return;
    this.start += n;
    if (this.start >= this.end) this.clear();
  }

  clear(): void {
    this.buf = new Uint8Array(0);
    this.start = 0;
    this.end = 0;
  }
}

export async function startRespServer(opts: RespServerOptions): Promise<RespServer> {
  const encoder = new RespEncoder();
  const open = new Set<Connection>();
  let allClosed: (() => void) | null = null;
  let stopped = false;
  // Descriptors are counted (a /proc listing) when the clients opened since the last count could
  // have used half of the headroom it found, and at least once a second (limits change: prlimit).
  let countedAt = 0;
  let countAgainAt = 0;
  let retry: ReturnType<typeof setInterval> | undefined;
  let warnedAt = Number.NEGATIVE_INFINITY;
  const guardFds = (): void => {
    const now = Date.now();
    if (retry !== undefined || (open.size < countAgainAt && now - countedAt < FD_RETRY_MS)) return;
    const usage = fdUsage();
    countedAt = now;
    countAgainAt = open.size + Math.max(1, Math.floor((usage.limit - usage.open - FD_RESERVE) / 2));
    if (!fdsRunningOut(usage)) return;
    listener.stop(false);
    if (now - warnedAt >= FD_LOG_MS) {
      warnedAt = now;
      opts.log?.warn("running out of file descriptors: not accepting new RESP clients until some close", {
        open: usage.open,
        limit: usage.limit,
        clients: open.size,
      });
    }
    retry = setInterval(() => {
      const u = fdUsage();
      if (stopped || !fdsRecovered(u)) return;
      clearInterval(retry);
      retry = undefined;
      listener = listen(port);
      opts.log?.info("accepting RESP clients again", { open: u.open, limit: u.limit, clients: open.size });
    }, FD_RETRY_MS);
    retry.unref();
  };
  const options: TCPSocketListenOptions<Connection> = {
    hostname: opts.host,
    port: opts.port,
    // A client that sends FIN after its last command (nc -N, scripts) still gets its replies.
    allowHalfOpen: true,
    ...(opts.tls ? { tls: opts.tls } : {}),
    socket: {
      binaryType: "uint8array",
      open(socket) {
        const conn = new Connection(socket, encoder, opts.limits, opts.pushLimit);
        socket.data = conn;
        open.add(conn);
        try {
          conn.handler = opts.onConnection(conn);
          if (conn.handler.refusal) conn.refuse(conn.handler.refusal);
        } catch (e) {
          socket.end(encodeReply(internalError(e), 2));
        }
        guardFds();
      },
      data(socket, chunk) {
        socket.data.onData(chunk);
      },
      handshake(socket, _success, authorizationError) {
        if (!opts.refuseUnverifiedPeers || authorizationError === null) return;
        // No certificate at all is allowed; one that was sent must verify.
        const cert = socket.getPeerCertificate();
        if (cert && Object.keys(cert).length > 0) socket.terminate();
      },
      drain(socket) {
        socket.data.onDrain();
      },
      end(socket) {
        // The client shut down its sending side: answer what it sent, then close.
        socket.data.handler?.onPeerEnd?.();
        socket.data.close();
      },
      close(socket) {
        const conn = socket.data;
        open.delete(conn);
        conn.onClosed();
        if (open.size === 0 && allClosed !== null) allClosed();
      },
      error(socket) {
        socket.terminate();
      },
    },
  };
  let listener: TCPSocketListener<Connection> = Bun.listen<Connection>(options);
  const port = listener.port;
  let tls = opts.tls;
  const listen = (p: number) => Bun.listen<Connection>({ ...options, ...(tls ? { tls } : {}), port: p });
  return {
    port,
    connections: () => open.size,
    reloadTls(next) {
      if (!opts.tls) throw new Error("this listener does not serve TLS");
      // Bun's listener.reload takes handlers only: the new certificates need a new listening socket.
      // While descriptors run short the listener is down, and the retry listens with these.
      const previous = tls;
      tls = next;
      if (retry !== undefined || stopped) return;
      listener.stop(false);
      try {
        listener = listen(port);
      } catch (e) {
        tls = previous;
        listener = listen(port);
        throw e;
      }
    },
    async stop() {
      stopped = true;
      clearInterval(retry);
      listener.stop(true);
      if (open.size === 0) return;
      const done = new Promise<void>((resolve) => (allClosed = resolve));
      for (const conn of open) conn.terminate();
      await done;
    },
  };
}
