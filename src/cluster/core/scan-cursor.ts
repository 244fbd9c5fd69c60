// SCAN in a cluster (docs/design/cluster.md): one cursor walks the partitions in order, and within a partition
// the keys in byte order from a resume prefix. Both fit in Redis's unsigned 64-bit cursor: the low
// log2(partition_count) bits are the partition, the rest the big-endian bytes of the prefix. Key
// order is the same on every replica, so a cursor survives a change of partition leader. Pure.

const MAX_CURSOR = (1n << 64n) - 1n;

export interface ClusterCursor {
  readonly partition: number;
  /** Padded group prefix to resume from; all zero bytes at the start of a partition. */
  readonly from: Uint8Array;
}

function partitionBits(partitionCount: number): number {
  return Math.round(Math.log2(partitionCount));
}

/** Prefix bytes that fit beside the partition bits; partition scans group keys by this many bytes. */
export function groupBytes(partitionCount: number): number {
  return Math.floor((64 - partitionBits(partitionCount)) / 8);
}

/** Parses a client's cursor; undefined when it is not one this cluster could have returned. */
export function decodeCursor(text: string, partitionCount: number): ClusterCursor | undefined {
  if (!/^\d{1,20}$/.test(text)) return undefined;
  const v = BigInt(text);
  if (v > MAX_CURSOR) return undefined;
  const bits = BigInt(partitionBits(partitionCount));
  const n = groupBytes(partitionCount);
  const partition = Number(v & ((1n << bits) - 1n));
  let prefix = v >> bits;
  if (prefix >> BigInt(8 * n) !== 0n) return undefined;
  const from = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    from[i] = Number(prefix & 0xffn);
    prefix >>= 8n;
  }
  return { partition, from };
}

export function encodeCursor(c: ClusterCursor, partitionCount: number): string {
  let prefix = 0n;
  for (const b of c.from) prefix = (prefix << 8n) | BigInt(b);
  return ((prefix << BigInt(partitionBits(partitionCount))) | BigInt(c.partition)).toString();
}

/**
 * The cursor after a partition batch: the same partition from `next`, else the start of the
 * following partition, else "0" (done). A resume prefix is never all zeros (the batch that
 * started there finished its group), so no cursor but the last one is "0".
 */
export function nextCursor(partition: number, next: Uint8Array | undefined, partitionCount: number): string {
  if (next) return encodeCursor({ partition, from: next }, partitionCount);
  if (partition + 1 < partitionCount)
    return encodeCursor({ partition: partition + 1, from: new Uint8Array(groupBytes(partitionCount)) }, partitionCount);
  return "0";
}
