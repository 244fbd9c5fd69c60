// The contract between command logic (pure) and whatever stores the data (src/store's SQLite
// state machine). Command logic never sees SQL, sockets or the clock: `now` and randomness come in
// through the context, so the same function runs on a leader and, inside apply, on every replica.
import type { Reply } from "../resp/reply.ts";
import type { ClusterTips } from "./cluster-policy.ts";

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
  /**
   * Up to `length` bytes of a string from byte `start` (fewer near its end) and the string's whole
   * length, without reading the rest of it: GETBIT and BITFIELD's GET on large bitmaps.
   */
  getStringRange(key: Uint8Array, start: number, length: number, now: number): StringSlice | undefined | WrongType;
  /** Replaces whatever the key held (any type), with the given expiry. */
  setString(key: Uint8Array, value: Uint8Array, expireAt: number | null): void;
  /**
   * Replaces the value of a key that is a live string or absent (the caller has checked), keeping
   * a live key's expiry: INCR, APPEND, SETRANGE and the like, in one statement instead of a read
   * of the expiry and a write.
   */
  updateString(key: Uint8Array, value: Uint8Array, now: number): void;
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
  /** Live keys that have an expiry (INFO keyspace `expires`). */
  countWithExpiry(now: number): number;
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
  /**
   * WATCH: `watchPoint` is the newest log index applied for the key's partition (what WATCH
   * records); `version` the index of the op that last wrote the key (or a newer one when the store
   * no longer knows). A write after WATCH makes version > watch point on every replica.
   */
  version(key: Uint8Array): number;
  watchPoint(key: Uint8Array): number;

  // Collections (one row per element: docs/design/storage.md). The command layer checks the key's type with
  // meta() first; these methods assume the key is absent or of their type. Writers create the key
  // (no expiry) when it is absent and delete it when its last element goes, as Redis does.

  /** Element count and encoding of a live collection; undefined when absent. */
  collection(key: Uint8Array, now: number): CollectionInfo | undefined;
  /** Records that the collection left Redis's compact encoding (sticky, like Redis's conversion). */
  markLarge(key: Uint8Array): void;

  hashGet(key: Uint8Array, field: Uint8Array): Uint8Array | undefined;
  /** True when the field is new. */
  hashSet(key: Uint8Array, field: Uint8Array, value: Uint8Array): boolean;
  hashDelete(key: Uint8Array, field: Uint8Array): boolean;
  /** Field/value pairs in field byte order, from position `offset` (a SCAN cursor), at most `limit`. */
  hashEntries(key: Uint8Array, offset?: number, limit?: number): [Uint8Array, Uint8Array][];

  /** Items at list positions start..stop (inclusive, 0-based, already clamped), head first. */
  listRange(key: Uint8Array, start: number, stop: number): ListItem[];
  /** Pushes values one by one at the head (left) or tail; returns the new length. */
  listPush(key: Uint8Array, values: readonly Uint8Array[], left: boolean): number;
  /** Inserts next to the item with sequence number `seq`. */
  listInsert(key: Uint8Array, seq: number, value: Uint8Array, after: boolean): void;
  listReplace(key: Uint8Array, seq: number, value: Uint8Array): void;
  listDelete(key: Uint8Array, seqs: readonly number[]): void;
  /** Keeps positions start..stop (clamped, start <= stop) and drops the rest. */
  listTrim(key: Uint8Array, start: number, stop: number): void;

  setHas(key: Uint8Array, member: Uint8Array): boolean;
  /** Number of members that were new. */
  setAdd(key: Uint8Array, members: readonly Uint8Array[]): number;
  /** Number of members that were present. */
  setRemove(key: Uint8Array, members: readonly Uint8Array[]): number;
  /** Members in byte order from position `offset`, at most `limit`. */
  setMembers(key: Uint8Array, offset?: number, limit?: number): Uint8Array[];

  zsetScore(key: Uint8Array, member: Uint8Array): number | undefined;
  /** Adds or updates; true when the member is new. */
  zsetAdd(key: Uint8Array, member: Uint8Array, score: number): boolean;
  zsetRemove(key: Uint8Array, member: Uint8Array): boolean;
  /** 0-based rank of a member in (score, member) order, or from the end when rev. */
  zsetRank(key: Uint8Array, member: Uint8Array, rev: boolean): number | undefined;
  /** Members in (score, member) order (reversed when rev) within the range, skipping `offset`, at most `limit` (-1: all). */
  zsetRange(key: Uint8Array, range: ZRange, rev: boolean, offset: number, limit: number): ZEntry[];
  /** Members within the range (rank ranges are not counted this way: use collection().size). */
  zsetCount(key: Uint8Array, range: ScoreRange | LexRange): number;
}

export interface StringSlice {
  readonly bytes: Uint8Array;
  /** Length of the whole string. */
  readonly length: number;
}

export interface CollectionInfo {
  readonly size: number;
  /** False once the collection has outgrown Redis's listpack/intset encoding. */
  readonly compact: boolean;
}

export interface ListItem {
  /** Position key inside the list; stable while other items come and go. */
  readonly seq: number;
  readonly value: Uint8Array;
}

export interface ZEntry {
  readonly member: Uint8Array;
  readonly score: number;
}

export interface ScoreBound {
  readonly value: number;
  readonly exclusive: boolean;
}
/** A lexical bound: "-" and "+" are -inf/+inf, otherwise a member with [ or (. */
export type LexBound = { readonly inf: -1 | 1 } | { readonly value: Uint8Array; readonly exclusive: boolean };

export interface ScoreRange {
  readonly by: "score";
  readonly min: ScoreBound;
  readonly max: ScoreBound;
}
export interface LexRange {
  readonly by: "lex";
  readonly min: LexBound;
  readonly max: LexBound;
}
/** Ranks: 0-based, inclusive, already clamped to the set; counted from the end when rev. */
export interface RankRange {
  readonly by: "rank";
  readonly start: number;
  readonly stop: number;
}
export type ZRange = ScoreRange | LexRange | RankRange;

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
  /**
   * WATCHed keys of a MULTI/EXEC: the version each had at WATCH time and whether it was live
   * then. Apply returns a null array (and runs nothing) when any has changed or expired since.
   */
  readonly watch?: readonly WatchedKey[];
  /**
   * The proposing client speaks RESP3: some replies (WITHSCORES pairs, …) are nested arrays
   * there and flat in RESP2. Only the shape of the reply depends on it, never the writes.
   */
  readonly resp3?: boolean;
}

export interface WatchedKey {
  readonly key: Uint8Array;
  readonly version: number;
  readonly existed: boolean;
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
  /** The client speaks RESP3 (see Op.resp3). */
  readonly resp3?: boolean;
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
  /** MULTI/EXEC/DISCARD/WATCH/UNWATCH: the transaction state lives in the session. */
  readonly multi: () => Reply;
  readonly exec: () => Reply | Promise<Reply>;
  readonly discard: () => Reply;
  readonly watch: (keys: readonly Uint8Array[]) => Reply | Promise<Reply>;
  readonly unwatch: () => Reply;
  readonly table: ReadonlyMap<string, CommandSpec>;
  readonly cluster: ClusterView | undefined;
  /** Pub/sub of this connection; undefined where nothing can be pushed to the client (HTTP). */
  readonly pubsub: PubSubApi | undefined;
}

/** SUBSCRIBE's channels, PSUBSCRIBE's patterns, SSUBSCRIBE's shard channels. */
export type SubscriptionKind = "channel" | "pattern" | "shard";

/** What pub/sub commands see: this connection's subscriptions and this node's (src/pubsub/registry.ts). */
export interface PubSubApi {
  /** False when already subscribed. */
  subscribe(kind: SubscriptionKind, name: Uint8Array): boolean;
  /** False when not subscribed. */
  unsubscribe(kind: SubscriptionKind, name: Uint8Array): boolean;
  /** This connection's subscriptions of one kind, in the order they were made. */
  subscriptions(kind: SubscriptionKind): readonly Uint8Array[];
  count(kind: SubscriptionKind): number;
  /** Writes a reply out of band, after the replies to every command received so far. */
  push(reply: Reply): void;
  /**
   * PUBLISH: delivered here and, in a cluster, on every other member; the number of clients of
   * this node that received it (as Redis Cluster counts).
   */
  publish(channel: Uint8Array, message: Uint8Array): number;
  /** SPUBLISH: delivered by the node leading the channel's slot (forwarded there in a cluster). */
  publishShard(channel: Uint8Array, message: Uint8Array): number | Promise<number>;
  /** PUBSUB CHANNELS / SHARDCHANNELS on this node. */
  names(kind: "channel" | "shard", pattern?: Uint8Array): Uint8Array[];
  /** PUBSUB NUMSUB / SHARDNUMSUB on this node. */
  subscribers(kind: "channel" | "shard", channel: Uint8Array): number;
  /** PUBSUB NUMPAT on this node. */
  patternCount(): number;
}

/** Session commands reply at once, except EXEC, which waits for its op to be applied. */
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
  /**
   * Redis's "movablekeys": commands whose keys are counted by an argument (LMPOP, ZUNIONSTORE, …)
   * name them here; firstKey/lastKey/step then only describe the first one.
   */
  readonly keys?: (argv: readonly Uint8Array[]) => Uint8Array[];
  /** Connection and server commands: run on the session, never logged. */
  readonly exec?: SessionFn;
  /** Where the command runs in a cluster and how replies of several partitions combine; absent: one slot. */
  readonly cluster?: ClusterTips;
}
