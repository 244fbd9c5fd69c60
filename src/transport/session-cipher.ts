// AES-256-GCM for the node-to-node transport with cluster_secret (docs/SECURITY.md, "Between nodes").
// The two handshake frames are sealed with a key derived from cluster_secret and a random nonce;
// every later frame of the connection is sealed with a key of that connection alone, derived from
// the cluster key and a fresh nonce of each side, with a counter as the GCM nonce. A frame is
// accepted only as the next of its connection, so a stream captured earlier, replayed to a node
// (restarted or not) on a new connection, fails authentication: the listener's nonce differs.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const GCM_NONCE = 12;
const TAG = 16;
/** Bytes of each side's handshake nonce. */
export const HANDSHAKE_NONCE = 16;
const HELLO_AAD = Buffer.from("flydb-transport/handshake/v1");

export const freshNonce = (): Buffer => randomBytes(HANDSHAKE_NONCE);

function gcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Buffer[] {
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad);
  return [c.update(plain), c.final(), c.getAuthTag()];
}

function gcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG) return null;
  try {
    const d = createDecipheriv("aes-256-gcm", key, nonce);
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
  } catch {
    return null;
  }
}

/** A handshake frame under a cluster key: a random nonce, then the sealed body and tag. */
export function sealHandshake(key: Uint8Array, plain: Uint8Array): Buffer {
  const nonce = randomBytes(GCM_NONCE);
  return Buffer.concat([nonce, ...gcmSeal(key, nonce, HELLO_AAD, plain)]);
}

/** Opens a handshake frame with whichever key of the ring sealed it; null when none did. */
export function openHandshake(
  keys: readonly Uint8Array[],
  sealed: Uint8Array,
): { plain: Buffer; key: Uint8Array } | null {
  if (sealed.length < GCM_NONCE + TAG) return null;
  const nonce = sealed.subarray(0, GCM_NONCE);
  for (const key of keys) {
    const plain = gcmOpen(key, nonce, HELLO_AAD, sealed.subarray(GCM_NONCE));
    if (plain) return { plain, key };
  }
  return null;
}

/** One direction of one connection: frames sealed and opened strictly in order. */
export class SessionCipher {
  private counter = 0n;
  private readonly nonce = Buffer.alloc(GCM_NONCE);
  private static readonly AAD = Buffer.alloc(0);

  private constructor(private readonly key: Uint8Array) {}

  /**
   * The pair of ciphers of one connection, as the dialer (`dialer` true) or the listener sees it:
   * each direction has its own key, so a frame cannot be reflected back to its sender.
   */
  static pair(
    clusterKey: Uint8Array,
    dialerNonce: Uint8Array,
    listenerNonce: Uint8Array,
    dialer: boolean,
  ): { tx: SessionCipher; rx: SessionCipher } {
    const salt = Buffer.concat([dialerNonce, listenerNonce]);
    const derive = (info: string) =>
      new SessionCipher(new Uint8Array(hkdfSync("sha256", clusterKey, salt, `flydb-transport/${info}/v1`, 32)));
    const toListener = derive("to-listener");
    const toDialer = derive("to-dialer");
    return dialer ? { tx: toListener, rx: toDialer } : { tx: toDialer, rx: toListener };
  }

  private next(): Buffer {
    this.nonce.writeBigUInt64BE(this.counter, GCM_NONCE - 8);
    this.counter++;
    return this.nonce;
  }

  seal(plain: Uint8Array): Buffer {
    return Buffer.concat(gcmSeal(this.key, this.next(), SessionCipher.AAD, plain));
  }

  /** The plaintext, or null for a frame that is not the next one of this connection (forged, replayed, reordered). */
  open(sealed: Uint8Array): Buffer | null {
    this.nonce.writeBigUInt64BE(this.counter, GCM_NONCE - 8);
    const plain = gcmOpen(this.key, this.nonce, SessionCipher.AAD, sealed);
    if (plain) this.counter++;
    return plain;
  }
}
