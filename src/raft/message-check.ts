// Shape check for messages decoded from the network, so a malformed or hostile frame is dropped
// (and counted by the transport) instead of reaching Raft.step and throwing deep inside it.
import type { Message } from "./types.ts";
import { MsgType } from "./types.ts";

/** A value for an error message; String() itself throws on objects with a broken toString. */
const shown = (v: unknown): string =>
  v === null || (typeof v !== "object" && typeof v !== "function") ? String(v) : typeof v;

const MSG_TYPES = new Set<number>(Object.values(MsgType));
const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const optNat = (v: unknown) => v === undefined || isNat(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

function entryProblem(e: unknown): string | null {
  if (!isObj(e)) return "entry is not an object";
  if (!isNat(e.index) || e.index < 1 || !isNat(e.term)) return "entry index/term";
  if (e.kind !== 0 && e.kind !== 1 && e.kind !== 2) return `entry kind ${shown(e.kind)}`;
  if (e.data !== null && !(e.data instanceof Uint8Array)) return "entry data";
  return null;
}

function confProblem(c: unknown): string | null {
  if (!isObj(c) || !Array.isArray(c.voters) || !Array.isArray(c.learners)) return "conf";
  if (![...c.voters, ...c.learners].every((x) => typeof x === "string")) return "conf member ids";
  return null;
}

/** Returns why `x` is not a well-formed Message, or null when it is. */
export function messageProblem(x: unknown): string | null {
  if (!isObj(x)) return "not an object";
  if (!MSG_TYPES.has(x.type as number)) return `unknown type ${shown(x.type)}`;
  if (!isNat(x.grp) || !isNat(x.term)) return "grp/term";
  if (typeof x.from !== "string" || typeof x.to !== "string") return "from/to";
  for (const k of ["index", "logTerm", "commit", "hint", "hintTerm", "seq", "offset"] as const) {
    if (!optNat(x[k])) return `field ${k}`;
  }
  if (x.tick !== undefined && (typeof x.tick !== "number" || !Number.isSafeInteger(x.tick))) return "field tick";
  for (const k of ["reject", "force"] as const)
    if (x[k] !== undefined && typeof x[k] !== "boolean") return `field ${k}`;
  if (x.ctx !== undefined && typeof x.ctx !== "string") return "field ctx";
  if (x.entries !== undefined) {
    if (!Array.isArray(x.entries)) return "entries";
    for (const [i, e] of x.entries.entries()) {
      const p = entryProblem(e);
      if (p) return p;
      if (i > 0 && (e as { index: number }).index !== (x.entries[i - 1] as { index: number }).index + 1)
        return "entries not contiguous";
    }
  }
  if (x.snap !== undefined) {
    const s = x.snap;
    if (!isObj(s) || !isObj(s.meta) || !isNat(s.meta.index) || !isNat(s.meta.term)) return "snapshot meta";
    const p = confProblem(s.meta.conf);
    if (p) return `snapshot ${p}`;
    if (!isNat(s.offset) || !(s.chunk instanceof Uint8Array) || typeof s.last !== "boolean") return "snapshot chunk";
  }
  return null;
}

export function isMessage(x: unknown): x is Message {
  return messageProblem(x) === null;
}
