// Ops as they are stored in log entries: a msgpack tuple [cmds, now, seed] for a single command,
// [cmds, now, seed, flags, watch] when the op is a MULTI/EXEC or was proposed by a RESP3 client,
// and [cmds, now, seed, flags, watch, [node, session, seq, ack]] for a cluster write carrying its
// proposal id (keyspace/sessions.ts), and [cmds, now, seed, flags, watch, id or null, db] for an op
// of a database other than 0 (SELECT; a watch entry gains its db as a fourth element when it is
// not the op's). A tuple rather than a map keeps every entry free of
// repeated field names; the field order is part of the log format (a 3-tuple is what every plain
// standalone write stays, so old logs still decode and standalone entries gain no bytes).
// An op proposed under non-default encoding thresholds (CONFIG SET hash-max-listpack-entries, …)
// appends them after the db (0 then written out): [cmds, now, seed, flags, watch, id | null, db,
// [hashEntries, hashValue, setIntset, zsetEntries, zsetValue, streamNodeEntries, streamNodeBytes]].
// Both trail, so every shorter shape (what logs held before databases or thresholds existed) still
// decodes; a 5-element threshold tuple (before streams) means the stream defaults.
import { Packr } from "msgpackr";
import { DEFAULT_ENCODING } from "../commands/collection.ts";
import type { EncodingLimits, Op, WatchedKey } from "../commands/types.ts";
import type { ProposalId } from "../keyspace/sessions.ts";

const msgpack = new Packr({ useRecords: false, moreTypes: false });
/** An op encoded this big leaves msgpack a buffer of about its size to pack the next ops into. */
const OWN_BUFFER_AFTER = 1024 * 1024;

const packr = {
  /**
   * Packed ops are views of msgpack's current buffer, which each keeps alive. After a large op
   * that buffer (and each one msgpack allocates after it, as big) would hold the next ops: one
   * 100 MB SET kept 125 MB per few thousand small log entries in memory. It starts over small.
   */
  pack(value: unknown): Uint8Array {
    const bytes = msgpack.pack(value);
    if (bytes.length >= OWN_BUFFER_AFTER) msgpack.useBuffer(Buffer.allocUnsafeSlow(8192));
    return bytes;
  },
  unpack: (data: Uint8Array): unknown => msgpack.unpack(data),
};

const MULTI = 1;
const RESP3 = 2;

type WatchTuple = [Uint8Array, number, boolean] | [Uint8Array, number, boolean, number];
type IdTuple = [string, number, number, number];
type EncodingTuple =
  | [number, number, number, number, number]
  | [number, number, number, number, number, number, number];

type Proposal = { readonly op: Op; readonly id: ProposalId | undefined };

/**
 * What decodeProposal would return for bytes encodeOp made in this process, for the plain shapes
 * (no flags, watch, db or thresholds): the leader applies its own entries without unpacking them
 * (the standalone store applied its ops as proposed). Bytes from elsewhere are decoded.
 */
const encoded = new WeakMap<Uint8Array, Proposal>();

export function encodeOp(op: Op, id?: ProposalId): Uint8Array {
  const flags = (op.multi ? MULTI : 0) | (op.resp3 ? RESP3 : 0);
  const db = op.db ?? 0;
  const e = op.encoding;
  if (flags === 0 && !op.watch?.length && db === 0 && !e) {
    const bytes = id
      ? packr.pack([op.cmds, op.now, op.seed, flags, [], [id.node, id.session, id.seq, id.ack]])
      : packr.pack([op.cmds, op.now, op.seed]);
    const copy = id && { node: id.node, session: id.session, seq: id.seq, ack: id.ack };
    encoded.set(bytes, { op: { cmds: op.cmds, now: op.now, seed: op.seed }, id: copy });
    return bytes;
  }
  const watch: WatchTuple[] = (op.watch ?? []).map((w) =>
    (w.db ?? db) === db ? [w.key, w.version, w.existed] : [w.key, w.version, w.existed, w.db!],
  );
  const idTuple: IdTuple | null = id ? [id.node, id.session, id.seq, id.ack] : null;
  if (e) {
    const limits: EncodingTuple = [
      e.hashEntries,
      e.hashValue,
      e.setIntsetEntries,
      e.zsetEntries,
      e.zsetValue,
      e.streamNodeEntries,
      e.streamNodeBytes,
    ];
    return packr.pack([op.cmds, op.now, op.seed, flags, watch, idTuple, db, limits]);
  }
  if (db !== 0) return packr.pack([op.cmds, op.now, op.seed, flags, watch, idTuple, db]);
  if (!idTuple) return packr.pack([op.cmds, op.now, op.seed, flags, watch]);
  return packr.pack([op.cmds, op.now, op.seed, flags, watch, idTuple]);
}

/** An op and, for a cluster write, its proposal id. */
export function decodeProposal(data: Uint8Array): Proposal {
  const known = encoded.get(data);
  if (known) return known;
  const decoded: unknown = packr.unpack(data);
  const n = Array.isArray(decoded) ? decoded.length : 0;
  if (!Array.isArray(decoded) || n < 3 || n > 8 || n === 4 || !Array.isArray(decoded[0])) {
    throw new Error(`log entry of ${data.length} bytes is not an encoded op`);
  }
  const [cmds, now, seed] = decoded as [Uint8Array[][], number, number];
  if (decoded.length === 3) return { op: { cmds, now, seed }, id: undefined };
  type Tail = [number, WatchTuple[], IdTuple | null | undefined, number | undefined, EncodingTuple | undefined];
  const [, , , flags, watch, idOrNull, db, limits] = decoded as [unknown, unknown, unknown, ...Tail];
  const id = idOrNull ?? undefined;
  const op: { -readonly [K in keyof Op]: Op[K] } = { cmds, now, seed };
  if (flags & MULTI) op.multi = true;
  if (flags & RESP3) op.resp3 = true;
  if (db !== undefined) {
    if (!Number.isInteger(db) || db < 0) {
      throw new Error(`log entry of ${data.length} bytes has a malformed database index`);
    }
    if (db !== 0) op.db = db;
  }
  if (watch.length > 0) {
    op.watch = watch.map(
      ([key, version, existed, wdb]): WatchedKey =>
        wdb === undefined ? { key, version, existed } : { db: wdb, key, version, existed },
    );
  }
  if (limits !== undefined) op.encoding = encodingOf(limits, data.length);
  if (id !== undefined && (!Array.isArray(id) || id.length !== 4))
    throw new Error(`log entry of ${data.length} bytes has a malformed proposal id`);
  return { op, id: id && { node: id[0], session: id[1], seq: id[2], ack: id[3] } };
}

function encodingOf(t: EncodingTuple, size: number): EncodingLimits {
  if (!Array.isArray(t) || (t.length !== 5 && t.length !== 7) || t.some((n) => typeof n !== "number")) {
    throw new Error(`log entry of ${size} bytes has malformed encoding thresholds`);
  }
  return {
    hashEntries: t[0],
    hashValue: t[1],
    setIntsetEntries: t[2],
    zsetEntries: t[3],
    zsetValue: t[4],
    streamNodeEntries: t[5] ?? DEFAULT_ENCODING.streamNodeEntries,
    streamNodeBytes: t[6] ?? DEFAULT_ENCODING.streamNodeBytes,
  };
}

export function decodeOp(data: Uint8Array): Op {
  return decodeProposal(data).op;
}
