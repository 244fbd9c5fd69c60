// The contract between command logic (pure) and whatever stores the data (src/store's SQLite
// state machine). Command logic never sees SQL, sockets or the clock: `now` and randomness come in
// through the context, so the same function runs on a leader and, inside apply, on every replica.
import type { Reply } from "../resp/reply.ts";
import type { AclRegistry, DenialReason } from "../acl/registry.ts";
import type { ClusterTips } from "./cluster-policy.ts";
import type { SlowLog } from "./slowlog.ts";
import type { KeyAccess } from "./key-access.ts";
import type { LatencyMonitor } from "./latency.ts";
import type { StreamStore } from "./stream-store.ts";
import type { ClientPause } from "./pause.ts";

export type KeyType = "string" | "hash" | "list" | "set" | "zset" | "stream";

export interface KeyMeta {
  readonly type: KeyType;
  /** Absolute expiry in ms since the epoch, or null for no expiry. */
  readonly expireAt: number | null;
}

/**
 * How Redis 7.0 would hold a string, which OBJECT ENCODING reports and replicas must agree on, so
 * the store keeps it with the value: "encoded" (SET and the like: int, embstr or raw by content),
 * "plain" (INCRBYFLOAT's result: embstr or raw by length), "raw" (edited in place: APPEND to an
 * existing key, SETRANGE, SETBIT, BITFIELD, BITOP's destination, HyperLogLogs).
 */
export type StringForm = "encoded" | "plain" | "raw";

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
  /** Replaces whatever the key held (any type), with the given expiry; `form` defaults to "encoded". */
  setString(key: Uint8Array, value: Uint8Array, expireAt: number | null, form?: StringForm): void;
  /**
   * Replaces the value of a key that is a live string or absent (the caller has checked), keeping
   * a live key's expiry: INCR, APPEND, SETRANGE and the like, in one statement instead of a read
   * of the expiry and a write.
   */
  updateString(key: Uint8Array, value: Uint8Array, now: number, form?: StringForm): void;
  /** The form a live string key was last written in ("encoded" for anything else). */
  stringForm(key: Uint8Array, now: number): StringForm;
  /**
   * Changes only the form of an existing string, which is no write to WATCH: Redis's SETBIT and
   * BITFIELD that change no bit still leave the value raw.
   */
  setStringForm(key: Uint8Array, form: StringForm): void;
  /** Removes the key with all its rows; true when a live key was removed. */
  delete(key: Uint8Array, now: number): boolean;
  /** Changes the expiry of an existing live key. */
  setExpireAt(key: Uint8Array, expireAt: number | null): void;
  /** Moves a live key (all rows and expiry) to dst in database toDb (default: this one), replacing dst. */
  rename(src: Uint8Array, dst: Uint8Array, now: number, toDb?: number): void;
  /** Copies a live key (all rows and expiry) to dst in database toDb (default: this one), replacing dst. */
  copy(src: Uint8Array, dst: Uint8Array, now: number, toDb?: number): void;
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
  /** Removes a key only if it is expired at `now`; used by the replicated expiry sweep. */
  deleteIfExpired(key: Uint8Array, now: number): boolean;
  /** Removes every key of this database (FLUSHDB). */
  flush(): void;
  /** Removes every key of every database (FLUSHALL). */
  flushAll(): void;
  /*
   * Databases (SELECT): the database index is part of a key's identity; a key's slot and
   * partition still come from the key alone.
   */
  /** This database's index. */
  readonly index: number;
  /** The same store seen through database `index`; undefined when it is out of range (config `databases`). */
  database(index: number): Keyspace | undefined;
  /** SWAPDB: this database and `other` trade contents (only partition `part`'s rows when given). */
  swapDatabase(other: number, part?: number): void;
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
  scanPartition(
    part: number,
    from: Uint8Array,
    count: number,
    now: number,
    groupBytes: number,
    type?: KeyType,
  ): { keys: Uint8Array[]; next: Uint8Array | undefined };
  /** A live key of one partition picked with r in [0, 1), or undefined when it has none. */
  randomKeyInPartition(part: number, now: number, r: number): Uint8Array | undefined;
  /** Removes every row of one partition in this database, or in every database. */
  flushPartition(part: number, allDatabases?: boolean): void;
  /**
   * WATCH: `watchPoint` is the newest log index applied for the key's partition (what WATCH
   * records); `version` the index of the op that last wrote the key (or a newer one when the store
   * no longer knows). A write after WATCH makes version > watch point on every replica.
   */
  version(key: Uint8Array): number;
  watchPoint(key: Uint8Array): number;

  // Collections (one row per element: docs/design/storage.md). The command layer checks the key's type with
  /**
   * Whether keys of `slot` (undefined: any slot) are applied by the same state machine as `key`:
   * its partition in a cluster; always on a standalone node, which holds every key. Commands
   * that derive further keys from their arguments' data (SORT's BY and GET patterns) check it.
   */
  colocated(key: Uint8Array, slot: number | undefined): boolean;
  /**
   * FUNCTION's libraries as a FUNCTION DUMP payload, kept by each state machine that applies
   * FUNCTION LOAD: per partition in a cluster (`at`: a key of it, or its number), once for the
   * whole store otherwise (`at` ignored). Shared by every database, as in Redis.
   */
  functionLibraries(at: Uint8Array | number | undefined): Uint8Array | undefined;
  /** Replaces the libraries (undefined: none). */
  setFunctionLibraries(at: Uint8Array | number | undefined, payload: Uint8Array | undefined): void;
  /**
   * The body of script `sha` (lower-case hex) if the state machine applying `at`'s ops has applied an
   * EVAL of it and kept it: what an EVALSHA op that carries the SHA1 alone runs (src/commands/scripting.ts).
   */
  scriptBody(at: Uint8Array, sha: string): Uint8Array | undefined;
  /** Keeps a body an EVAL applied (oldest evicted first, in apply order: the same on every replica). */
  keepScript(at: Uint8Array, sha: string, body: Uint8Array): void;
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
  /** At most `limit` field/value pairs in field byte order, from the first field >= `from` (HSCAN's resume point). */
  hashEntriesFrom(key: Uint8Array, from: Uint8Array, limit: number): [Uint8Array, Uint8Array][];

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
  /** At most `limit` members in byte order, from the first member >= `from` (SSCAN's resume point). */
  setMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): Uint8Array[];

  zsetScore(key: Uint8Array, member: Uint8Array): number | undefined;
  /** Adds or updates; true when the member is new. */
  zsetAdd(key: Uint8Array, member: Uint8Array, score: number): boolean;
  /**
   * zsetAdd of members the key does not hold (distinct; ideally in (score, member) order), in one
   * pass: how a STORE command fills the destination it has just deleted.
   */
  zsetInsertNew(key: Uint8Array, entries: readonly ZEntry[]): void;
  zsetRemove(key: Uint8Array, member: Uint8Array): boolean;
  /** 0-based rank of a member in (score, member) order, or from the end when rev. */
  zsetRank(key: Uint8Array, member: Uint8Array, rev: boolean): number | undefined;
  /** Members in (score, member) order (reversed when rev) within the range, skipping `offset`, at most `limit` (-1: all). */
  zsetRange(key: Uint8Array, range: ZRange, rev: boolean, offset: number, limit: number): ZEntry[];
  /** Members within the range (rank ranges are not counted this way: use collection().size). */
  zsetCount(key: Uint8Array, range: ScoreRange | LexRange): number;
  /** At most `limit` entries in member byte order (not score order), from the first member >= `from` (ZSCAN). */
  zsetMembersFrom(key: Uint8Array, from: Uint8Array, limit: number): ZEntry[];

  /** Streams: entries, groups, consumers and pending entries (src/commands/stream-store.ts). */
  readonly streams: StreamStore;
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
  /** The proposer's encoding thresholds when they differ from Redis's defaults (CONFIG SET). */
  readonly encoding?: EncodingLimits;
  /** The proposing client's database (SELECT); absent: 0, as in logs written before databases. */
  readonly db?: number;
}

/**
 * Redis's thresholds past which a collection leaves its compact encoding (hash-max-listpack-entries,
 * …). They travel with the op, so every replica records the same encoding for a write.
 */
export interface EncodingLimits {
  readonly hashEntries: number;
  readonly hashValue: number;
  readonly setIntsetEntries: number;
  readonly zsetEntries: number;
  readonly zsetValue: number;
  /** stream-node-max-entries and stream-node-max-bytes (src/commands/stream-store.ts NodeLimits). */
  readonly streamNodeEntries: number;
  readonly streamNodeBytes: number;
}

export interface WatchedKey {
  /** Absent: the op's database. */
  readonly db?: number;
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
  /** Applies CONFIG SET changes, by configuration key (src/config/schema.ts); the caller has validated every one. */
  readonly configSet: (changes: ReadonlyMap<string, string | number | boolean>) => void;
  /** CONFIG REWRITE: the changed keys written into the file the node started from. */
  readonly configRewrite: () => Reply;
  /** CONFIG RESETSTAT: INFO stats, commandstats and errorstats start over. */
  readonly resetStats: () => void;
  /** Thresholds that differ from Redis's defaults, for Op.encoding; undefined when all are defaults. */
  readonly encodingLimits: () => EncodingLimits | undefined;
  readonly slowlog: SlowLog;
  readonly keyAccess: KeyAccess;
  readonly latency: LatencyMonitor;
  /** MEMORY STATS: Redis's field names with this process's figures. */
  readonly memoryStats: () => Reply;
  /**
   * SHUTDOWN: stops the node (after a data.db checkpoint when `save`) and ends the process. The
   * promise only settles with an error: on success the connection closes without a reply, as in Redis.
   */
  readonly shutdown: (save: boolean) => Promise<Reply>;
  /** SAVE: checkpoints data.db; OK or the reason it could not. */
  readonly save: () => Promise<Reply>;
  /** Unix seconds of the last successful save, or of the start. */
  readonly lastSave: () => number;
  /**
   * SYNC: the whole dataset's database 0 as an RDB file (src/cluster/backup-source.ts rdbSnapshot),
   * as a bulk reply; absent where the node cannot take one.
   */
  readonly rdbSnapshot?: () => Promise<Reply>;
  /** Resolves after `ms` milliseconds (DEBUG SLEEP, WAIT): command logic has no clock of its own. */
  readonly sleep: (ms: number) => Promise<void>;
}

export type CommandFlag =
  | "write" // becomes an op and goes through the log
  | "readonly"
  | "fast"
  | "admin"
  | "noauth" // allowed before AUTH
  | "connection" // touches only the connection: run locally, never logged
  | "no-multi" // not allowed inside MULTI
  | "blocking" // may wait for a write by another client (src/commands/blocking.ts)
  | "random"; // reply depends on randomness

export interface CommandContext {
  readonly db: Keyspace;
  readonly now: number;
  /** Uniform in [0, 1); seeded from the op inside apply. */
  readonly random: () => number;
  /** The client speaks RESP3 (see Op.resp3). */
  readonly resp3?: boolean;
  /** See Op.encoding; absent: Redis's defaults. */
  readonly encoding?: EncodingLimits;
  /**
   * Present on a connection's local read: a write the read asks to be proposed after it (a cache
   * the read found stale, e.g. PFCOUNT's; expired keys it met). A standalone node's reply waits for
   * it; a cluster member proposes it when it leads the key's group, without waiting.
   */
  readonly writeBack?: WriteBack;
  /**
   * Reports a keyspace event of this write (Redis's notifyKeyspaceEvent); absent when nobody
   * listens (notify-keyspace-events off), so commands call it as `ctx.notify?.(…)`. `db`: another
   * database than the context's (COPY … DB, MOVE).
   */
  readonly notify?: (cls: EventClass, event: string, key: Uint8Array, db?: number) => void;
  /**
   * Told of each command a script runs through redis.call (MONITOR, client tracking of the
   * script's reads); present only where the node that received the script runs it.
   */
  readonly scriptCall?: ScriptCallSink;
}

/**
 * A command a script ran: `db` is the script's database at the time, `declared` the KEYS of the
 * EVAL/FCALL, `read` whether the command is read-only (Redis then tracks the declared keys).
 */
export type ScriptCallSink = (
  db: number,
  argv: readonly Uint8Array[],
  declared: readonly Uint8Array[],
  read: boolean,
) => void;

/**
 * Redis's notify-keyspace-events class of an event: g generic, $ string, l list, s set, h hash,
 * z sorted set, t stream, x expired, n new key.
 */
export type EventClass = "g" | "$" | "l" | "s" | "h" | "z" | "t" | "x" | "n";

/** Receives apply's keyspace events in order (src/pubsub/keyspace-events.ts publishes them). */
export type KeyEventSink = (db: number, cls: EventClass, event: string, key: Uint8Array) => void;

/**
 * What the state machines tell the node of what they apply: keyspace notifications
 * (src/pubsub/keyspace-events.ts), the commands of its clients' scripts, and whether to expire.
 */
export interface KeyEventsHook {
  /** What apply reports to; undefined while notifications are off. */
  sink(): KeyEventSink | undefined;
  /** Whether "new" events (class n) are wanted: apply then checks which keys each write creates. */
  newKeys(): boolean;
  /** Publishes what was reported since the last flush; called once the applied batch is committed. */
  flush(): void;
  /**
   * `op` (undefined: a local read) runs next: where its scripts report the commands they run,
   * undefined unless a client of this node sent it, so other nodes' scripts cost nothing. The keys
   * it changes are that client's writes for its NOLOOP tracking (src/server/op-callers.ts).
   */
  applying?(op: Op | undefined): ScriptCallSink | undefined;
  /**
   * Apply ran `op` on this node for `micros`: its execution time, without the wait for the log,
   * for SLOWLOG and INFO commandstats of the node that received it (src/server/command-observer.ts).
   */
  applied?(op: Op, micros: number): void;
  /** CLIENT PAUSE of the node: its active expiry proposes no deletes meanwhile, as Redis's. */
  expiryPaused?(): boolean;
  /** Keys this node's state machine deleted as expired (active or lazy expiry): INFO expired_keys. */
  expired?(count: number): void;
}

/** Proposes a write on the reading connection's behalf (see CommandContext.writeBack). */
export type WriteBack = (argv: readonly Uint8Array[]) => void;

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
  /** The selected database (SELECT). */
  db: number;
  /** The ACL user the connection runs as (AUTH, HELLO AUTH); "default" until then. */
  user: string;
  /** CLIENT ROUTING: the strategy its reads use in a cluster; absent: the node's routing_strategy. */
  routing?: string;
  /** Its subscriptions of one kind (CLIENT LIST's sub=/psub=/ssub=), from its pub/sub; absent for HTTP. */
  readonly subscriptionCount?: (kind: SubscriptionKind) => number;
  /**
   * What CLIENT LIST's flags= and multi= show of its session: commands queued in MULTI (-1: not in
   * one), whether it waits in a blocking command, its tracking mode; absent for HTTP.
   */
  readonly sessionState?: () => {
    readonly multi: number;
    readonly blocked: boolean;
    readonly tracking?: TrackingOptions;
  };
}

/** A node as Redis Cluster clients see it. */
export interface ClusterNodeRef {
  /** 40 hex characters, as Redis Cluster tools expect; derived from the FlyDB node id (`name`). */
  readonly id: string;
  /** The FlyDB node id, shown as the hostname in CLUSTER NODES. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The node-to-node (Raft transport) port, CLUSTER NODES' `@cport`. */
  readonly busPort: number;
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
/** Users, authentication and refusals, as the session sees them (src/commands/acl.ts). */
export interface SecurityApi {
  readonly acl: AclRegistry;
  /** Cryptographically random bytes (ACL GENPASS). */
  randomBytes(n: number): Uint8Array;
  /** Resolves after `ms` milliseconds (the delay of a source with failed AUTHs). */
  wait(ms: number): Promise<void>;
  /** A refused AUTH or command: the node logs it, rate-limited. */
  refused(event: { reason: DenialReason; username: string; object: string; addr: string }): void;
  /**
   * Runs a change of the users (it throws AclRuleError on a bad rule, changing nothing) and makes
   * it hold where the node keeps its users; replies +OK or the error that kept it from holding.
   */
  changeUsers(apply: () => void): Reply | Promise<Reply>;
  /** ACL LOAD and ACL SAVE: from and to the aclfile. */
  load(): Reply;
  save(): Reply;
}

export interface SessionApi {
  readonly client: ClientState;
  readonly security: SecurityApi;
  readonly now: number;
  readonly server: ServerView;
  readonly clients: () => readonly ClientState[];
  /** Closes another client's connection; false when no such id. */
  readonly kill: (id: number) => boolean;
  /** Closes this connection after the current reply is written. */
  readonly closeAfterReply: () => void;
  /** CLIENT PAUSE of this node (src/commands/pause.ts); absent without a node. */
  readonly clientPause?: ClientPause;
  /** CLIENT REPLY ON/OFF/SKIP: which replies the server writes from this command on. */
  readonly replyMode: (mode: "on" | "off" | "skip") => void;
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
  /** CLIENT UNBLOCK: false when that client is not blocked on this node. */
  readonly unblock: (id: number, withError: boolean) => boolean;
  /** Runs a read-only data command where its key lives (MEMORY USAGE's read). */
  readonly readData: (argv: readonly Uint8Array[]) => Reply | Promise<Reply>;
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
  /** Client tracking of this connection (CLIENT TRACKING, invalidation messages). */
  readonly tracking?: TrackingApi;
  /** MONITOR: from now on this connection is shown every command the node runs (src/server/monitor.ts). */
  readonly monitor?: () => void;
}

/** CLIENT TRACKING's options (Redis's CLIENT_TRACKING_* flags). */
export interface TrackingOptions {
  /** REDIRECT's client id, the one the invalidations go to; absent: this connection. */
  readonly redirect?: number;
  readonly bcast: boolean;
  readonly prefixes: readonly Uint8Array[];
  readonly optin: boolean;
  readonly optout: boolean;
  readonly noloop: boolean;
}

/** Client-side caching of one connection (src/pubsub/tracking.ts): CLIENT TRACKING and its kin. */
export interface TrackingApi {
  /** CLIENT TRACKING ON with options: Redis's error text, or undefined once on. */
  enable(opts: TrackingOptions): string | undefined;
  disable(): void;
  /** CLIENT CACHING YES/NO: Redis's error text, or undefined once set for the next command. */
  caching(yes: boolean): string | undefined;
  /** CLIENT TRACKINGINFO's fields; redirect -1 when off. */
  info(): { flags: string[]; redirect: number; prefixes: Uint8Array[] };
  /** A read-only command ran: remember its keys when the mode says so. */
  readKeys(keys: readonly Uint8Array[]): void;
  /** A command other than CLIENT CACHING ended: the CACHING flag applied to it only. */
  commandDone(): void;
  /** Its CLIENT TRACKING options; undefined while tracking is off. */
  options(): TrackingOptions | undefined;
  /** FLUSHDB/FLUSHALL through this connection: every tracking client of the node drops its cache. */
  flushed(): void;
}

/** Session commands reply at once, except EXEC, which waits for its op to be applied. */
export type SessionFn = (s: SessionApi, argv: readonly Uint8Array[]) => Reply | Promise<Reply>;

/**
 * Redis 7's key-spec flags (COMMAND GETKEYSANDFLAGS, COMMAND INFO key specs), space-separated, e.g.
 * "RW access delete": one string for every key, or the first key's and the other keys' (a destination
 * and its sources, a source and its destination), or one string with the notes COMMAND INFO shows
 * and, for Redis's "variable_flags", the flags of one call (SET with or without GET).
 */
export type KeyFlags =
  | string
  | readonly [first: string, rest: string]
  | { readonly spec: string; readonly notes: string; readonly call?: (argv: readonly Uint8Array[]) => string };

/** A subcommand of a container command (CONFIG GET), as COMMAND LIST and COMMAND GETKEYS see it. */
export interface Subcommand {
  /** Lower-case, without the container's name. */
  readonly name: string;
  /** Counting the container's name, as Redis does: MEMORY USAGE key is -3. */
  readonly arity: number;
  /** Its one key: the position in the call (MEMORY USAGE key: 2) and its key-spec flags (see KeyFlags). */
  readonly key?: { readonly at: number; readonly flags: string };
}

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
  /** Redis lists them as `name|sub` in COMMAND LIST; absent: none. */
  readonly subcommands?: readonly Subcommand[];
  /** How the command uses its keys, as Redis's key specs say; absent: derived from "write"/"readonly". */
  readonly keyFlags?: KeyFlags;
  /** Connection and server commands: run on the session, never logged. */
  readonly exec?: SessionFn;
  /** Where the command runs in a cluster and how replies of several partitions combine; absent: one slot. */
  readonly cluster?: ClusterTips;
  /**
   * Completes a data command's reply on the node the client is connected to, with what only that
   * node knows (OBJECT IDLETIME: its record of key accesses).
   */
  readonly completeReply?: (s: SessionApi, argv: readonly Uint8Array[], reply: Reply) => Reply;
  /**
   * Rewrites a data command on the node that received it, before it is read or proposed, with what
   * only that node has (EVALSHA becomes EVAL with the body from its script cache); an error reply
   * answers instead. Inside MULTI a call it cannot rewrite is queued as it is.
   */
  readonly resolve?: (argv: readonly Uint8Array[]) => readonly Uint8Array[] | Reply;
}

/** One database's key counts, for INFO keyspace (standalone from the store, in a cluster summed over partitions). */
export interface DatabaseKeys {
  readonly db: number;
  readonly keys: number;
  readonly expires: number;
}
