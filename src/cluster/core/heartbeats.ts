// Coalesced heartbeats (after CockroachDB; docs/design/multiraft.md): a node leading hundreds of groups would
// send each peer one Heartbeat message per group per heartbeat interval, each a full Message with
// its field names and both node ids. Instead, all Heartbeats one node sends another in a turn
// travel as one HeartbeatBatch holding a few numbers per group (all HeartbeatResps as another:
// a leader's messages leave before the turn's fsync, the rest after it), and the receiver expands
// it back into the very Messages the Raft core produced. The core never sees the
// difference, so its message semantics are untouched.
import { messageProblem } from "../../raft/message-check.ts";
import { MsgType, type Message, type NodeId } from "../../raft/types.ts";

/** Every heartbeat and heartbeat response from one node to another in one turn. */
export interface HeartbeatBatch {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Heartbeats, BEAT_FIELDS numbers per group: grp, term, commit, seq, tick. */
  readonly beats: readonly number[];
  /** Heartbeat responses, ACK_FIELDS numbers per group: grp, term, seq, tick. */
  readonly acks: readonly number[];
  /** Groups whose heartbeat in `beats` is the leader's last before it went quiet (multiraft.ts). */
  readonly quiet: readonly number[];
}

const BEAT_FIELDS = 5;
const ACK_FIELDS = 4;

const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

/** A heartbeat (response) whose fields all fit the batch; anything else travels as a Message. */
function beatOf(m: Message): number[] | undefined {
  if (m.type === MsgType.Heartbeat && isNat(m.commit) && isNat(m.seq) && isInt(m.tick))
    return [m.grp, m.term, m.commit, m.seq, m.tick];
  if (m.type === MsgType.HeartbeatResp && isNat(m.seq) && isInt(m.tick)) return [m.grp, m.term, m.seq, m.tick];
  return undefined;
}

/**
 * Splits one turn's outgoing messages into the ones sent as they are and one HeartbeatBatch per
 * destination holding all heartbeats and heartbeat responses for it. Heartbeats of the groups in
 * `quiet` are marked as their leader's last before going quiet.
 */
export function coalesceHeartbeats(
  msgs: readonly Message[],
  quiet: ReadonlySet<number> = new Set(),
): { readonly messages: Message[]; readonly batches: HeartbeatBatch[] } {
  const messages: Message[] = [];
  const byPeer = new Map<NodeId, { from: NodeId; to: NodeId; beats: number[]; acks: number[]; quiet: number[] }>();
  for (const m of msgs) {
    const fields = beatOf(m);
    if (!fields) {
      messages.push(m);
      continue;
    }
    let b = byPeer.get(m.to);
    if (!b) byPeer.set(m.to, (b = { from: m.from, to: m.to, beats: [], acks: [], quiet: [] }));
    (m.type === MsgType.Heartbeat ? b.beats : b.acks).push(...fields);
    if (m.type === MsgType.Heartbeat && quiet.has(m.grp)) b.quiet.push(m.grp);
  }
  return { messages, batches: [...byPeer.values()] };
}

/** The Messages a batch stands for, in the order they were sent. */
export function expandHeartbeats(b: HeartbeatBatch): Message[] {
  const out: Message[] = [];
  const { from, to, beats, acks } = b;
  for (let i = 0; i < beats.length; i += BEAT_FIELDS) {
    out.push({
      type: MsgType.Heartbeat,
      grp: beats[i]!,
      from,
      to,
      term: beats[i + 1]!,
      commit: beats[i + 2]!,
      seq: beats[i + 3]!,
      tick: beats[i + 4]!,
    });
  }
  for (let i = 0; i < acks.length; i += ACK_FIELDS) {
    out.push({
      type: MsgType.HeartbeatResp,
      grp: acks[i]!,
      from,
      to,
      term: acks[i + 1]!,
      seq: acks[i + 2]!,
      tick: acks[i + 3]!,
    });
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

function tuplesProblem(name: string, v: unknown, width: number): string | null {
  if (!Array.isArray(v)) return `${name} is not an array`;
  if (v.length % width !== 0) return `${name} has ${v.length} numbers, not a multiple of ${width}`;
  for (let i = 0; i < v.length; i++) {
    // The last field of each tuple is a tick, which the core allows to be any integer.
    const ok = i % width === width - 1 ? isInt(v[i]) : isNat(v[i]);
    if (!ok) return `${name}[${i}] is not a ${i % width === width - 1 ? "safe integer" : "non-negative safe integer"}`;
  }
  return null;
}

/** Returns why `x` is not a well-formed HeartbeatBatch, or null when it is. */
export function heartbeatBatchProblem(x: unknown): string | null {
  if (!isObj(x)) return "not an object";
  if (typeof x.from !== "string" || typeof x.to !== "string") return "from/to";
  const p = tuplesProblem("beats", x.beats, BEAT_FIELDS) ?? tuplesProblem("acks", x.acks, ACK_FIELDS);
  if (p) return p;
  if (!Array.isArray(x.quiet) || !x.quiet.every(isNat)) return "quiet is not an array of group ids";
  return null;
}

/**
 * What arrives on the Raft port is a Message or a HeartbeatBatch (told apart by `beats`). Returns
 * the Messages it carries and the groups whose heartbeat asks the receiver to go quiet, or why it
 * was dropped; never throws, whatever the bytes decoded to.
 */
export function raftMessagesOf(
  x: unknown,
): { readonly messages: Message[]; readonly quiet: ReadonlySet<number> } | { readonly problem: string } {
  if (isObj(x) && "beats" in x) {
    const problem = heartbeatBatchProblem(x);
    if (problem) return { problem: `heartbeat batch: ${problem}` };
    const b = x as unknown as HeartbeatBatch;
    return { messages: expandHeartbeats(b), quiet: new Set(b.quiet) };
  }
  const problem = messageProblem(x);
  return problem ? { problem: `raft message: ${problem}` } : { messages: [x as Message], quiet: new Set() };
}
