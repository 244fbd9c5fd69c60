// AES-256-GCM for gossip frames: a random 96-bit nonce per message, the key derived
// from `cluster_secret` with scrypt (a secret may be a human-chosen password, so the derivation
// is deliberately slow: ~50 ms once at start-up). Recently seen nonces are remembered so a
// captured packet replayed verbatim is dropped.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed message adds to its plaintext. */
const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;
const REPLAY_WINDOW = 65_536;

/** A 32-byte key for one purpose ("gossip", "transport", …) so purposes never share a key. */
export function deriveClusterKey(secret: string, purpose: string): Buffer {
  if (secret.length === 0) throw new Error("cluster_secret is empty; leave it unset to disable encryption");
  return scryptSync(secret, `flydb/${purpose}/v1`, 32, { N: 16384, r: 8, p: 1 });
}

export type OpenResult = { ok: true; plain: Buffer } | { ok: false; reason: "auth" | "replay" };

export class FrameCipher {
  private readonly key: Buffer;
  /** The key, then older or newer ones also accepted while cluster_secret is rotated. */
  private readonly keys: readonly Buffer[];
  private readonly aad: Buffer;
  private readonly seen = new Set<string>();

  constructor(key: Buffer, label: string, accepted: readonly Buffer[] = []) {
    for (const k of [key, ...accepted])
      if (k.length !== 32) throw new Error(`AES-256-GCM needs a 32-byte key, got ${k.length}`);
    this.key = key;
    this.keys = [key, ...accepted];
    this.aad = Buffer.from(label);
  }

  seal(plain: Uint8Array): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv("aes-256-gcm", this.key, nonce);
    c.setAAD(this.aad);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([nonce, body, c.getAuthTag()]);
  }

  open(sealed: Uint8Array): OpenResult {
    if (sealed.length < SEAL_OVERHEAD) return { ok: false, reason: "auth" };
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const nonce = buf.subarray(0, NONCE_BYTES);
    const plain = this.openWithAny(nonce, buf);
    if (!plain) return { ok: false, reason: "auth" };
    // Only authentic nonces enter the window, so garbage cannot flush real entries out of it.
    const id = nonce.toString("base64");
    if (this.seen.has(id)) return { ok: false, reason: "replay" };
    this.seen.add(id);
    if (this.seen.size > REPLAY_WINDOW) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return { ok: true, plain };
  }

  private openWithAny(nonce: Buffer, buf: Buffer): Buffer | null {
    for (const key of this.keys) {
      try {
        const d = createDecipheriv("aes-256-gcm", key, nonce);
        d.setAAD(this.aad);
        d.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
        return Buffer.concat([d.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES)), d.final()]);
      } catch {
        // not this key
      }
    }
    return null;
  }
}
