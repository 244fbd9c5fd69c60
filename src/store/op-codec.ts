// Ops as they are stored in log entries: a msgpack tuple [cmds, now, seed] for a single command,
// [cmds, now, seed, flags, watch] when the op is a MULTI/EXEC or was proposed by a RESP3 client.
// A tuple rather than a map keeps every entry free of repeated field names; the field order is
// part of the log format (a 3-tuple is what every plain write stays, so old logs still decode).
import { Packr } from "msgpackr";
import type { Op, WatchedKey } from "../commands/types.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });

const MULTI = 1;
const RESP3 = 2;

type WatchTuple = [Uint8Array, number, boolean];

export function encodeOp(op: Op): Uint8Array {
  const flags = (op.multi ? MULTI : 0) | (op.resp3 ? RESP3 : 0);
  if (flags === 0 && !op.watch?.length) return packr.pack([op.cmds, op.now, op.seed]);
  const watch: WatchTuple[] = (op.watch ?? []).map((w) => [w.key, w.version, w.existed]);
  return packr.pack([op.cmds, op.now, op.seed, flags, watch]);
}

export function decodeOp(data: Uint8Array): Op {
  const decoded: unknown = packr.unpack(data);
  if (!Array.isArray(decoded) || (decoded.length !== 3 && decoded.length !== 5) || !Array.isArray(decoded[0])) {
    throw new Error(`log entry of ${data.length} bytes is not an encoded op`);
  }
  const [cmds, now, seed] = decoded as [Uint8Array[][], number, number];
  if (decoded.length === 3) return { cmds, now, seed };
  const [, , , flags, watch] = decoded as [unknown, unknown, unknown, number, WatchTuple[]];
  const op: { -readonly [K in keyof Op]: Op[K] } = { cmds, now, seed };
  if (flags & MULTI) op.multi = true;
  if (flags & RESP3) op.resp3 = true;
  if (watch.length > 0) op.watch = watch.map(([key, version, existed]): WatchedKey => ({ key, version, existed }));
  return op;
}
