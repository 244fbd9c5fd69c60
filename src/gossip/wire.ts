// Gossip packets on the wire: one version/mode byte, then msgpack (plain) or an AES-256-GCM
// sealed msgpack body. Every decode is size-bounded and validated; failures are reasons to
// count, never exceptions.
import { Packr } from "msgpackr";
import { parsePacket } from "./core/validate.ts";
import type { Packet } from "./core/types.ts";
import { deriveClusterKey, FrameCipher } from "./cipher.ts";

const MODE_PLAIN = 0x00;
const MODE_SEALED = 0x01;

export type DropReason = "oversize" | "unencrypted" | "encrypted" | "auth" | "replay" | "decode" | "invalid";

export type Decoded = { ok: true; packet: Packet } | { ok: false; reason: DropReason };

export class GossipWire {
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true });
  private readonly cipher: FrameCipher | null;

  /** `secret`: cluster_secret, or undefined for plaintext gossip; `accepted`: more secrets packets may be sealed with. */
  constructor(secret: string | undefined, accepted: readonly string[] = []) {
    const key = (s: string) => deriveClusterKey(s, "gossip");
    this.cipher = secret === undefined ? null : new FrameCipher(key(secret), "flydb-gossip", accepted.map(key));
  }

  /** Encoded size of a value, for the core's packet budget. */
  readonly measure = (value: unknown): number => this.packr.pack(value).length;

  encode(packet: Packet): Buffer {
    const body = this.packr.pack(packet);
    if (this.cipher === null) {
      // msgpackr returns a view of its reusable buffer: copy before it is sent asynchronously.
      const out = Buffer.allocUnsafe(body.length + 1);
      out[0] = MODE_PLAIN;
      out.set(body, 1);
      return out;
    }
    return Buffer.concat([Buffer.of(MODE_SEALED), this.cipher.seal(body)]);
  }

  decode(bytes: Uint8Array, maxBytes: number): Decoded {
    if (bytes.length > maxBytes) return { ok: false, reason: "oversize" };
    if (bytes.length < 2) return { ok: false, reason: "decode" };
    const mode = bytes[0];
    let body: Uint8Array;
    if (mode === MODE_SEALED) {
      if (this.cipher === null) return { ok: false, reason: "encrypted" };
      const opened = this.cipher.open(bytes.subarray(1));
      if (!opened.ok) return opened;
      body = opened.plain;
    } else if (mode === MODE_PLAIN) {
      if (this.cipher !== null) return { ok: false, reason: "unencrypted" };
      body = bytes.subarray(1);
    } else {
      return { ok: false, reason: "decode" };
    }
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
