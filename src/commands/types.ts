// The contract between command logic (pure) and whatever stores the data (src/store's SQLite
// state machine). Command logic never sees SQL, sockets or the clock: `now` and randomness come in
// through the context, so the same function runs on a leader and, inside apply, on every replica.
import type { Reply } from "../resp/reply.ts";

export type KeyType = "string" | "hash" | "list" | "set" | "zset";

export interface KeyMeta {
  readonly type: KeyType;
  /** Absolute expiry in ms since the epoch, or null for no expiry. */
  readonly expireAt: number | null;
}

/** Returned by typed getters when the key holds another type. */
export const WRONG_TYPE: unique symbol = Symbol("WRONGTYPE");
export type WrongType = typeof WRONG_TYPE;

/**
 * The keyspace one command sees. Keys whose expireAt <= now are absent to every method that
 * takes `now`. Writers are only called inside apply (a store transaction), readers anywhere.
 * Collection types extend this interface in their own section below.
 */
export interface Keyspace {
  meta(key: Uint8Array, now: number): KeyMeta | undefined;
  getString(key: Uint8Array, now: number): Uint8Array | undefined | WrongType;
  /** Replaces whatever the key held (any type), with the given expiry. */
  setString(key: Uint8Array, value: Uint8Array, expireAt: number | null): void;
  /** Removes the key with all its rows; true when a live key was removed. */
  delete(key: Uint8Array, now: number): boolean;
  /** Changes the expiry of an existing live key. */
  setExpireAt(key: Uint8Array, expireAt: number | null): void;
  /** Moves a live key (all rows and expiry) to dst, replacing dst. */
  rename(src: Uint8Array, dst: Uint8Array, now: number): void;
  /** Copies a live key (all rows and expiry) to dst, replacing dst. */
  copy(src: Uint8Array, dst: Uint8Array, now: number): void;
  /** Number of live keys. */
  count(now: number): number;
  /**
   * Cursor iteration in a stable order: every key present for the whole scan is returned at
   * least once. Cursor 0 starts; a returned cursor of 0 means done.
   */
  scan(cursor: number, count: number, now: number, type?: KeyType): { cursor: number; keys: Uint8Array[] };
  /** A live key picked with r in [0, 1), or undefined when empty. */
  randomKey(now: number, r: number): Uint8Array | undefined;
  /** Keys whose expiry is <= now (at most limit), for active expiry. */
  expired(now: number, limit: number): Uint8Array[];
  /** Removes a key only if it is expired at `now`; used by the replicated expiry sweep. */
  deleteIfExpired(key: Uint8Array, now: number): boolean;
  flush(): void;
  /*
   * Partition-scoped variants for a cluster, where data.db holds the rows of every partition the
   * node replicates and keyless commands are answered per partition by its leader.
   */
  /** Live keys of one partition, and how many of them have an expiry. */
  partitionStats(part: number, now: number): { keys: number; expires: number };
  /**
   * Keys of one partition in byte order from `from` (inclusive). Keys are grouped by their first
   * `groupBytes` bytes (zero padded) and a batch never splits a group, so a resume point fits in
   * a fixed-size cursor: `next` is the padded prefix where the next batch starts (undefined: done).
   */
  scanPartition(part: number, from: Uint8Array, count: number, now: number, groupBytes: number, type?: KeyType): { keys: Uint8Array[]; next: Uint8Array | undefined };
  /** A live key of one partition picked with r in [0, 1), or undefined when it has none. */
  randomKeyInPartition(part: number, now: number, r: number): Uint8Array | undefined;
  /** Removes every row of one partition. */
  flushPartition(part: number): void;
}

/** A write as it travels through the log: everything apply needs to be deterministic. */
export interface Op {
  /** One command, or several for MULTI/EXEC (applied atomically). */
  readonly cmds: readonly (readonly Uint8Array[])[];
  /** The proposer's clock in ms: relative TTLs are resolved against it on every replica. */
  readonly now: number;
  /** Seed for commands that pick at random (SPOP, …): identical picks on every replica. */
  readonly seed: number;
  /** True for MULTI/EXEC: the reply is the array of every command's reply. */
  readonly multi?: boolean;
}

/** What the server knows about itself, for INFO, CONFIG GET, CLIENT LIST, … */
export interface ServerView {
  readonly version: string;
  readonly nodeId: string;
  readonly port: number;
  readonly startedAt: number;
  readonly configValue: (name: string) => string | undefined;
  readonly configNames: () => readonly string[];
  /** Asynchronous when a section needs other nodes (INFO keyspace in a cluster); an error reply when they do not answer. */
  readonly info: (section: string | undefined, now: number) => string | Promise<string | Reply>;
}

export type CommandFlag =
  | "write" // becomes an op and goes through the log
  | "readonly"
  | "fast"
  | "admin"
  | "noauth" // allowed before AUTH
  | "connection" // touches only the connection: run locally, never logged
  | "no-multi" // not allowed inside MULTI
  | "random"; // reply depends on randomness

export interface CommandContext {
  readonly db: Keyspace;
  readonly now: number;
  /** Uniform in [0, 1); seeded from the op inside apply. */
  readonly random: () => number;
}

export type CommandFn = (ctx: CommandContext, argv: readonly Uint8Array[]) => Reply;

/** Per-connection state that connection and server commands read and change. */
export interface ClientState {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
  readonly createdAt: number;
  name: string;
  libName: string;
  libVer: string;
  protocol: 2 | 3;
  authenticated: boolean;
  lastCommand: string;
  lastActiveAt: number;
  /** Speaks Redis Cluster: gets -MOVED instead of proxying (READONLY, CLUSTER SLOTS/SHARDS, or redis_cluster_mode). */
  clusterMode: boolean;
}

/** A node as Redis Cluster clients see it. */
export interface ClusterNodeRef {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** One contiguous slot range with the node that serves writes for it and its replicas. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: ClusterNodeRef;
  readonly replicas: readonly ClusterNodeRef[];
}

/** The cluster as CLUSTER SLOTS/SHARDS/NODES/INFO describe it; absent on a standalone node. */
export interface ClusterView {
  readonly myId: string;
  slots(): readonly SlotRange[];
  /** Every member, with whether gossip sees it up. */
  members(): readonly (ClusterNodeRef & { readonly alive: boolean })[];
  /** Where a command on this slot must go, when it is not this node: "host:port". */
  redirect(slot: number): string | undefined;
  readonly state: () => "ok" | "fail";
}

/** What a connection-level command may touch: its own client, the others, the server. */
export interface SessionApi {
  readonly client: ClientState;
  readonly now: number;
  readonly server: ServerView;
  readonly requirepass: string;
  readonly clients: () => readonly ClientState[];
  /** Closes another client's connection; false when no such id. */
  readonly kill: (id: number) => boolean;
  /** Closes this connection after the current reply is written. */
  readonly closeAfterReply: () => void;
  /** Forgets per-connection state (MULTI queue, WATCH) for RESET. */
  readonly resetState: () => void;
  readonly table: ReadonlyMap<string, CommandSpec>;
  readonly cluster: ClusterView | undefined;
}

export type SessionFn = (s: SessionApi, argv: readonly Uint8Array[]) => Reply | Promise<Reply>;

/** One row of the command table, shaped like Redis's (COMMAND INFO reports these fields). */
export interface CommandSpec {
  readonly name: string; // lower-case
  /** Redis convention: n > 0 exactly n arguments including the name; n < 0 at least -n. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  readonly firstKey: number;
  readonly lastKey: number; // -1: the last argument; -2: the one before it, …
  readonly step: number;
  readonly group: string; // "string", "generic", "connection", "server", "hash", …
  readonly summary: string;
  readonly since: string;
  /** Data commands: run on the keyspace (inside apply when flagged "write"). */
  readonly run?: CommandFn;
  /** Connection and server commands: run on the session, never logged. */
  readonly exec?: SessionFn;
}
