// Streams in RDB (redis/src/rdb.c, RDB_TYPE_STREAM_LISTPACKS and _2; the node layout of
// redis/src/t_stream.c): the entries as listpack nodes keyed by their master ID, then the stream's
// own fields, then each consumer group with its pending entries and consumers.
//
// A node's listpack starts with a master entry (live count, deleted count, the master field names,
// a 0 terminator); each entry follows as flags, ms and seq deltas from the master ID, then either
// only the values (flag SAMEFIELDS: the master's field names) or a field count and field/value
// pairs, and last its element count (lp-count) for walking backwards.
import { check } from "./errors.ts";
import { readListpack, writeListpack } from "./listpack.ts";
import type { RdbReader } from "./reader.ts";
import { byteText, decimal } from "./text.ts";
import type { RdbWriter } from "./writer.ts";

export interface RdbStreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export interface RdbStreamEntry {
  readonly id: RdbStreamId;
  /** field, value, field, value, … */
  readonly fields: readonly Uint8Array[];
}

export interface RdbStreamConsumer {
  readonly name: Uint8Array;
  readonly seenTime: number;
}

export interface RdbStreamPending {
  readonly id: RdbStreamId;
  readonly consumer: Uint8Array;
  readonly deliveryTime: number;
  readonly deliveryCount: number;
}

export interface RdbStreamGroup {
  readonly name: Uint8Array;
  readonly lastId: RdbStreamId;
  /** undefined: not known (Redis's SCG_INVALID_ENTRIES_READ). */
  readonly entriesRead: bigint | undefined;
  readonly consumers: readonly RdbStreamConsumer[];
  /** In ID order. */
  readonly pending: readonly RdbStreamPending[];
}

export interface RdbStream {
  readonly type: "stream";
  /** In ID order. */
  readonly entries: readonly RdbStreamEntry[];
  readonly lastId: RdbStreamId;
  readonly maxDeletedId: RdbStreamId;
  readonly entriesAdded: bigint;
  readonly groups: readonly RdbStreamGroup[];
  /**
   * Loaded from RDB_TYPE_STREAM_LISTPACKS (before Redis 7.0): groups carry no entries-read, which
   * Redis estimates on load from the group's last ID (streamEstimateDistanceFromFirstEverEntry).
   */
  readonly legacy?: boolean;
  /** stream-node-max-entries / -bytes for how entries are cut into nodes when written. */
  readonly nodeEntries: number;
  readonly nodeBytes: number;
}

const FLAG_DELETED = 1;
const FLAG_SAMEFIELDS = 2;
const U64 = 1n << 64n;
const INVALID_ENTRIES_READ = U64 - 1n;

function idBytes(id: RdbStreamId): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, id.ms);
  view.setBigUint64(8, id.seq);
  return out;
}

function idOf(b: Uint8Array): RdbStreamId {
  check(b.length === 16, "Stream node key entry is not the size of a stream ID");
  const view = new DataView(b.buffer, b.byteOffset, 16);
  return { ms: view.getBigUint64(0), seq: view.getBigUint64(8) };
}

const cmp = (a: RdbStreamId, b: RdbStreamId) =>
  a.ms !== b.ms ? (a.ms < b.ms ? -1 : 1) : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;

const sameFields = (a: readonly Uint8Array[], master: readonly Uint8Array[]): boolean =>
  a.length === master.length * 2 && master.every((f, i) => byteText(f) === byteText(a[2 * i]!));

/** One node's listpack elements: the master entry, then each entry (see the file comment). */
function nodeItems(entries: readonly RdbStreamEntry[]): Uint8Array[] {
  const master = entries[0]!;
  const masterFields = master.fields.filter((_, i) => i % 2 === 0);
  const items: Uint8Array[] = [decimal(entries.length), decimal(0), decimal(masterFields.length), ...masterFields];
  items.push(decimal(0));
  for (const e of entries) {
    const same = sameFields(e.fields, masterFields);
    // Deltas are int64 in Redis (wrapping): IDs of one node are close, so they fit.
    const msDelta = BigInt.asIntN(64, e.id.ms - master.id.ms);
    const seqDelta = BigInt.asIntN(64, e.id.seq - master.id.seq);
    items.push(decimal(same ? FLAG_SAMEFIELDS : 0), decimal(msDelta), decimal(seqDelta));
    const pairs = e.fields.length / 2;
    if (same) items.push(...e.fields.filter((_, i) => i % 2 === 1));
    else items.push(decimal(pairs), ...e.fields);
    items.push(decimal(pairs + 3 + (same ? 0 : pairs + 1)));
  }
  return items;
}

/** Entries cut into nodes by Redis's append rule (a new node past the entry or byte limit). */
function nodes(v: RdbStream): RdbStreamEntry[][] {
  const out: RdbStreamEntry[][] = [];
  let node: RdbStreamEntry[] = [];
  let bytes = 0;
  const maxBytes = v.nodeBytes <= 0 || v.nodeBytes > 1 << 30 ? 1 << 30 : v.nodeBytes;
  for (const e of v.entries) {
    const size = e.fields.reduce((n, f) => n + f.length + 2, 8);
    if (node.length > 0 && (bytes + size >= maxBytes || (v.nodeEntries > 0 && node.length >= v.nodeEntries))) {
      out.push(node);
      node = [];
      bytes = 0;
    }
    if (node.length === 0) bytes = size + 16;
    node.push(e);
    bytes += size;
  }
  if (node.length > 0) out.push(node);
  return out;
}

/** RDB_TYPE_STREAM_LISTPACKS_2's body (the type byte is the caller's). */
export function writeStream(v: RdbStream, w: RdbWriter): void {
  const all = nodes(v);
  w.length(all.length);
  for (const node of all) {
    w.string(idBytes(node[0]!.id));
    w.string(writeListpack(nodeItems(node)));
  }
  const first = v.entries[0]?.id ?? { ms: 0n, seq: 0n };
  w.length(v.entries.length);
  for (const n of [v.lastId.ms, v.lastId.seq, first.ms, first.seq, v.maxDeletedId.ms, v.maxDeletedId.seq]) {
    w.length64(n);
  }
  w.length64(v.entriesAdded);
  w.length(v.groups.length);
  for (const g of v.groups) {
    w.string(g.name);
    w.length64(g.lastId.ms);
    w.length64(g.lastId.seq);
    w.length64(g.entriesRead ?? INVALID_ENTRIES_READ);
    w.length(g.pending.length);
    for (const p of g.pending) {
      w.bytes(idBytes(p.id));
      w.int64(BigInt(p.deliveryTime));
      w.length(p.deliveryCount);
    }
    w.length(g.consumers.length);
    for (const c of g.consumers) {
      const own = g.pending.filter((p) => byteText(p.consumer) === byteText(c.name));
      w.string(c.name);
      w.int64(BigInt(c.seenTime));
      w.length(own.length);
      for (const p of own) w.bytes(idBytes(p.id));
    }
  }
}

/** The live entries of one node. */
function readNode(master: RdbStreamId, lp: Uint8Array): RdbStreamEntry[] {
  const items = readListpack(lp);
  check(items.length > 0, "Empty listpack inside stream");
  let p = 0;
  const int = (): bigint => {
    check(p < items.length, "stream listpack ends inside an entry");
    const t = byteText(items[p++]!);
    check(/^-?\d+$/.test(t), "stream listpack integer expected");
    return BigInt(t);
  };
  const bytes = (): Uint8Array => {
    check(p < items.length, "stream listpack ends inside an entry");
    return items[p++]!;
  };
  int();
  int();
  const nMaster = Number(int());
  const masterFields: Uint8Array[] = [];
  for (let i = 0; i < nMaster; i++) masterFields.push(bytes());
  check(int() === 0n, "stream master entry without its terminator");
  const out: RdbStreamEntry[] = [];
  while (p < items.length) {
    const flags = Number(int());
    const id = { ms: (master.ms + int() + U64) % U64, seq: (master.seq + int() + U64) % U64 };
    const fields: Uint8Array[] = [];
    if (flags & FLAG_SAMEFIELDS) for (const f of masterFields) fields.push(f, bytes());
    else {
      const n = Number(int());
      for (let i = 0; i < 2 * n; i++) fields.push(bytes());
    }
    int();
    if (!(flags & FLAG_DELETED)) out.push({ id, fields });
  }
  return out;
}

/** RDB_TYPE_STREAM_LISTPACKS (v2 false) or _2's body. */
export function readStream(r: RdbReader, v2: boolean, nodeEntries: number, nodeBytes: number): RdbStream {
  const entries: RdbStreamEntry[] = [];
  for (let n = r.length(); n > 0; n--) {
    const master = idOf(r.string());
    entries.push(...readNode(master, r.string()));
  }
  for (let i = 1; i < entries.length; i++)
    check(cmp(entries[i - 1]!.id, entries[i]!.id) < 0, "stream IDs out of order");
  const length = r.length();
  check(length === entries.length, "Stream length inconsistent with rax entries");
  const lastId = { ms: r.length64(), seq: r.length64() };
  let maxDeletedId: RdbStreamId = { ms: 0n, seq: 0n };
  let entriesAdded = BigInt(length);
  if (v2) {
    r.length64();
    r.length64();
    maxDeletedId = { ms: r.length64(), seq: r.length64() };
    entriesAdded = r.length64();
  }
  const groups: RdbStreamGroup[] = [];
  const names = new Set<string>();
  for (let n = r.length(); n > 0; n--) {
    const name = r.string();
    check(!names.has(byteText(name)), `Duplicated consumer group name ${byteText(name)}`);
    names.add(byteText(name));
    const groupLast = { ms: r.length64(), seq: r.length64() };
    const read = v2 ? r.length64() : INVALID_ENTRIES_READ;
    const pel = new Map<string, { id: RdbStreamId; deliveryTime: number; deliveryCount: number }>();
    for (let k = r.length(); k > 0; k--) {
      const raw = r.bytes(16);
      const key = byteText(raw);
      check(!pel.has(key), "Duplicated global PEL entry loading stream consumer group");
      pel.set(key, { id: idOf(raw), deliveryTime: Number(r.int64()), deliveryCount: r.length() });
    }
    const consumers: RdbStreamConsumer[] = [];
    const owner = new Map<string, Uint8Array>();
    for (let k = r.length(); k > 0; k--) {
      const cname = r.string();
      consumers.push({ name: cname, seenTime: Number(r.int64()) });
      for (let m = r.length(); m > 0; m--) {
        const key = byteText(r.bytes(16));
        check(pel.has(key) && !owner.has(key), "Consumer PEL NACK not found in group PEL");
        owner.set(key, cname);
      }
    }
    check(owner.size === pel.size, "Stream CG PEL entry without consumer");
    const pending = [...pel.entries()]
      .map(([key, p]) => ({
        id: p.id,
        consumer: owner.get(key)!,
        deliveryTime: p.deliveryTime,
        deliveryCount: p.deliveryCount,
      }))
      .sort((a, b) => cmp(a.id, b.id));
    consumers.sort((a, b) => (byteText(a.name) < byteText(b.name) ? -1 : 1));
    groups.push({
      name,
      lastId: groupLast,
      entriesRead: read === INVALID_ENTRIES_READ ? undefined : read,
      consumers,
      pending,
    });
  }
  groups.sort((a, b) => (byteText(a.name) < byteText(b.name) ? -1 : 1));
  const legacy = v2 ? {} : { legacy: true };
  return { type: "stream", entries, lastId, maxDeletedId, entriesAdded, groups, ...legacy, nodeEntries, nodeBytes };
}
