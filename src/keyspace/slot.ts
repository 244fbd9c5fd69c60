// Redis Cluster's key → slot function, bit for bit: Redis-Cluster-aware clients compute it on
// their side, so any difference (hash tags included) would route keys to the wrong node.

export const SLOT_COUNT = 16384;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

// CRC16-XMODEM (poly 0x1021, init 0, no reflection), the variant Redis's crc16.c implements.
const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc;
}

/**
 * The slot of a key. A hash tag — the bytes between the first '{' and the first '}' after it —
 * is hashed instead of the whole key when it is non-empty (Redis's keyHashSlot).
 */
export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(OPEN_BRACE);
  if (open !== -1) {
    const close = key.indexOf(CLOSE_BRACE, open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & (SLOT_COUNT - 1);
  }
  return crc16(key) & (SLOT_COUNT - 1);
}

/** True for a partition count the slot space splits into evenly (a power of two ≤ 16384). */
export function isValidPartitionCount(partitionCount: number): boolean {
  return (
    Number.isInteger(partitionCount) &&
    partitionCount >= 1 &&
    partitionCount <= SLOT_COUNT &&
    (partitionCount & (partitionCount - 1)) === 0
  );
}

/** The partition owning a slot: contiguous ranges of 16384 / partitionCount slots. */
export function partitionOf(slot: number, partitionCount: number): number {
  if (!isValidPartitionCount(partitionCount)) {
    throw new RangeError(`partition count ${partitionCount} is not a power of two between 1 and ${SLOT_COUNT}`);
  }
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new RangeError(`slot ${slot} is outside 0..${SLOT_COUNT - 1}`);
  }
  return Math.floor(slot / (SLOT_COUNT / partitionCount));
}
