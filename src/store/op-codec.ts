// Ops as they are stored in log entries: a msgpack tuple [cmds, now, seed]. A tuple rather than a
// map keeps every entry free of repeated field names; the field order is part of the log format.
import { Packr } from "msgpackr";
import type { Op } from "../commands/types.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeOp(op: Op): Uint8Array {
  return packr.pack([op.cmds, op.now, op.seed]);
}

export function decodeOp(data: Uint8Array): Op {
  const decoded: unknown = packr.unpack(data);
  if (!Array.isArray(decoded) || decoded.length !== 3 || !Array.isArray(decoded[0])) {
    throw new Error(`log entry of ${data.length} bytes is not an encoded op`);
  }
  const [cmds, now, seed] = decoded as [Uint8Array[][], number, number];
  return { cmds, now, seed };
}
