// Node-to-node TCP transport on raft_addr (docs/design/multiraft.md): length-prefixed msgpack frames, every
// message for a peer queued in one event-loop turn sent as one frame (Raft messages of all groups
// ride together), a socket's frames of one turn written together, requests with replies for
// proxying, reconnect with back-off, optional AES-256-GCM
// sealing of every frame with per-connection keys derived from cluster_secret
// (./session-cipher.ts), and optional mutual TLS.
//
// Each node dials each peer it sends to, so a pair of nodes has two connections, one per
// direction; replies to requests travel back on the connection the request came in on.
// A connection starts with a handshake: the dialer's HELLO (node id, cluster id, its nonce), the
// listener's CHALLENGE (its nonce). The dialer sends nothing else before the CHALLENGE, so a
// refused connection carried no message, and the listener's fresh nonce keys the connection.
import type { Socket, TCPSocketListener } from "bun";
import { Packr } from "msgpackr";
import { RefusalLog } from "../lib/refusal-log.ts";
import { parseHostPort, type HostPort } from "../net/hostport.ts";
import type { X509Certificate } from "node:crypto";
import { caCertificates, issuedByCa } from "./cluster-tls.ts";
import { encodeFrame, FrameDecoder, FrameError } from "./frame.ts";
import { LINK_DELAYS } from "./link-delay.ts";
import { freshNonce, HANDSHAKE_NONCE, openHandshake, SessionCipher, sealHandshake } from "./session-cipher.ts";

/** Mutual TLS between nodes: each side presents its certificate and checks the other's against the CA. */
export interface ClusterTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface TransportOptions {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly host: string;
  readonly port: number;
  /**
   * Keys derived from cluster_secret: the first seals this node's handshakes, any of them opens a
   * peer's. With keys, every frame is sealed; peers without one of them cannot connect or inject.
   */
  readonly keys?: readonly Uint8Array[];
  readonly tls?: ClusterTls;
  /** One line per refused peer address and reason per minute (src/lib/refusal-log.ts). */
  readonly onRefused?: (line: string) => void;
  readonly maxFrameBytes?: number;
  /** One-way messages, in the order the peer sent them. */
  readonly onMessage: (from: string, msg: unknown) => void;
  /** Requests; the resolved value (or the error's message) goes back to the caller. */
  readonly onRequest?: (from: string, body: unknown) => Promise<unknown>;
  /** The connection to a peer closed or could not be made (a crashed peer's sockets close at once). */
  readonly onPeerLost?: (peer: string) => void;
  readonly onError?: (what: string, e: unknown) => void;
}

export interface TransportStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Socket writes (one `sendto` each): a turn's frames for one peer share one. */
  writes: number;
  reconnects: number;
  /** Frames dropped: undecodable, failed authentication, wrong cluster, oversized. */
  rejected: number;
}

/** A request whose reply did not come in time: it may or may not have been carried out. */
export class RequestTimeout extends Error {
  override readonly name = "RequestTimeout";
}

/** A request that never left this node (no connection to the peer): retrying it is safe. */
export class PeerUnreachable extends Error {
  override readonly name = "PeerUnreachable";
}

export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;
/**
 * A request that times out on a connection that has carried nothing back for this long closes it,
 * so the next frame dials afresh. After a network partition heals, a connection from before the
 * cut still looks open, but TCP retransmits on it with an exponential back-off that reaches
 * seconds (measured: replies 10-13 s late after a 15 s cut); a new connection is up in one round trip.
 */
const STALLED_MS = 2000;
/**
 * A dial not connected by then is abandoned and retried. A SYN sent while the peer is cut off is
 * retransmitted with the kernel's back-off (1, 3, 7, 15, 31 s …): without this, a dial started
 * during a network partition could stay pending for tens of seconds after it heals, and nothing
 * reaches the peer meanwhile (a deposed leader there never hears of the newer term).
 */
const CONNECT_TIMEOUT_MS = 2000;
const HELLO = 0;
const BATCH = 1;
const REQUEST = 2;
const REPLY = 3;
const CHALLENGE = 4;

type Wire =
  | [typeof HELLO, string, string, Uint8Array] // node id, cluster id, dialer's nonce
  | [typeof CHALLENGE, Uint8Array] // listener's nonce
  | [typeof BATCH, unknown[]]
  | [typeof REQUEST, number, unknown]
  | [typeof REPLY, number, boolean, unknown];

/** Bun's error for a certificate that does not name the dialled IP. */
const NAME_MISMATCH = "ERR_TLS_CERT_ALTNAME_INVALID";

interface InboundState {
  decoder: FrameDecoder;
  peer: string | null;
  out: WriteQueue;
  addr: string;
  /** The peer's certificate was checked (always true without TLS). */
  verified: boolean;
  /** The connection's ciphers once the handshake is done (with keys). */
  rx: SessionCipher | null;
  tx: SessionCipher | null;
}

/**
 * Frames for one socket, strictly in the order written (sealed frames must arrive in their
 * counter's order). Those written in one turn (a callback and the promise reactions it sets off:
 * a leader's replies to every request one commit settles, the Raft batch) leave in one `write`
 * when the transport flushes the turn in a microtask, or as soon as COALESCE_BYTES wait, so a
 * burst is neither held back nor copied whole: a `sendto` per frame was a fifth of a member's CPU
 * under write load. Flushing later, at `setImmediate`, also joined a proxy's requests from
 * different clients but delayed every frame by an event-loop iteration: about half the proxied
 * SET/s (docs/PERFORMANCE.md). Bytes the socket did not take are sent again on drain (Bun's write
 * returns the bytes taken).
 */
class WriteQueue {
  private chunks: Uint8Array[] = [];
  private turn: Uint8Array[] = [];
  private turnBytes = 0;
  constructor(
    private readonly socket: Socket<unknown>,
    /** Called for the first frame of a turn: the transport flushes the queue at the turn's end. */
    private readonly schedule: (q: WriteQueue) => void,
    private readonly stats: TransportStats,
  ) {}
  write(data: Uint8Array): void {
    if (data.length >= COALESCE_BYTES) {
      // A large frame (a big value) goes as it is rather than being copied once more.
      this.flush();
      this.send(data);
      return;
    }
    if (this.turn.length === 0) this.schedule(this);
    this.turn.push(data);
    this.turnBytes += data.length;
    if (this.turnBytes >= COALESCE_BYTES) this.flush();
  }
  flush(): void {
    if (this.turn.length === 0) return;
    const frames = this.turn;
    this.turn = [];
    if (frames.length === 1) {
      this.turnBytes = 0;
      this.send(frames[0]!);
      return;
    }
    const all = new Uint8Array(this.turnBytes);
    this.turnBytes = 0;
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    this.send(all);
  }
  private send(data: Uint8Array): void {
    if (this.chunks.length > 0) {
      this.chunks.push(data);
      return;
    }
    this.stats.writes++;
    const n = this.socket.write(data);
    if (n < data.length) this.chunks.push(data.subarray(Math.max(n, 0)));
  }
  drain(): void {
    while (this.chunks.length > 0) {
      const head = this.chunks[0]!;
      this.stats.writes++;
      const n = this.socket.write(head);
      if (n < head.length) {
        this.chunks[0] = head.subarray(Math.max(n, 0));
        return;
      }
      this.chunks.shift();
    }
  }
}

/** Frames of one turn for a socket beyond this many bytes are written at once, not at the turn's end. */
export const COALESCE_BYTES = 64 * 1024;

class Peer {
  socket: Socket<Peer> | null = null;
  /** The socket's queue; set at open, used for the handshake and, once `ready`, for everything. */
  out: WriteQueue | null = null;
  /** The listener answered the HELLO: frames may flow. */
  ready = false;
  helloNonce: Uint8Array | null = null;
  tx: SessionCipher | null = null;
  rx: SessionCipher | null = null;
  /** This side refused the peer's TLS certificate (logged already). */
  certRefused = false;
  connecting = false;
  /** Counts dials; a dial's callbacks act only while it is the latest (an abandoned one is closed). */
  dials = 0;
  backoff = BACKOFF_MIN_MS;
  /** When the outbound connection last carried a reply back (or opened). */
  lastReceivedAt = 0;
  retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Messages of this turn, sent as one frame at the end of it. */
  batch: unknown[] = [];
  /** Encoded messages (not yet sealed) waiting for a connection; bounded so a dead peer cannot eat memory. */
  backlog: { plain: Uint8Array; request?: number }[] = [];
  decoder: FrameDecoder;
  constructor(
    readonly id: string,
    public addr: string,
    maxFrame: number,
  ) {
    this.decoder = new FrameDecoder(maxFrame);
  }
}

const MAX_BACKLOG_FRAMES = 256;
/** A HELLO is a node id, a cluster id and a nonce, sealed: well under this. */
const MAX_HELLO_FRAME = 4096;

export class Transport {
  readonly stats: TransportStats = {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    writes: 0,
    reconnects: 0,
    rejected: 0,
  };
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private readonly peers = new Map<string, Peer>();
  private readonly pending = new Map<
    number,
    {
      peer: string;
      sent: boolean;
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  private nextRequestId = 1;
  private flushScheduled = false;
  /** Write queues holding frames of this turn; flushed together at its end. */
  private readonly turnQueues = new Set<WriteQueue>();
  private readonly scheduleTurn = (q: WriteQueue): void => {
    if (this.turnQueues.size === 0) queueMicrotask(() => this.flushTurn());
    this.turnQueues.add(q);
  };
  private closed = false;
  private listener!: TCPSocketListener<InboundState>;
  private readonly maxFrame: number;
  private readonly refusals: RefusalLog;
  /** tls_cluster's certificates and CAs; replaced by reloadTls. */
  private tls: ClusterTls | undefined;
  private cas: readonly X509Certificate[];

  private constructor(private readonly opts: TransportOptions) {
    this.maxFrame = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    this.tls = opts.tls;
    this.cas = opts.tls ? caCertificates(opts.tls.ca) : [];
    this.refusals = new RefusalLog((line) => opts.onRefused?.(line));
  }

  static listen(opts: TransportOptions): Transport {
    const t = new Transport(opts);
    t.listener = t.listenOn(opts.port);
    return t;
  }

  /**
   * New certificates (SIGHUP) for connections made from now on: a new listening socket, as the
   * RESP TLS port's (Bun's listener.reload takes handlers only), and new dials. Open connections
   * keep theirs. A certificate the new socket refuses keeps the previous ones, and throws.
   */
  reloadTls(next: ClusterTls): void {
    if (!this.tls) throw new Error("the transport does not use tls_cluster");
    if (this.closed) return;
    const previous = { tls: this.tls, cas: this.cas };
    const port = this.port;
    this.listener.stop(false);
    this.tls = next;
    try {
      this.cas = caCertificates(next.ca);
      this.listener = this.listenOn(port);
    } catch (e) {
      ({ tls: this.tls, cas: this.cas } = previous);
      this.listener = this.listenOn(port);
      throw e;
    }
  }

  private listenOn(port: number): TCPSocketListener<InboundState> {
    const opts = this.opts;
    const tls = this.tls;
    return Bun.listen<InboundState>({
      hostname: opts.host,
      port,
      tls: tls && { ...tls, requestCert: true, rejectUnauthorized: false },
      socket: {
        open: (s) => {
          s.data = {
            // Until the HELLO is accepted, a stranger cannot make this node buffer a large frame.
            decoder: new FrameDecoder(MAX_HELLO_FRAME),
            peer: null,
            out: new WriteQueue(s as Socket<unknown>, this.scheduleTurn, this.stats),
            addr: s.remoteAddress,
            verified: !tls,
            rx: null,
            tx: null,
          };
        },
        // Checked here rather than by the TLS layer so that the refusal is logged with its reason.
        handshake: (s, _ok, error) => {
          if (!error) s.data.verified = true;
          else if (connectionLost(error)) s.end();
          else this.refuse(s, s.data.addr, `TLS handshake failed: ${describeTlsError(error)}`);
        },
        data: (s, chunk) => this.onInbound(s, chunk),
        drain: (s) => s.data.out.drain(),
        error: (_s, e) => this.opts.onError?.("inbound connection", e),
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  /** Queues a message for the peer; everything queued in this turn leaves as one frame. */
  send(peerId: string, addr: string, msg: unknown): void {
    if (this.closed) return;
    const peer = this.peer(peerId, addr);
    peer.batch.push(msg);
    this.scheduleFlush();
  }

  /** Sends a request and waits for its reply; RequestTimeout means the outcome is unknown. */
  request(peerId: string, addr: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error("transport is closed"));
    const peer = this.peer(peerId, addr);
    // The last dial failed and the next waits out its back-off (up to BACKOFF_MAX_MS): a request
    // queued now would wait that long only to fail. Failing at once lets a proxying node ask
    // another replica (a crashed leader's successor) straight away; nothing was sent.
    if (!peer.ready && peer.retryTimer)
      return Promise.reject(
        new PeerUnreachable(
          `${peerId} at ${peer.addr}: the last connection attempt failed; retrying in the background`,
        ),
      );
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeout(`no reply from ${peerId} within ${timeoutMs} ms`));
        if (peer.socket && Date.now() - peer.lastReceivedAt >= STALLED_MS) peer.socket.terminate();
      }, timeoutMs);
      this.pending.set(id, { peer: peerId, sent: false, resolve, reject, timer });
      this.sendFrame(peer, [REQUEST, id, body], id);
    });
  }

  /**
   * The peer is reachable again (a healed partition): drops the outbound connection, or abandons
   * a dial still pending and the back-off before the next, and dials afresh when frames wait.
   */
  redial(peerId: string): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    p.backoff = BACKOFF_MIN_MS;
    if (p.socket) {
      p.socket.terminate();
      return;
    }
    if (p.connecting) {
      p.dials++;
      p.connecting = false;
    }
    if (p.retryTimer) {
      clearTimeout(p.retryTimer);
      p.retryTimer = null;
    }
    if (p.backlog.length > 0 || p.batch.length > 0) this.connect(p);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushTurn(); // what was written before close leaves before the FIN, as without coalescing

    for (const p of this.peers.values()) {
      if (p.retryTimer) clearTimeout(p.retryTimer);
      p.socket?.end();
    }
    for (const [, r] of this.pending) {
      clearTimeout(r.timer);
      r.reject(new Error("transport closed"));
    }
    this.pending.clear();
    this.listener.stop(true);
  }

  private peer(id: string, addr: string): Peer {
    let p = this.peers.get(id);
    if (!p) {
      p = new Peer(id, addr, this.maxFrame);
      this.peers.set(id, p);
    } else if (p.addr !== addr) {
      // The peer moved (restart on another address): drop the old connection.
      p.addr = addr;
      p.out?.flush();
      p.socket?.end();
    }
    return p;
  }

  /** Writes every frame of this turn still queued, one write per socket. */
  private flushTurn(): void {
    const queues = [...this.turnQueues];
    this.turnQueues.clear();
    for (const q of queues) q.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      for (const p of this.peers.values()) {
        if (p.batch.length === 0) continue;
        const msgs = p.batch;
        p.batch = [];
        this.sendFrame(p, [BATCH, msgs]);
      }
    });
  }

  private encode(w: Wire, tx: SessionCipher | null): Uint8Array {
    return this.frame(this.packr.pack(w), tx);
  }

  private frame(plain: Uint8Array, tx: SessionCipher | null): Uint8Array {
    return encodeFrame(tx ? tx.seal(plain) : plain);
  }

  /** A handshake frame: sealed with this node's cluster key when it has one. */
  private handshakeFrame(w: Wire, key: Uint8Array | undefined): Uint8Array {
    const plain = this.packr.pack(w);
    return encodeFrame(key ? sealHandshake(key, plain) : plain);
  }

  private sendFrame(p: Peer, w: Wire, request?: number): void {
    const delay = LINK_DELAYS.get(p.id);
    if (delay) {
      setTimeout(() => this.sendFrameNow(p, w, request), delay);
      return;
    }
    this.sendFrameNow(p, w, request);
  }

  private sendFrameNow(p: Peer, w: Wire, request?: number): void {
    if (this.closed) return;
    if (p.ready && p.out) {
      this.write(p.out, this.encode(w, p.tx), request);
      return;
    }
    if (p.backlog.length >= MAX_BACKLOG_FRAMES) {
      const dropped = p.backlog.shift()!;
      if (dropped.request !== undefined)
        this.fail(dropped.request, new PeerUnreachable(`${p.id}: too many frames waiting for a connection`));
    }
    // Sealed once the connection's keys exist; msgpackr reuses its buffer, hence the copy.
    p.backlog.push({ plain: this.packr.pack(w).slice(), request });
    this.connect(p);
  }

  private fail(request: number, e: Error): void {
    const r = this.pending.get(request);
    if (!r) return;
    this.pending.delete(request);
    clearTimeout(r.timer);
    r.reject(e);
  }

  private write(out: WriteQueue, frame: Uint8Array, request?: number): void {
    this.stats.bytesSent += frame.length;
    this.stats.framesSent++;
    out.write(frame);
    const r = request === undefined ? undefined : this.pending.get(request);
    if (r) r.sent = true;
  }

  private connect(p: Peer): void {
    if (p.connecting || p.socket || p.retryTimer || this.closed) return;
    p.connecting = true;
    let to: HostPort;
    try {
      to = parseHostPort(p.addr);
    } catch (e) {
      this.opts.onError?.(`connection to ${p.id}`, e);
      this.lost(p);
      return;
    }
    const dial = ++p.dials;
    const current = () => dial === p.dials;
    const dialTimer = setTimeout(() => {
      if (!current() || !p.connecting) return;
      p.dials++;
      this.lost(p);
    }, CONNECT_TIMEOUT_MS);
    const failed = () => {
      clearTimeout(dialTimer);
      if (current()) this.lost(p);
    };
    const tls = this.tls;
    Bun.connect<Peer>({
      hostname: to.host,
      port: to.port,
      data: p,
      tls: tls && { ...tls, rejectUnauthorized: false },
      socket: {
        open: (s) => {
          clearTimeout(dialTimer);
          if (!current()) {
            s.terminate();
            return;
          }
          p.connecting = false;
          p.socket = s;
          p.out = new WriteQueue(s as Socket<unknown>, this.scheduleTurn, this.stats);
          p.lastReceivedAt = Date.now();
          p.decoder = new FrameDecoder(this.maxFrame);
          if (!tls) this.hello(p);
        },
        // Nodes dial each other by IP: a certificate need not name it, but must chain to the cluster's CA.
        handshake: (s, _ok, error) => {
          const der = () => (s.getPeerCertificate() as { raw?: Uint8Array } | undefined)?.raw;
          const nameOnly = (error as { code?: string } | null)?.code === NAME_MISMATCH;
          if (error && !(nameOnly && issuedByCa(der(), this.cas, Date.now()))) {
            this.refusals.report(
              p.addr,
              `refused ${p.id} at ${p.addr}: its certificate: ${describeTlsError(error)}`,
              Date.now(),
            );
            p.certRefused = true;
            s.terminate();
          } else this.hello(p);
        },
        data: (_s, chunk) => this.onOutboundData(p, chunk),
        drain: () => p.out?.drain(),
        close: failed,
        error: (_s, e) => this.opts.onError?.(`connection to ${p.id}`, e),
        connectError: failed,
      },
    }).catch(failed);
  }

  private hello(p: Peer): void {
    if (!p.out) return;
    p.helloNonce = freshNonce();
    const key = this.opts.keys?.[0];
    this.write(p.out, this.handshakeFrame([HELLO, this.opts.nodeId, this.opts.clusterId, p.helloNonce], key));
  }

  /** The listener's CHALLENGE: derive the connection's keys and send what waited. */
  private challenged(p: Peer, frame: Uint8Array): boolean {
    const keys = this.opts.keys;
    let plain: Uint8Array = frame;
    let key: Uint8Array | undefined;
    if (keys) {
      const opened = openHandshake(keys, frame);
      if (!opened) return false;
      ({ plain, key } = opened);
    }
    const w = this.unpack(plain);
    if (!w || w[0] !== CHALLENGE || !(w[1] instanceof Uint8Array) || !p.out || !p.helloNonce) return false;
    if (key) ({ tx: p.tx, rx: p.rx } = SessionCipher.pair(key, p.helloNonce, w[1], true));
    p.ready = true;
    p.backoff = BACKOFF_MIN_MS;
    const backlog = p.backlog;
    p.backlog = [];
    for (const f of backlog) this.write(p.out, this.frame(f.plain, p.tx), f.request);
    return true;
  }

  private lost(p: Peer): void {
    if (p.socket && !p.ready && !p.certRefused && !this.closed)
      this.refusals.report(
        p.addr,
        `${p.id} at ${p.addr} closed the connection before the handshake ended: it refused this node ` +
          "(compare cluster_secret, discovery_cluster_id and the TLS certificates of both nodes; its log names the reason)",
        Date.now(),
      );
    p.connecting = false;
    p.socket = null;
    p.out = null;
    p.ready = false;
    p.certRefused = false;
    p.helloNonce = null;
    p.tx = p.rx = null;
    // Requests waiting for this peer fail now rather than at their timeout: those never sent are
    // safe to retry elsewhere; those sent on the lost connection have an unknown outcome.
    p.backlog = p.backlog.filter((f) => f.request === undefined);
    for (const [id, r] of this.pending) {
      if (r.peer !== p.id) continue;
      this.fail(
        id,
        r.sent
          ? new RequestTimeout(`connection to ${p.id} lost before its reply`)
          : new PeerUnreachable(`cannot connect to ${p.id} at ${p.addr}`),
      );
    }
    if (!this.closed) this.opts.onPeerLost?.(p.id);
    if (this.closed || p.retryTimer) return;
    // Only reconnect when there is something to send; idle peers reconnect on demand.
    if (p.backlog.length === 0 && p.batch.length === 0) return;
    this.stats.reconnects++;
    p.retryTimer = setTimeout(() => {
      p.retryTimer = null;
      this.connect(p);
    }, p.backoff);
    p.backoff = Math.min(p.backoff * 2, BACKOFF_MAX_MS);
  }

  private decode(frame: Uint8Array, rx: SessionCipher | null): Wire | undefined {
    const plain = rx ? rx.open(frame) : frame;
    return plain ? this.unpack(plain) : undefined;
  }

  private unpack(plain: Uint8Array): Wire | undefined {
    try {
      const w = this.packr.unpack(plain) as unknown;
      return Array.isArray(w) && typeof w[0] === "number" ? (w as Wire) : undefined;
    } catch {
      return undefined;
    }
  }

  private refuse(s: { end(): void }, addr: string, reason: string, kind = reason): void {
    this.stats.rejected++;
    this.refusals.report(addr, `refused a connection from ${addr} on the Raft port: ${reason}`, Date.now(), kind);
    s.end();
  }

  /** The first frame of an inbound connection: a HELLO of a node of this cluster, else a reason to refuse. */
  private greet(s: Socket<InboundState>, frame: Uint8Array): string | { reason: string; kind: string } | undefined {
    const keys = this.opts.keys;
    let plain: Uint8Array = frame;
    let key: Uint8Array | undefined;
    if (keys) {
      const opened = openHandshake(keys, frame);
      if (!opened)
        return this.unpack(frame)?.[0] === HELLO
          ? "sent an unencrypted hello: cluster_secret is not set on that node"
          : "its hello failed authentication: its cluster_secret differs from this node's";
      ({ plain, key } = opened);
    }
    const w = this.unpack(plain);
    if (!w || w[0] !== HELLO || typeof w[1] !== "string" || !(w[3] instanceof Uint8Array))
      return keys
        ? "sent a malformed hello"
        : "sent an undecodable hello: that node may have a cluster_secret, and this one has none";
    if (w[2] !== this.opts.clusterId)
      return {
        reason: `node ${quote(w[1])} belongs to cluster id ${quote(w[2])}, this node to ${quote(this.opts.clusterId)}`,
        kind: "cluster id",
      };
    if (w[3].length !== HANDSHAKE_NONCE) return "sent a malformed hello";
    s.data.decoder = new FrameDecoder(this.maxFrame);
    const nonce = freshNonce();
    if (key) ({ tx: s.data.tx, rx: s.data.rx } = SessionCipher.pair(key, w[3], nonce, false));
    s.data.peer = w[1];
    this.write(s.data.out, this.handshakeFrame([CHALLENGE, nonce], key));
    return undefined;
  }

  private frames(decoder: FrameDecoder, chunk: Uint8Array, s: { end(): void }): Uint8Array[] {
    this.stats.bytesReceived += chunk.length;
    try {
      return decoder.push(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.stats.rejected++;
      s.end();
      return [];
    }
  }

  private onInbound(s: Socket<InboundState>, chunk: Uint8Array): void {
    // Bytes before a TLS handshake ended are not TLS (a plain dialer): the handshake's failure is logged.
    if (!s.data.verified) {
      this.stats.rejected++;
      s.end();
      return;
    }
    for (const frame of this.frames(s.data.decoder, chunk, s)) {
      this.stats.framesReceived++;
      if (s.data.peer === null) {
        // The first frame must introduce a node of our cluster; anything else closes the connection.
        const refused = this.greet(s, frame);
        if (refused === undefined) continue;
        if (typeof refused === "string") this.refuse(s, s.data.addr, refused);
        else this.refuse(s, s.data.addr, refused.reason, refused.kind);
        return;
      }
      const from = s.data.peer;
      const w = this.decode(frame, s.data.rx);
      if (!w) {
        this.refuse(
          s,
          s.data.addr,
          `node ${quote(from)}: a frame failed authentication (forged or replayed)`,
          "frame authentication",
        );
        return;
      }
      if (w[0] === BATCH && Array.isArray(w[1])) {
        for (const m of w[1]) this.deliver(from, m);
      } else if (w[0] === REQUEST && typeof w[1] === "number") {
        this.answer(s, from, w[1], w[2]);
      } else {
        this.stats.rejected++;
      }
    }
  }

  private deliver(from: string, msg: unknown): void {
    try {
      this.opts.onMessage(from, msg);
    } catch (e) {
      this.opts.onError?.(`message from ${from}`, e);
    }
  }

  private answer(s: Socket<InboundState>, from: string, id: number, body: unknown): void {
    const handler = this.opts.onRequest;
    const reply = (ok: boolean, value: unknown) => {
      const out = () => {
        if (!this.closed) this.write(s.data.out, this.encode([REPLY, id, ok, value], s.data.tx));
      };
      const delay = LINK_DELAYS.get(from);
      if (delay) setTimeout(out, delay);
      else out();
    };
    if (!handler) {
      reply(false, "this node does not serve requests");
      return;
    }
    handler(from, body).then(
      (v) => reply(true, v),
      (e: unknown) => reply(false, e instanceof Error ? e.message : String(e)),
    );
  }

  private onOutboundData(p: Peer, chunk: Uint8Array): void {
    p.lastReceivedAt = Date.now();
    const socket = p.socket ?? { end() {} };
    for (const frame of this.frames(p.decoder, chunk, socket)) {
      this.stats.framesReceived++;
      if (!p.ready) {
        if (this.challenged(p, frame)) continue;
        this.stats.rejected++;
        this.refusals.report(
          p.addr,
          `${p.id} at ${p.addr} answered the hello with something other than its challenge`,
          Date.now(),
        );
        socket.end();
        return;
      }
      const w = this.decode(frame, p.rx);
      if (!w || w[0] !== REPLY) {
        this.stats.rejected++;
        continue;
      }
      const r = this.pending.get(w[1]);
      if (!r) continue; // timed out already
      this.pending.delete(w[1]);
      clearTimeout(r.timer);
      if (w[2]) r.resolve(w[3]);
      else r.reject(new Error(`${p.id}: ${String(w[3])}`));
    }
  }
}

function describeTlsError(e: Error): string {
  const code = (e as { code?: string }).code;
  return code ? `${code} (${e.message})` : e.message;
}

/** A string a peer sent, fit for one log line: quoted (newlines escaped) and bounded. */
function quote(v: unknown): string {
  return JSON.stringify(String(v).slice(0, 64));
}

/** A handshake cut short by the peer going away (a killed node) is no refusal to log. */
function connectionLost(e: Error): boolean {
  const code = (e as { code?: string }).code ?? "";
  return code === "ECONNRESET" || code === "EPIPE" || /socket hang up|closed/i.test(e.message);
}
