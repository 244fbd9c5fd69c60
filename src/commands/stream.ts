// Stream commands with Redis 7.0's replies and error texts (t_stream.c): XADD, XRANGE, XREVRANGE,
// XLEN, XDEL, XTRIM, XSETID, XINFO. Consumer groups and reads are in stream-groups.ts. Entry IDs
// from `*` come from the op's clock (ctx.now), so every replica generates the same ones.
import {
  array,
  bulk,
  EMPTY_ARRAY,
  err,
  int,
  map,
  NULL_ARRAY,
  NULL_BULK,
  OK,
  type Reply,
  simple,
} from "../resp/reply.ts";
import { DEFAULT_ENCODING, isReply } from "./collection.ts";
import { define, subcommands } from "./define.ts";
import {
  compareIds,
  formatId,
  incrId,
  INVALID_ID,
  MAX_ID,
  MIN_ID,
  type ParsedId,
  parseId,
  parseRangeBound,
  type StreamId,
  U64_MAX,
} from "./stream-ids.ts";
import type { NodeLimits, StreamEntry, StreamGroup, StreamState, StreamTrim } from "./stream-store.ts";
import type { CommandContext } from "./types.ts";
import { ascii, E, lower, parseInt64 } from "./util.ts";

/** stream-node-max-entries and stream-node-max-bytes as the op carries them (Redis's defaults otherwise). */
export function nodeLimits(ctx: CommandContext): NodeLimits {
  const e = ctx.encoding ?? DEFAULT_ENCODING;
  return { entries: e.streamNodeEntries, bytes: e.streamNodeBytes };
}
/** Listpacks hold at most 1 GiB (STREAM_LISTPACK_MAX_SIZE). */
const MAX_ENTRY_BYTES = 1 << 30;

/** The stream at `key`: its state, undefined when absent, WRONGTYPE when another type. */
export function lookup(ctx: CommandContext, key: Uint8Array): StreamState | undefined | Reply {
  const meta = ctx.db.meta(key, ctx.now);
  if (!meta) return undefined;
  if (meta.type !== "stream") return E.wrongType;
  return ctx.db.streams.state(key);
}

export const idReply = (id: StreamId): Reply => bulk(formatId(id));
export const entryReply = (e: StreamEntry): Reply => array([idReply(e.id), array(e.fields.map((f) => bulk(f)))]);

/** The first live entry's ID (Redis's first_id), 0-0 when empty. */
export function firstId(ctx: CommandContext, key: Uint8Array): StreamId {
  return ctx.db.streams.range(key, MIN_ID, MAX_ID, false, 1)[0]?.id ?? MIN_ID;
}

/** The last live entry's ID (streamLastValidID), undefined when empty. */
export function lastValidId(ctx: CommandContext, key: Uint8Array): StreamId | undefined {
  return ctx.db.streams.range(key, MIN_ID, MAX_ID, true, 1)[0]?.id;
}

const isZero = (id: StreamId) => id.ms === 0n && id.seq === 0n;

/** streamRangeHasTombstones from `start` to the end, with the stream's first entry `first`. */
export function hasTombstonesFrom(s: StreamState, first: StreamId, start: StreamId): boolean {
  if (s.length === 0 || isZero(s.maxDeletedId)) return false;
  if (compareIds(first, s.maxDeletedId) > 0) return false;
  return compareIds(start, s.maxDeletedId) <= 0;
}

/** streamEstimateDistanceFromFirstEverEntry: the entries_read an ID stands for, undefined when unknown. */
export function estimateEntriesRead(s: StreamState, first: StreamId, id: StreamId): bigint | undefined {
  if (s.entriesAdded === 0n) return 0n;
  const cmpLast = compareIds(id, s.lastId);
  if (s.length === 0 && cmpLast < 1) return s.entriesAdded;
  if (cmpLast === 0) return s.entriesAdded;
  if (cmpLast > 0) return undefined;
  if (isZero(s.maxDeletedId) || compareIds(s.maxDeletedId, first) < 0) {
    const cmpFirst = compareIds(id, first);
    if (cmpFirst < 0) return s.entriesAdded - BigInt(s.length);
    if (cmpFirst === 0) return s.entriesAdded - BigInt(s.length) + 1n;
  }
  return undefined;
}

/** A group's lag (streamReplyWithCGLag), null when it cannot be known. */
export function lagReply(s: StreamState, first: StreamId, g: StreamGroup): Reply {
  if (s.entriesAdded === 0n) return int(0);
  if (g.entriesRead !== undefined && !hasTombstonesFrom(s, first, g.lastId)) return int(s.entriesAdded - g.entriesRead);
  const read = estimateEntriesRead(s, first, g.lastId);
  return read === undefined ? NULL_BULK : int(s.entriesAdded - read);
}

/** getLongLongFromObjectOrReply: an int64, or Redis's error (`message` when given). */
export function longArg(b: Uint8Array, message?: string): bigint | Reply {
  const v = parseInt64(b);
  return v === undefined ? (message ? err(`ERR ${message}`) : E.notInt) : v;
}

interface AddOrTrimArgs {
  /** XADD: the position of the ID (or `*`); XTRIM: the argument count. */
  readonly at: number;
  readonly trim?: StreamTrim;
  readonly noMkStream: boolean;
  readonly id?: ParsedId;
}

/** streamParseAddOrTrimArgsOrReply. */
function parseAddOrTrim(ctx: CommandContext, argv: readonly Uint8Array[], xadd: boolean): AddOrTrimArgs | Reply {
  let strategy: "maxlen" | "minid" | undefined;
  let approx = false;
  let maxlen = 0;
  let minid: StreamId = MIN_ID;
  let limit = 0n;
  let limitGiven = false;
  let noMkStream = false;
  let id: ParsedId | undefined;
  let i = 2;
  for (; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    const a = argv[i]!;
    const opt = lower(a);
    if (xadd && a.length === 1 && a[0] === 0x2a) break;
    if ((opt === "maxlen" || opt === "minid") && more > 0) {
      if (strategy) return err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      approx = false;
      const next = argv[i + 1]!;
      if (more >= 2 && next.length === 1 && next[0] === 0x7e) {
        approx = true;
        i++;
      } else if (more >= 2 && next.length === 1 && next[0] === 0x3d) i++;
      if (opt === "maxlen") {
        const n = longArg(argv[i + 1]!);
        if (isReply(n)) return n;
        if (n < 0n) return err("ERR The MAXLEN argument must be >= 0.");
        maxlen = Number(n);
      } else {
        const parsed = parseId(argv[i + 1]!, 0n, true);
        if (!parsed) return INVALID_ID;
        minid = parsed;
      }
      i++;
      strategy = opt;
    } else if (opt === "limit" && more > 0) {
      const n = longArg(argv[i + 1]!);
      if (isReply(n)) return n;
      if (n < 0n) return err("ERR The LIMIT argument must be >= 0.");
      limit = n;
      limitGiven = true;
      i++;
    } else if (xadd && opt === "nomkstream") {
      noMkStream = true;
    } else if (xadd) {
      id = parseId(a, 0n, true, true);
      if (!id) return INVALID_ID;
      break;
    } else return E.syntax;
  }
  if (limit !== 0n && !strategy) {
    return err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
  }
  if (!xadd && !strategy) return err("ERR syntax error, XTRIM must be called with a trimming strategy");
  if (limitGiven && !approx) return err("ERR syntax error, LIMIT cannot be used without the special ~ option");
  let max = Number(limit);
  if (!limitGiven) {
    max = approx ? 100 * nodeLimits(ctx).entries : 0;
    if (approx && (max <= 0 || max > 1_000_000)) max = 10_000;
  }
  const trim = strategy ? { strategy, maxlen, minid, approx, limit: max } : undefined;
  return { at: i, noMkStream, ...(trim ? { trim } : {}), ...(id ? { id } : {}) };
}

function xadd(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const args = parseAddOrTrim(ctx, argv, true);
  if (isReply(args)) return args;
  const fields = argv.slice(args.at + 1);
  if (fields.length < 2 || fields.length % 2 === 1) return E.arity("xadd");
  const given = args.id;
  if (given?.seqGiven && isZero(given)) return err("ERR The ID specified in XADD must be greater than 0-0");
  const key = argv[1]!;
  let s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s) {
    if (args.noMkStream) return NULL_BULK;
    ctx.db.streams.create(key);
    s = ctx.db.streams.state(key)!;
  }
  if (compareIds(s.lastId, MAX_ID) === 0) {
    return err("ERR The stream has exhausted the last possible ID, unable to add more items");
  }
  let id: StreamId | undefined;
  if (!given) {
    const ms = BigInt(Math.max(0, Math.floor(ctx.now)));
    id = ms > s.lastId.ms ? { ms, seq: 0n } : incrId(s.lastId);
  } else if (given.seqGiven) id = given;
  else if (given.ms === s.lastId.ms)
    id = s.lastId.seq === U64_MAX ? undefined : { ms: given.ms, seq: s.lastId.seq + 1n };
  else id = { ms: given.ms, seq: 0n };
  if (!id || compareIds(id, s.lastId) <= 0) {
    return err("ERR The ID specified in XADD is equal or smaller than the target stream top item");
  }
  if (fields.reduce((n, f) => n + f.length, 0) > MAX_ENTRY_BYTES) return err("ERR Elements are too large to be stored");
  ctx.db.streams.append(key, id, fields, nodeLimits(ctx));
  ctx.notify?.("t", "xadd", key);
  if (args.trim && ctx.db.streams.trim(key, args.trim) > 0) ctx.notify?.("t", "xtrim", key);
  return idReply(id);
}

function xrange(rev: boolean) {
  return (ctx: CommandContext, argv: readonly Uint8Array[]): Reply => {
    const start = parseRangeBound(argv[rev ? 3 : 2]!, 0n, true);
    if (isReply(start)) return start;
    const end = parseRangeBound(argv[rev ? 2 : 3]!, U64_MAX, false);
    if (isReply(end)) return end;
    let count = -1;
    for (let j = 4; j < argv.length; j++) {
      if (lower(argv[j]!) === "count" && j + 1 < argv.length) {
        const n = longArg(argv[++j]!);
        if (isReply(n)) return n;
        count = n < 0n ? 0 : Number(n);
      } else return E.syntax;
    }
    const s = lookup(ctx, argv[1]!);
    if (isReply(s)) return s;
    if (!s) return EMPTY_ARRAY;
    if (count === 0) return NULL_ARRAY;
    if (compareIds(start, end) > 0) return EMPTY_ARRAY;
    const entries = ctx.db.streams.range(argv[1]!, start, end, rev, Math.max(count, 0));
    return array(entries.map(entryReply));
  };
}

function xlen(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const s = lookup(ctx, argv[1]!);
  if (isReply(s)) return s;
  return int(s?.length ?? 0);
}

function strictIds(args: readonly Uint8Array[]): StreamId[] | Reply {
  const ids: StreamId[] = [];
  for (const a of args) {
    const id = parseId(a, 0n, true);
    if (!id) return INVALID_ID;
    ids.push(id);
  }
  return ids;
}

function xdel(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s) return int(0);
  const ids = strictIds(argv.slice(2));
  if (isReply(ids)) return ids;
  let deleted = 0;
  let maxDeleted = s.maxDeletedId;
  for (const id of ids) {
    if (ctx.db.streams.remove(key, [id]) === 0) continue;
    deleted++;
    if (compareIds(id, maxDeleted) > 0) maxDeleted = id;
  }
  if (deleted > 0) {
    ctx.db.streams.setState(key, { lastId: s.lastId, maxDeletedId: maxDeleted, entriesAdded: s.entriesAdded });
    ctx.notify?.("t", "xdel", key);
  }
  return int(deleted);
}

function xtrim(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const args = parseAddOrTrim(ctx, argv, false);
  if (isReply(args)) return args;
  const key = argv[1]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s) return int(0);
  const deleted = ctx.db.streams.trim(key, args.trim!);
  if (deleted > 0) ctx.notify?.("t", "xtrim", key);
  return int(deleted);
}

function xsetid(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const id = parseId(argv[2]!, 0n, true);
  if (!id) return INVALID_ID;
  let entriesAdded = -1n;
  let maxDeleted: StreamId = MIN_ID;
  for (let i = 3; i < argv.length; i += 2) {
    const opt = lower(argv[i]!);
    const more = argv.length - 1 - i;
    if (opt === "entriesadded" && more > 0) {
      const n = longArg(argv[i + 1]!);
      if (isReply(n)) return n;
      if (n < 0n) return err("ERR entries_added must be positive");
      entriesAdded = n;
    } else if (opt === "maxdeletedid" && more > 0) {
      const m = parseId(argv[i + 1]!, 0n, true);
      if (!m) return INVALID_ID;
      if (compareIds(id, m) < 0) {
        return err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
      }
      maxDeleted = m;
    } else return E.syntax;
  }
  const key = argv[1]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s) return E.noSuchKey;
  if (s.length > 0) {
    if (compareIds(id, lastValidId(ctx, key)!) < 0) {
      return err("ERR The ID specified in XSETID is smaller than the target stream top item");
    }
    if (entriesAdded !== -1n && BigInt(s.length) > entriesAdded) {
      return err("ERR The entries_added specified in XSETID is smaller than the target stream length");
    }
  }
  ctx.db.streams.setState(key, {
    lastId: { ms: id.ms, seq: id.seq },
    maxDeletedId: isZero(maxDeleted) ? s.maxDeletedId : maxDeleted,
    entriesAdded: entriesAdded === -1n ? s.entriesAdded : entriesAdded,
  });
  ctx.notify?.("t", "xsetid", key);
  return OK;
}

const field = (name: string, value: Reply): readonly [Reply, Reply] => [bulk(name), value];

export const subcommandSyntax = (argv: readonly Uint8Array[], container: string): Reply =>
  err(
    `ERR unknown subcommand or wrong number of arguments for '${ascii(argv[1]!)}'. ` +
      `Try ${container.toUpperCase()} HELP.`,
  );

/**
 * A container's subcommand: Redis's arity check (`name|sub`) and unknown-subcommand error first.
 * Returns the lower-case subcommand name or the error.
 */
export function subcommandOf(
  argv: readonly Uint8Array[],
  container: string,
  arities: Readonly<Record<string, number>>,
): string | Reply {
  const sub = lower(argv[1]!);
  const arity = arities[sub];
  if (arity === undefined) {
    return err(`ERR unknown subcommand '${ascii(argv[1]!)}'. Try ${container.toUpperCase()} HELP.`);
  }
  if (arity > 0 ? argv.length !== arity : argv.length < -arity) return E.arity(`${container}|${sub}`);
  return sub;
}

const XINFO_ARITY = { consumers: 4, groups: 3, stream: -3, help: 2 };
const XINFO_HELP = [
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream.",
  "HELP",
  "    Prints this help.",
];

function xinfo(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const sub = subcommandOf(argv, "xinfo", XINFO_ARITY);
  if (isReply(sub)) return sub;
  if (sub === "help") return array(XINFO_HELP.map((l) => simple(l)));
  const key = argv[2]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s) return E.noSuchKey;
  const streams = ctx.db.streams;
  if (sub === "consumers") {
    const group = argv[3]!;
    if (!streams.group(key, group)) {
      return err(`NOGROUP No such consumer group '${ascii(group)}' for key name '${ascii(key)}'`);
    }
    return array(
      streams
        .consumers(key, group)
        .map((c) =>
          map([
            field("name", bulk(c.name)),
            field("pending", int(streams.pendingCount(key, group, c.name))),
            field("idle", int(Math.max(0, ctx.now - c.seenTime))),
          ]),
        ),
    );
  }
  const first = firstId(ctx, key);
  if (sub === "groups") {
    return array(
      streams
        .groups(key)
        .map((g) =>
          map([
            field("name", bulk(g.name)),
            field("consumers", int(streams.consumers(key, g.name).length)),
            field("pending", int(streams.pendingCount(key, g.name))),
            field("last-delivered-id", idReply(g.lastId)),
            field("entries-read", g.entriesRead === undefined ? NULL_BULK : int(g.entriesRead)),
            field("lag", lagReply(s, first, g)),
          ]),
        ),
    );
  }
  return xinfoStream(ctx, argv, s, first);
}

function xinfoStream(ctx: CommandContext, argv: readonly Uint8Array[], s: StreamState, first: StreamId): Reply {
  const key = argv[2]!;
  const streams = ctx.db.streams;
  const opts = argv.slice(3);
  let count = 10;
  const full = opts.length > 0;
  if (full) {
    if (opts.length !== 1 && opts.length !== 3) return subcommandSyntax(argv, "xinfo");
    if (lower(opts[0]!) !== "full") return subcommandSyntax(argv, "xinfo");
    if (opts.length === 3) {
      if (lower(opts[1]!) !== "count") return subcommandSyntax(argv, "xinfo");
      const n = longArg(opts[2]!);
      if (isReply(n)) return n;
      count = n < 0n ? 10 : Number(n);
    }
  }
  const nodes = streams.nodeCount(key);
  const head = [
    field("length", int(s.length)),
    field("radix-tree-keys", int(nodes)),
    field("radix-tree-nodes", int(nodes === 0 ? 1 : nodes + 1)),
    field("last-generated-id", idReply(s.lastId)),
    field("max-deleted-entry-id", idReply(s.maxDeletedId)),
    field("entries-added", int(s.entriesAdded)),
    field("recorded-first-entry-id", idReply(first)),
  ];
  if (!full) {
    const [firstEntry] = streams.range(key, MIN_ID, MAX_ID, false, 1);
    const [lastEntry] = streams.range(key, MIN_ID, MAX_ID, true, 1);
    return map([
      ...head,
      field("groups", int(streams.groups(key).length)),
      field("first-entry", firstEntry ? entryReply(firstEntry) : NULL_BULK),
      field("last-entry", lastEntry ? entryReply(lastEntry) : NULL_BULK),
    ]);
  }
  const groups = streams.groups(key).map((g) => {
    const pel = streams.pending(key, g.name, MIN_ID, MAX_ID, count);
    return map([
      field("name", bulk(g.name)),
      field("last-delivered-id", idReply(g.lastId)),
      field("entries-read", g.entriesRead === undefined ? NULL_BULK : int(g.entriesRead)),
      field("lag", lagReply(s, first, g)),
      field("pel-count", int(streams.pendingCount(key, g.name))),
      field(
        "pending",
        array(pel.map((p) => array([idReply(p.id), bulk(p.consumer), int(p.deliveryTime), int(p.deliveryCount)]))),
      ),
      field(
        "consumers",
        array(
          streams.consumers(key, g.name).map((c) => {
            const own = streams.pending(key, g.name, MIN_ID, MAX_ID, count, c.name);
            return map([
              field("name", bulk(c.name)),
              field("seen-time", int(c.seenTime)),
              field("pel-count", int(streams.pendingCount(key, g.name, c.name))),
              field(
                "pending",
                array(own.map((p) => array([idReply(p.id), int(p.deliveryTime), int(p.deliveryCount)]))),
              ),
            ]);
          }),
        ),
      ),
    ]);
  });
  return map([
    ...head,
    field("entries", array(streams.range(key, MIN_ID, MAX_ID, false, count).map(entryReply))),
    field("groups", array(groups)),
  ]);
}

export const STREAM_COMMANDS = define("stream", [
  {
    name: "xadd",
    arity: -5,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Appends a new message to a stream. Creates the key if it doesn't exist.",
    keyFlags: "RW insert",
    run: xadd,
  },
  {
    name: "xrange",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Returns the messages from a stream within a range of IDs.",
    run: xrange(false),
  },
  {
    name: "xrevrange",
    arity: -4,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Returns the messages from a stream within a range of IDs in reverse order.",
    run: xrange(true),
  },
  {
    name: "xlen",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Return the number of messages in a stream.",
    run: xlen,
  },
  {
    name: "xdel",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Returns the number of messages after removing them from a stream.",
    keyFlags: "RW delete",
    run: xdel,
  },
  {
    name: "xtrim",
    arity: -4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Deletes messages from the beginning of a stream.",
    keyFlags: "RW delete",
    run: xtrim,
  },
  {
    name: "xsetid",
    arity: -3,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "An internal command for replicating stream values.",
    keyFlags: "RW update",
    run: xsetid,
  },
  {
    name: "xinfo",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 2, last: 2, step: 1 },
    since: "5.0.0",
    summary: "A container for stream introspection commands.",
    subcommands: subcommands([
      ["consumers", 4, 2, "RO access"],
      ["groups", 3, 2, "RO access"],
      ["help", 2],
      ["stream", -3, 2, "RO access"],
    ]),
    run: xinfo,
  },
]);
