// Gossip packets on the wire: one version/mode byte, then msgpack (plain) or an AES-256-GCM
// sealed msgpack body. Every decode is size-bounded and validated; failures are reasons to
// count, never exceptions.
//
// Replay across restarts: each start of a node draws a fresh random epoch, and a sealed packet
// names the epoch of the node it is for. A node opens only packets for its current epoch, so a
// packet captured before it restarted is refused after, with nothing stored (as the Raft
// transport's listener nonce, src/transport/transport.ts). A sender learns a peer's epoch from
// the peer's own packets; until then (or after the peer restarted) its packet is refused with a
// NOTICE, sealed, naming the epoch and echoing the refused packet's nonce, and the sender sends
// that packet again for the new epoch: one extra round trip per peer and start, no packet lost.
// Only a packet sealed in the last RESEND_MS is sent again: a NOTICE provoked by replaying an
// older capture makes the sender repeat nothing older than a packet the network delayed.
import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";
import { parsePacket } from "./core/validate.ts";
import type { Packet, Send } from "./core/types.ts";
import { deriveClusterKey, FrameCipher } from "./cipher.ts";

const MODE_PLAIN = 0x00;
const MODE_SEALED = 0x02;
const MODE_NOTICE = 0x03;
const EPOCH_BYTES = 8;
const NONCE_BYTES = 12;
/** An epoch no node has: the sender has not heard from the peer yet. */
const UNKNOWN_EPOCH = Buffer.alloc(EPOCH_BYTES);
/** Sent packets kept for a resend after a NOTICE; a NOTICE comes back within a round trip. */
const PENDING_MAX = 1024;
const RESEND_MS = 2_000;
/** Peers whose epoch is remembered; past this the oldest are forgotten (and learnt again). */
const EPOCHS_MAX = 4096;

/** `stale`: sealed for another start of this node (a replay after a restart, or a peer that has not heard of it). */
export type DropReason = "oversize" | "unencrypted" | "encrypted" | "auth" | "replay" | "stale" | "decode" | "invalid";

export type Decoded =
  | { ok: true; packet: Packet }
  /** `reply`: a NOTICE to send back to the refused packet's sender. */
  | { ok: false; reason: DropReason; reply?: { to: string; frame: Buffer } }
  /** A NOTICE: `resend` is the packet it refused, to send again (now sealed for the right epoch). */
  | { ok: false; reason: "notice"; resend?: Send };

export class GossipWire {
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true });
  private readonly cipher: FrameCipher | null;
  /** This start's epoch: random, so it needs no storage to differ from every earlier start. */
  readonly epoch: Buffer = randomBytes(EPOCH_BYTES);
  /** Each peer's epoch, by the address packets to it are sent to. */
  private readonly epochs = new Map<string, Buffer>();
  /** Sealed packets by nonce, until a NOTICE asks for one again (insertion order: oldest first). */
  private readonly pending = new Map<string, { send: Send; at: number }>();

  /** `secret`: cluster_secret, or undefined for plaintext gossip; `accepted`: more secrets packets may be sealed with. */
  /** `clock`: milliseconds, for how old a packet a NOTICE asks for again may be. */
  constructor(
    secret: string | undefined,
    accepted: readonly string[] = [],
    private readonly clock: () => number = () => performance.now(),
  ) {
    const key = (s: string) => deriveClusterKey(s, "gossip");
    this.cipher = secret === undefined ? null : new FrameCipher(key(secret), "flydb-gossip", accepted.map(key));
  }

  /** Encoded size of a value, for the core's packet budget. */
  readonly measure = (value: unknown): number => this.packr.pack(value).length;

  /** The bytes of `s.packet` for `s.to`: sealed for the epoch of `s.to` last learnt. */
  encode(s: Send): Buffer {
    const body = this.packr.pack(s.packet);
    if (this.cipher === null) {
      // msgpackr returns a view of its reusable buffer: copy before it is sent asynchronously.
      const out = Buffer.allocUnsafe(body.length + 1);
      out[0] = MODE_PLAIN;
      out.set(body, 1);
      return out;
    }
    const to = this.epochs.get(s.to) ?? UNKNOWN_EPOCH;
    const sealed = this.cipher.seal(Buffer.concat([to, this.epoch, body]));
    this.pending.set(sealed.subarray(0, NONCE_BYTES).toString("base64"), { send: s, at: this.clock() });
    if (this.pending.size > PENDING_MAX) this.pending.delete(this.pending.keys().next().value!);
    return Buffer.concat([Buffer.of(MODE_SEALED), sealed]);
  }

  decode(bytes: Uint8Array, maxBytes: number): Decoded {
    if (bytes.length > maxBytes) return { ok: false, reason: "oversize" };
    if (bytes.length < 2) return { ok: false, reason: "decode" };
    const mode = bytes[0];
    if (mode === MODE_PLAIN) {
      if (this.cipher !== null) return { ok: false, reason: "unencrypted" };
      return this.parse(bytes.subarray(1));
    }
    if (mode !== MODE_SEALED && mode !== MODE_NOTICE) return { ok: false, reason: "decode" };
    if (this.cipher === null) return { ok: false, reason: "encrypted" };
    const opened = this.cipher.open(bytes.subarray(1));
    if (!opened.ok) return opened;
    if (mode === MODE_NOTICE) return this.notice(opened.plain);
    if (opened.plain.length < 2 * EPOCH_BYTES) return { ok: false, reason: "decode" };
    const parsed = this.parse(opened.plain.subarray(2 * EPOCH_BYTES));
    if (!parsed.ok) return parsed;
    const from = Buffer.from(opened.plain.subarray(EPOCH_BYTES, 2 * EPOCH_BYTES));
    if (!opened.plain.subarray(0, EPOCH_BYTES).equals(this.epoch)) {
      // Authentic but not for this start: say which epoch is, so a live sender sends it again.
      const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
      const notice = this.cipher.seal(Buffer.concat([this.epoch, nonce]));
      return {
        ok: false,
        reason: "stale",
        reply: { to: parsed.packet.a, frame: Buffer.concat([Buffer.of(MODE_NOTICE), notice]) },
      };
    }
    this.learn(parsed.packet.a, from);
    return parsed;
  }

  /** A NOTICE names the peer's epoch and echoes the nonce of the packet it refused. */
  private notice(plain: Buffer): Decoded {
    if (plain.length !== EPOCH_BYTES + NONCE_BYTES) return { ok: false, reason: "decode" };
    const id = plain.subarray(EPOCH_BYTES).toString("base64");
    const refused = this.pending.get(id);
    // Only for a recent packet of this start, once: an old NOTICE replayed changes nothing.
    if (!refused) return { ok: false, reason: "notice" };
    this.pending.delete(id);
    this.learn(refused.send.to, Buffer.from(plain.subarray(0, EPOCH_BYTES)));
    if (this.clock() - refused.at > RESEND_MS) return { ok: false, reason: "notice" };
    return { ok: false, reason: "notice", resend: refused.send };
  }

  private learn(addr: string, epoch: Buffer): void {
    this.epochs.delete(addr);
    this.epochs.set(addr, epoch);
    if (this.epochs.size > EPOCHS_MAX) this.epochs.delete(this.epochs.keys().next().value!);
  }

  private parse(body: Uint8Array): Decoded {
    let value: unknown;
    try {
      value = this.packr.unpack(body);
    } catch {
      return { ok: false, reason: "decode" };
    }
    const packet = parsePacket(value);
    return packet === null ? { ok: false, reason: "invalid" } : { ok: true, packet };
  }
}
