// What stream commands need from the store (Keyspace.streams; implemented by src/store/stream-rows.ts):
// a stream is rows (entries, consumer groups, consumers, pending entries), so a range read or a
// group read is an index range scan and a write touches only the rows it changes. Methods take a
// key the caller has checked is a live stream (or, for create, absent); writers run inside apply.
import type { StreamId } from "./stream-ids.ts";

/** The stream's own fields (Redis's struct stream without its radix tree). */
export interface StreamState {
  readonly length: number;
  readonly lastId: StreamId;
  readonly maxDeletedId: StreamId;
  /** Entries ever added (XINFO entries-added). */
  readonly entriesAdded: bigint;
}

export interface StreamEntry {
  readonly id: StreamId;
  /** field, value, field, value, … */
  readonly fields: readonly Uint8Array[];
}

export interface StreamGroup {
  readonly name: Uint8Array;
  readonly lastId: StreamId;
  /** Entries the group has read (XINFO entries-read); undefined when not known (Redis's SCG_INVALID_ENTRIES_READ). */
  readonly entriesRead: bigint | undefined;
}

export interface StreamConsumer {
  readonly name: Uint8Array;
  /** Last time (op clock, ms) the consumer was seen: read, claimed or created. */
  readonly seenTime: number;
}

export interface PendingEntry {
  readonly id: StreamId;
  readonly consumer: Uint8Array;
  /** Last delivery time (op clock, ms). */
  readonly deliveryTime: number;
  readonly deliveryCount: number;
}

/**
 * Redis's radix-tree nodes, as far as they show: `~` trimming removes whole nodes only, and a
 * node holds at most `entries` entries or about `bytes` bytes (stream-node-max-entries/-bytes).
 */
export interface NodeLimits {
  readonly entries: number;
  readonly bytes: number;
}

export interface StreamTrim {
  readonly strategy: "maxlen" | "minid";
  readonly maxlen: number;
  readonly minid: StreamId;
  readonly approx: boolean;
  /** At most this many entries removed (0: no limit). */
  readonly limit: number;
}

export interface StreamStore {
  state(key: Uint8Array): StreamState | undefined;
  /** An empty stream where the key is absent (or expired). */
  create(key: Uint8Array): void;
  setState(key: Uint8Array, state: Omit<StreamState, "length">): void;
  /** Appends an entry with an ID above every other: it becomes the last ID and counts in entriesAdded. */
  append(key: Uint8Array, id: StreamId, fields: readonly Uint8Array[], limits: NodeLimits): void;
  /** Entries with start <= id <= end, ascending (descending when rev), at most `count` (0: all). */
  range(key: Uint8Array, start: StreamId, end: StreamId, rev: boolean, count: number): StreamEntry[];
  /** Removes entries; the number that existed. The caller updates maxDeletedId. */
  remove(key: Uint8Array, ids: readonly StreamId[]): number;
  /** Redis's streamTrim: the number of entries removed. */
  trim(key: Uint8Array, trim: StreamTrim): number;
  /** Radix-tree nodes (listpacks) the entries would occupy in Redis (XINFO radix-tree-keys). */
  nodeCount(key: Uint8Array): number;

  /** Groups in name byte order. */
  groups(key: Uint8Array): StreamGroup[];
  group(key: Uint8Array, name: Uint8Array): StreamGroup | undefined;
  /** Creates or updates. */
  putGroup(key: Uint8Array, group: StreamGroup): void;
  /** Removes a group with its consumers and pending entries; false when absent. */
  deleteGroup(key: Uint8Array, name: Uint8Array): boolean;

  /** Consumers of a group in name byte order. */
  consumers(key: Uint8Array, group: Uint8Array): StreamConsumer[];
  consumer(key: Uint8Array, group: Uint8Array, name: Uint8Array): StreamConsumer | undefined;
  putConsumer(key: Uint8Array, group: Uint8Array, consumer: StreamConsumer): void;
  /** Removes a consumer with its pending entries: how many it had, or undefined when absent. */
  deleteConsumer(key: Uint8Array, group: Uint8Array, name: Uint8Array): number | undefined;

  /**
   * Pending entries of a group (of one consumer when given) with start <= id <= end, ascending, at
   * most `count` (0: all).
   */
  pending(
    key: Uint8Array,
    group: Uint8Array,
    start: StreamId,
    end: StreamId,
    count: number,
    consumer?: Uint8Array,
  ): PendingEntry[];
  pendingEntry(key: Uint8Array, group: Uint8Array, id: StreamId): PendingEntry | undefined;
  /** Creates or replaces. */
  putPending(key: Uint8Array, group: Uint8Array, entry: PendingEntry): void;
  deletePending(key: Uint8Array, group: Uint8Array, id: StreamId): boolean;
  /** The highest pending ID of a group. */
  lastPending(key: Uint8Array, group: Uint8Array): StreamId | undefined;
  /** Pending entries of a group (or of one consumer). */
  pendingCount(key: Uint8Array, group: Uint8Array, consumer?: Uint8Array): number;
  /** Pending counts per consumer that has any, in consumer name order. */
  pendingByConsumer(key: Uint8Array, group: Uint8Array): [Uint8Array, number][];
}
