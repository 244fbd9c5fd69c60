// When each key was last accessed through this node, for OBJECT IDLETIME. Kept in memory only (a
// SQLite write per read would cost more than the reads): after a restart, or for a key this node
// has not seen, the idle time counts from the node's start, as Redis counts from its load. The
// record is bounded: past `capacity` keys the least recently accessed are forgotten.

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
  private readonly last = new Map<string, number>();
  /**
   * Walks `last` in insertion order across calls, so its next key is always the least recently
   * accessed one. A fresh keys() iterator per eviction restarts at the map's first slot and steps
   * over every slot freed since the last rehash: at capacity that was O(capacity) per write, and
   * the SET rate fell ~10× once 200k keys had been written (docs/PERFORMANCE.md, keyspace growth).
   */
  private oldest = this.last.keys();

  constructor(
    private readonly since: number,
    private readonly capacity = 200_000,
  ) {}

  touch(db: number, keys: readonly Uint8Array[], now: number): void {
    for (const k of keys) {
      const id = keyOf(db, k);
      // Re-inserted so the map's order stays least recently accessed first.
      this.last.delete(id);
      this.last.set(id, now);
    }
    // Every key the walk has passed was deleted (a key accessed again is re-inserted ahead of it),
    // so while the map is over capacity the walk has a next key.
    while (this.last.size > this.capacity) this.last.delete(this.oldest.next().value as string);
  }

  idleMs(db: number, key: Uint8Array, now: number): number {
    return Math.max(0, now - (this.last.get(keyOf(db, key)) ?? this.since));
  }
}
