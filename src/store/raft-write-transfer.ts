// A saveBatch's writes as they cross to the log worker (log-worker.ts): every entry's data copied
// into one buffer that is transferred, not cloned. Bun's structured clone costs tens of
// microseconds per Uint8Array, and a turn of a busy member carries hundreds of entries. The
// entries themselves stay with the Raft core, which keeps its log in memory.
import type { Entry, EntryKind, GroupWrite } from "../raft/types.ts";

/** A GroupWrite whose entries (`count` of them) live in the PackedWrites arrays. */
export type PackedGroupWrite = Omit<GroupWrite, "entries"> & { readonly count: number };

export interface PackedWrites {
  readonly writes: readonly PackedGroupWrite[];
  readonly indexes: Float64Array;
  readonly terms: Float64Array;
  readonly kinds: Uint8Array;
  /** Byte length of each entry's data; -1 for an entry without data. */
  readonly lengths: Int32Array;
  readonly bytes: Uint8Array;
}

export function packWrites(writes: readonly GroupWrite[]): PackedWrites {
  const entries = writes.flatMap((w) => w.entries ?? []);
  const n = entries.length;
  const packed: PackedWrites = {
    writes: writes.map(({ entries: e, ...rest }) => ({ ...rest, count: e?.length ?? 0 })),
    indexes: new Float64Array(n),
    terms: new Float64Array(n),
    kinds: new Uint8Array(n),
    lengths: new Int32Array(n),
    bytes: new Uint8Array(entries.reduce((size, e) => size + (e.data?.length ?? 0), 0)),
  };
  let at = 0;
  for (const [i, e] of entries.entries()) {
    packed.indexes[i] = e.index;
    packed.terms[i] = e.term;
    packed.kinds[i] = e.kind;
    packed.lengths[i] = e.data ? e.data.length : -1;
    if (e.data) packed.bytes.set(e.data, at);
    at += e.data?.length ?? 0;
  }
  return packed;
}

/** The buffers postMessage may transfer (they are fresh copies nobody else holds). */
export function transferables(p: PackedWrites): ArrayBuffer[] {
  return [p.indexes.buffer, p.terms.buffer, p.kinds.buffer, p.lengths.buffer, p.bytes.buffer] as ArrayBuffer[];
}

export function unpackWrites(p: PackedWrites): GroupWrite[] {
  let i = 0;
  let at = 0;
  return p.writes.map(({ count, ...rest }) => {
    if (count === 0) return rest;
    const entries: Entry[] = [];
    for (const end = i + count; i < end; i++) {
      const length = p.lengths[i]!;
      const data = length < 0 ? null : p.bytes.subarray(at, (at += length));
      entries.push({ index: p.indexes[i]!, term: p.terms[i]!, kind: p.kinds[i]! as EntryKind, data });
    }
    return { ...rest, entries };
  });
}
