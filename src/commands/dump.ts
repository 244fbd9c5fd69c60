// DUMP and RESTORE in Redis's own serialization (src/rdb/dump.ts), so values move between FlyDB
// and redis-server in either direction. RESTORE is a write like any other: the payload travels in
// the op, and decoding it is deterministic on every replica.
import { bulk, err, NULL_BULK, OK, type Reply } from "../resp/reply.ts";
import { dumpPayload, loadPayload } from "../rdb/dump.ts";
import type { RdbStream } from "../rdb/stream.ts";
import type { RdbValue } from "../rdb/value.ts";
import { isReply, noteGrowth } from "./collection.ts";
import { define } from "./define.ts";
import { MAX_ID, MIN_ID } from "./stream-ids.ts";
import { estimateEntriesRead, nodeLimits } from "./stream.ts";
import { WRONG_TYPE, type CommandContext } from "./types.ts";
import { E, lower, parseInt64 } from "./util.ts";

function dump(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const value = readValue(ctx, argv[1]!);
  return value ? bulk(dumpPayload(value)) : NULL_BULK;
}

/** The key's value as RDB encodes it, or undefined when absent. */
export function readValue(ctx: CommandContext, key: Uint8Array): RdbValue | undefined {
  const meta = ctx.db.meta(key, ctx.now);
  if (!meta) return undefined;
  if (meta.type === "string") {
    const value = ctx.db.getString(key, ctx.now);
    return value === undefined || value === WRONG_TYPE ? undefined : { type: "string", value };
  }
  if (meta.type === "stream") return readStream(ctx, key);
  const info = ctx.db.collection(key, ctx.now);
  if (!info) return undefined;
  const { size, compact } = info;
  switch (meta.type) {
    case "list":
      return { type: "list", items: ctx.db.listRange(key, 0, size - 1).map((i) => i.value) };
    case "set":
      return { type: "set", members: ctx.db.setMembers(key), compact };
    case "zset": {
      const entries = ctx.db.zsetRange(key, { by: "rank", start: 0, stop: size - 1 }, false, 0, -1);
      return { type: "zset", entries, compact };
    }
    case "hash":
      return { type: "hash", entries: ctx.db.hashEntries(key), compact };
  }
}

function readStream(ctx: CommandContext, key: Uint8Array): RdbValue | undefined {
  const streams = ctx.db.streams;
  const s = streams.state(key);
  if (!s) return undefined;
  const limits = nodeLimits(ctx);
  return {
    type: "stream",
    entries: streams.range(key, MIN_ID, MAX_ID, false, 0),
    lastId: s.lastId,
    maxDeletedId: s.maxDeletedId,
    entriesAdded: s.entriesAdded,
    groups: streams.groups(key).map((g) => ({
      ...g,
      consumers: streams.consumers(key, g.name),
      pending: streams.pending(key, g.name, MIN_ID, MAX_ID, 0),
    })),
    nodeEntries: limits.entries,
    nodeBytes: limits.bytes,
  };
}

/** A loaded stream's rows: its entries (cut into nodes as XADD would), fields, groups and pending entries. */
function storeStream(ctx: CommandContext, key: Uint8Array, v: RdbStream): void {
  const streams = ctx.db.streams;
  streams.create(key);
  const limits = nodeLimits(ctx);
  for (const e of v.entries) streams.append(key, e.id, e.fields, limits);
  streams.setState(key, { lastId: v.lastId, maxDeletedId: v.maxDeletedId, entriesAdded: v.entriesAdded });
  const state = streams.state(key)!;
  const first = v.entries[0]?.id ?? MIN_ID;
  for (const g of v.groups) {
    const entriesRead = v.legacy ? estimateEntriesRead(state, first, g.lastId) : g.entriesRead;
    streams.putGroup(key, { name: g.name, lastId: g.lastId, entriesRead });
    for (const c of g.consumers) streams.putConsumer(key, g.name, c);
    for (const p of g.pending) streams.putPending(key, g.name, p);
  }
}

interface RestoreOptions {
  readonly replace: boolean;
  readonly absttl: boolean;
}

/** Redis's option loop: IDLETIME and FREQ exclude each other (a syntax error), and are checked but unused. */
function restoreOptions(argv: readonly Uint8Array[]): RestoreOptions | Reply {
  let replace = false;
  let absttl = false;
  let idle = false;
  let freq = false;
  for (let j = 4; j < argv.length; j++) {
    const opt = lower(argv[j]!);
    const more = j + 1 < argv.length;
    if (opt === "replace") replace = true;
    else if (opt === "absttl") absttl = true;
    else if (opt === "idletime" && more && !freq) {
      const v = parseInt64(argv[++j]!);
      if (v === undefined) return E.notInt;
      if (v < 0n) return err("ERR Invalid IDLETIME value, must be >= 0");
      idle = true;
    } else if (opt === "freq" && more && !idle) {
      const v = parseInt64(argv[++j]!);
      if (v === undefined) return E.notInt;
      if (v < 0n || v > 255n) return err("ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = true;
    } else return E.syntax;
  }
  return { replace, absttl };
}

function restore(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const opts = restoreOptions(argv);
  if (isReply(opts)) return opts;
  const key = argv[1]!;
  if (!opts.replace && ctx.db.meta(key, ctx.now)) return err("BUSYKEY Target key name already exists.");
  const ttl = parseInt64(argv[2]!);
  if (ttl === undefined) return E.notInt;
  if (ttl < 0n) return err("ERR Invalid TTL value, must be >= 0");
  const loaded = loadPayload(argv[3]!);
  if (!loaded.ok) {
    if (loaded.reason === "footer") return err("ERR DUMP payload version or checksum are wrong");
    return err("ERR Bad data format");
  }
  const replaced = opts.replace && ctx.db.delete(key, ctx.now);
  let expireAt: bigint | null = null;
  if (ttl !== 0n) {
    // Redis adds in 64-bit arithmetic: an absurd TTL wraps around and reads as already expired.
    expireAt = BigInt.asIntN(64, opts.absttl ? ttl : ttl + BigInt(ctx.now));
    if (expireAt <= BigInt(ctx.now)) {
      if (replaced) ctx.notify?.("g", "del", key);
      return OK;
    }
  }
  store(ctx, key, loaded.value);
  if (expireAt !== null) ctx.db.setExpireAt(key, Number(expireAt));
  ctx.notify?.("n", "new", key);
  ctx.notify?.("g", "restore", key);
  return OK;
}

/**
 * Writes a loaded value, then settles its encoding as Redis's RESTORE does: a compact payload is
 * converted only when it holds too many elements, a plain one also when an element is too long
 * (or, for a set, not an integer); see RdbValue.
 */
function store(ctx: CommandContext, key: Uint8Array, v: RdbValue): void {
  const measured = <T>(xs: readonly T[]) => ("compact" in v && v.compact ? [] : xs);
  switch (v.type) {
    case "string":
      ctx.db.setString(key, v.value, null);
      return;
    case "list":
      ctx.db.listPush(key, v.items, false);
      return;
    case "set":
      ctx.db.setAdd(key, v.members);
      noteGrowth(ctx, key, "set", measured(v.members));
      return;
    case "zset":
      for (const e of v.entries) ctx.db.zsetAdd(key, e.member, e.score);
      noteGrowth(ctx, key, "zset", measured(v.entries.map((e) => e.member)));
      return;
    case "hash":
      for (const [f, val] of v.entries) ctx.db.hashSet(key, f, val);
      noteGrowth(ctx, key, "hash", measured(v.entries.flat()));
      return;
    case "stream":
      storeStream(ctx, key, v);
  }
}

export const DUMP_COMMANDS = define("generic", [
  {
    name: "dump",
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    summary: "Returns a serialized representation of the value stored at a key.",
    run: dump,
  },
  {
    name: "restore",
    arity: -4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "2.6.0",
    keyFlags: "OW update",
    summary: "Creates a key from the serialized representation of a value.",
    run: restore,
  },
  {
    name: "restore-asking",
    arity: -4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "3.0.0",
    keyFlags: "OW update",
    summary: "RESTORE as Redis Cluster's slot migration sends it (FlyDB migrates partitions itself).",
    run: restore,
  },
]);
