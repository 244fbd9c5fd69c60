// Plain data shared by the Raft core, its storage and the host. Everything here is msgpack-friendly
// (numbers, strings, booleans, Uint8Array, arrays, plain objects) so a transport can encode it as is.

export type NodeId = string;

// Matches the `kind` column of raft_log (docs/design/raft.md, "Storage").
export const EntryKind = { Normal: 0, ConfChange: 1, Noop: 2 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array | null;
}

export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type ConfChange =
  | { readonly type: "addVoter"; readonly node: NodeId } // also promotes a learner
  | { readonly type: "addLearner"; readonly node: NodeId }
  | { readonly type: "removeNode"; readonly node: NodeId };

export const MsgType = {
  PreVote: 1,
  PreVoteResp: 2,
  Vote: 3,
  VoteResp: 4,
  App: 5,
  AppResp: 6,
  Heartbeat: 7,
  HeartbeatResp: 8,
  Snap: 9,
  SnapResp: 10,
  TimeoutNow: 11,
  ReadIndex: 12,
  ReadIndexResp: 13,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export interface SnapChunk {
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly last: boolean;
}

// One flat shape for every message type; which optional fields are set depends on `type`.
export interface Message {
  readonly type: MsgType;
  readonly grp: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** App: index of the entry before `entries`; AppResp: the index accepted or rejected;
   *  votes: candidate's last index; SnapResp: snapshot index; ReadIndexResp: read index. */
  readonly index?: number;
  /** App: term at `index`; votes: candidate's last term. */
  readonly logTerm?: number;
  readonly entries?: readonly Entry[];
  readonly commit?: number;
  readonly reject?: boolean;
  /** AppResp reject: the follower's guess of the last index that may match, and its term there. */
  readonly hint?: number;
  readonly hintTerm?: number;
  /** Heartbeat round (ReadIndex confirmation) and the leader tick it was sent at (leases). */
  readonly seq?: number;
  readonly tick?: number;
  /** Vote/PreVote caused by a leadership transfer: bypasses the check-quorum lease. */
  readonly force?: boolean;
  /** ReadIndex request id chosen by the host. */
  readonly ctx?: string;
  readonly snap?: SnapChunk;
  /** SnapResp: bytes of the snapshot the follower holds so far. */
  readonly offset?: number;
}

/** What one group wants written in the host's storage transaction (order: snapshot, entries, hard state). */
export interface GroupWrite {
  readonly grp: number;
  readonly hardState?: HardState;
  /** Replace stored entries with index >= entries[0].index by these. */
  readonly entries?: readonly Entry[];
  /** Store this snapshot and drop log entries up to its index (all entries when discardLog). */
  readonly snapshot?: Snapshot;
  readonly discardLog?: boolean;
}

export interface ReadState {
  readonly ctx: string;
  /** The read is linearizable once the local state machine has applied this index. */
  readonly index: number;
}

export interface Ready {
  /** Persist this (one GroupWrite for the host's shared transaction) BEFORE sending messages. */
  readonly persist: GroupWrite | null;
  /** Install into the state machine before applying `committed` (received from the leader). */
  readonly installSnapshot: Snapshot | null;
  /** Send after `persist` is durable. */
  readonly messages: readonly Message[];
  /** Apply in order after `persist` is durable and `installSnapshot` installed. */
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: string; readonly leader: NodeId | null };

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export interface RaftStatus {
  readonly grp: number;
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly transferringTo: NodeId | null;
}
