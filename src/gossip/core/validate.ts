// Decoded bytes are untrusted: rebuild a Packet from known fields only (no prototype tricks, no
// unbounded strings or arrays), or return null. Unknown message types are skipped so newer
// versions can add some without breaking older members.
import type { MemberMeta, MemberState, Msg, Packet, PushState } from "./types.ts";

const LIMITS = {
  idChars: 128,
  addrChars: 256,
  metaFieldChars: 256,
  msgsPerPacket: 512,
  statesPerPushPull: 4096,
} as const;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): v is string => typeof v === "string" && v.length > 0 && v.length <= max;
const optStr = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;
const uint = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const STATES: ReadonlySet<string> = new Set(["alive", "suspect", "dead", "left"]);

export function parseMeta(v: unknown): MemberMeta | null {
  if (!isObj(v)) return null;
  const { nodeId, clusterId, respAddr, httpAddr, raftAddr, zone, version, load, dataDirId } = v;
  const max = LIMITS.metaFieldChars;
  if (!str(nodeId, LIMITS.idChars) || !str(clusterId, max)) return null;
  if (!optStr(respAddr, max) || !optStr(httpAddr, max) || !optStr(raftAddr, max)) return null;
  if (!optStr(zone, max) || !optStr(version, max)) return null;
  if (typeof load !== "number" || !Number.isFinite(load)) return null;
  if (dataDirId !== undefined && !str(dataDirId, max)) return null;
  const meta = { nodeId, clusterId, respAddr, httpAddr, raftAddr, zone, version, load };
  return dataDirId === undefined ? meta : { ...meta, dataDirId };
}

function parseState(v: unknown): PushState | null {
  if (!isObj(v)) return null;
  const { id, addr, inc, state } = v;
  if (!str(id, LIMITS.idChars) || !str(addr, LIMITS.addrChars) || !uint(inc)) return null;
  if (typeof state !== "string" || !STATES.has(state)) return null;
  const meta = parseMeta(v.meta);
  if (meta === null) return null;
  return { id, addr, inc, state: state as MemberState, meta };
}

/** A message, null when malformed, "skip" for a well-formed message of an unknown type. */
export function parseMsg(v: unknown): Msg | null | "skip" {
  if (!isObj(v) || typeof v.t !== "string") return null;
  switch (v.t) {
    case "ping":
      return uint(v.seq) && str(v.target, LIMITS.idChars) ? { t: "ping", seq: v.seq, target: v.target } : null;
    case "ack":
    case "nack":
      return uint(v.seq) ? { t: v.t, seq: v.seq } : null;
    case "pingreq":
      return uint(v.seq) && str(v.target, LIMITS.idChars) && str(v.targetAddr, LIMITS.addrChars)
        ? { t: "pingreq", seq: v.seq, target: v.target, targetAddr: v.targetAddr }
        : null;
    case "alive": {
      const meta = parseMeta(v.meta);
      if (meta === null || !str(v.id, LIMITS.idChars) || !uint(v.inc) || !str(v.addr, LIMITS.addrChars)) return null;
      return { t: "alive", id: v.id, inc: v.inc, addr: v.addr, meta };
    }
    case "suspect":
    case "dead":
      return str(v.id, LIMITS.idChars) && uint(v.inc) && str(v.from, LIMITS.idChars)
        ? { t: v.t, id: v.id, inc: v.inc, from: v.from }
        : null;
    case "pp": {
      if (typeof v.reply !== "boolean") return null;
      if (!Array.isArray(v.states) || v.states.length > LIMITS.statesPerPushPull) return null;
      const states: PushState[] = [];
      for (const s of v.states) {
        const parsed = parseState(s);
        if (parsed === null) return null;
        states.push(parsed);
      }
      return { t: "pp", reply: v.reply, states };
    }
    default:
      return "skip";
  }
}

export function parsePacket(v: unknown): Packet | null {
  if (!isObj(v)) return null;
  const { c, f, a, m } = v;
  if (!str(c, LIMITS.metaFieldChars) || !str(f, LIMITS.idChars) || !str(a, LIMITS.addrChars)) return null;
  if (!Array.isArray(m) || m.length > LIMITS.msgsPerPacket) return null;
  const msgs: Msg[] = [];
  for (const raw of m) {
    const msg = parseMsg(raw);
    if (msg === null) return null;
    if (msg !== "skip") msgs.push(msg);
  }
  return { c, f, a, m: msgs };
}
