// Membership as stored in ConfChange entries and snapshots: the whole resulting configuration, so
// applying an entry is idempotent and needs no history.
import type { ConfChange, ConfState, NodeId } from "./types.ts";

// The core folders are checked against the bare ES library (no TextEncoder), hence this codec.
function utf8Encode(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

function utf8Decode(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; ) {
    const x = b[i];
    const n = x < 0x80 ? 1 : x < 0xe0 ? 2 : x < 0xf0 ? 3 : 4;
    let c = n === 1 ? x : x & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) c = (c << 6) | (b[i + k] & 63);
    s += String.fromCodePoint(c);
    i += n;
  }
  return s;
}

export function encodeConf(conf: ConfState): Uint8Array {
  return utf8Encode(JSON.stringify({ voters: conf.voters, learners: conf.learners }));
}

export function decodeConf(data: Uint8Array | null): ConfState {
  if (!data || data.byteLength === 0) return { voters: [], learners: [] };
  const v = JSON.parse(utf8Decode(data)) as { voters?: unknown; learners?: unknown };
  if (!Array.isArray(v.voters) || !Array.isArray(v.learners)) {
    throw new Error(`malformed raft configuration: ${utf8Decode(data).slice(0, 200)}`);
  }
  return { voters: v.voters.map(String), learners: v.learners.map(String) };
}

/** The configuration after one change, or an error string when the change is not allowed. */
export function changedConf(conf: ConfState, cc: ConfChange): ConfState | string {
  const voters = new Set<NodeId>(conf.voters);
  const learners = new Set<NodeId>(conf.learners);
  switch (cc.type) {
    case "addVoter":
      if (voters.has(cc.node)) return `${cc.node} is already a voter`;
      learners.delete(cc.node);
      voters.add(cc.node);
      break;
    case "addLearner":
      if (voters.has(cc.node)) return `${cc.node} is a voter; remove it first`;
      if (learners.has(cc.node)) return `${cc.node} is already a learner`;
      learners.add(cc.node);
      break;
    case "removeNode":
      if (!voters.has(cc.node) && !learners.has(cc.node)) return `${cc.node} is not a member`;
      if (voters.has(cc.node) && voters.size === 1) return `cannot remove the last voter ${cc.node}`;
      voters.delete(cc.node);
      learners.delete(cc.node);
      break;
  }
  return { voters: [...voters].sort(), learners: [...learners].sort() };
}

export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
