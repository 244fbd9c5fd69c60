// Public surface of the Raft core (pure: no I/O). The SQLite storage is src/store/raft-log.ts.
export { Raft } from "./raft.ts";
export type { FollowerProgress, RaftConfig } from "./raft.ts";
export type { PersistedGroup, RaftStorage } from "./storage.ts";
export { bootstrapWrite, EMPTY_HARD_STATE, EMPTY_SNAPSHOT_META, isEmptyGroup } from "./storage.ts";
export { MemoryRaftStorage } from "./memory-storage.ts";
export { decodeConf, encodeConf } from "./conf.ts";
export { isMessage, messageProblem } from "./message-check.ts";
export { EntryKind, MsgType } from "./types.ts";
export type {
  ConfChange,
  ConfState,
  Entry,
  GroupWrite,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  SnapChunk,
  Snapshot,
  SnapshotMeta,
} from "./types.ts";
