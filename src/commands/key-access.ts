// When each key was last accessed through this node, for OBJECT IDLETIME. Kept in memory only (a
// SQLite write per read would cost more than the reads): after a restart, or for a key this node
// has not seen, the idle time counts from the node's start, as Redis counts from its load. The
// record is bounded: keys not accessed among the last capacity/2 distinct keys may be forgotten.

/** Reading these does not count as an access, as in Redis (LOOKUP_NOTOUCH). */
export const NO_TOUCH = new Set([
  "ttl",
  "pttl",
  "expiretime",
  "pexpiretime",
  "type",
  "exists",
  "object",
  "__memoryusage",
]);

// WHATWG's latin1 (windows-1252) maps every byte to its own code point: one string per key.
const bytesToString = new TextDecoder("latin1");
/** Longer keys are remembered by a prefix, their length and a hash, so the record stays small. */
const SHORT_KEY = 64;

/** The same name in two databases (SELECT) is two keys. */
function keyOf(db: number, k: Uint8Array): string {
  if (k.length <= SHORT_KEY) return `${db}:${bytesToString.decode(k)}`;
  let h = 0x811c9dc5; // FNV-1a
  for (const b of k) h = Math.imul(h ^ b, 0x01000193);
  return `${db}:${bytesToString.decode(k.subarray(0, SHORT_KEY))}\u0000${k.length}:${h >>> 0}`;
}

export class KeyAccess {
  /**
   * Two generations instead of an exact LRU order: touching a key only sets its entry in `young`,
   * and when `young` holds capacity/2 keys it becomes `old` and the previous `old` is dropped whole.
   * An exact order needs a delete and a re-insert per access, and Bun's Map keeps each deleted slot
   * until it rehashes: a hot key re-inserted thousands of times made lookups walk its dead slots
   * (GET at 16k/s instead of 150k/s after a 1M-key load), and evicting through a fresh keys()
   * iterator stepped over every dead slot per write (the SET rate fell ~10× past 200k keys;
   * docs/PERFORMANCE.md, keyspace growth).
   */
  private young = new Map<string, number>();
  private old = new Map<string, number>();

  /** At least the capacity/2 most recently accessed keys are remembered, never more than capacity. */
  constructor(
    private readonly since: number,
    private readonly capacity = 200_000,
  ) {}

  touch(db: number, keys: readonly Uint8Array[], now: number): void {
    for (const k of keys) {
      this.young.set(keyOf(db, k), now);
      if (this.young.size * 2 < this.capacity) continue;
      this.old = this.young;
      this.young = new Map();
    }
  }

  idleMs(db: number, key: Uint8Array, now: number): number {
    const id = keyOf(db, key);
    return Math.max(0, now - (this.young.get(id) ?? this.old.get(id) ?? this.since));
  }
}
