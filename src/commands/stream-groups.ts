// Stream reads and consumer groups with Redis 7.0's replies and error texts (t_stream.c): XREAD,
// XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM. Each `run` is the non-blocking form; a
// BLOCK waits in the session like BLPOP (src/commands/blocking.ts). Delivery and idle times are
// the op's clock (ctx.now), so every replica records the same pending entries.
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
import { isReply } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define, subcommands } from "./define.ts";
import {
  compareIds,
  formatId,
  incrId,
  INVALID_ID,
  MAX_ID,
  MIN_ID,
  parseId,
  parseRangeBound,
  type StreamId,
  U64_MAX,
} from "./stream-ids.ts";
import type { StreamGroup, StreamState } from "./stream-store.ts";
import {
  entryReply,
  estimateEntriesRead,
  firstId,
  hasTombstonesFrom,
  idReply,
  lastValidId,
  longArg,
  lookup,
  subcommandOf,
  subcommandSyntax,
} from "./stream.ts";
import type { CommandContext } from "./types.ts";
import { ascii, E, lower, utf8 } from "./util.ts";

const noGroup = (key: Uint8Array, group: Uint8Array) =>
  err(`NOGROUP No such key '${ascii(key)}' or consumer group '${ascii(group)}'`);

/** The keys of XREAD/XREADGROUP: the first half of what follows STREAMS. */
export function streamsKeys(argv: readonly Uint8Array[]): Uint8Array[] {
  const at = argv.findIndex((a, i) => i > 0 && lower(a) === "streams");
  if (at < 0) return [];
  const rest = argv.length - at - 1;
  return argv.slice(at + 1, at + 1 + Math.floor(rest / 2));
}

interface ReadArgs {
  /** Milliseconds, or undefined without BLOCK. */
  readonly block?: number;
  readonly count: number;
  readonly noack: boolean;
  readonly group?: Uint8Array;
  readonly consumer?: Uint8Array;
  readonly keys: readonly Uint8Array[];
  readonly ids: readonly Uint8Array[];
}

/** XREAD/XREADGROUP's option loop, up to the key and ID lists. */
export function parseReadArgs(argv: readonly Uint8Array[], readgroup: boolean): ReadArgs | Reply {
  let block: number | undefined;
  let count = 0;
  let noack = false;
  let group: Uint8Array | undefined;
  let consumer: Uint8Array | undefined;
  let streamsAt = 0;
  for (let i = 1; i < argv.length; i++) {
    const more = argv.length - i - 1;
    const o = lower(argv[i]!);
    if (o === "block" && more > 0) {
      const t = longArg(argv[++i]!, "timeout is not an integer or out of range");
      if (isReply(t)) return t;
      if (t < 0n) return err("ERR timeout is negative");
      block = Number(t);
    } else if (o === "count" && more > 0) {
      const n = longArg(argv[++i]!);
      if (isReply(n)) return n;
      count = n < 0n ? 0 : Number(n);
    } else if (o === "streams" && more > 0) {
      streamsAt = i + 1;
      if ((argv.length - streamsAt) % 2 !== 0) {
        return err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
      }
      break;
    } else if (o === "group" && more >= 2) {
      if (!readgroup) return err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      group = argv[i + 1];
      consumer = argv[i + 2];
      i += 2;
    } else if (o === "noack") {
      if (!readgroup) return err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
      noack = true;
    } else return E.syntax;
  }
  if (streamsAt === 0) return E.syntax;
  if (readgroup && !group) return err("ERR Missing GROUP option for XREADGROUP");
  const n = (argv.length - streamsAt) / 2;
  return {
    ...(block !== undefined ? { block } : {}),
    count,
    noack,
    ...(group ? { group, consumer } : {}),
    keys: argv.slice(streamsAt, streamsAt + n),
    ids: argv.slice(streamsAt + n),
  };
}

const isDollar = (b: Uint8Array) => b.length === 1 && b[0] === 0x24;
const isGreater = (b: Uint8Array) => b.length === 1 && b[0] === 0x3e;

/** One stream's part of the reply: RESP2 [key, entries] pairs, RESP3 a map. */
const readReply = (ctx: CommandContext, served: (readonly [Reply, Reply])[]): Reply =>
  served.length === 0 ? NULL_ARRAY : ctx.resp3 ? map(served) : array(served.map(([k, v]) => array([k, v])));

function xread(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const args = parseReadArgs(argv, false);
  if (isReply(args)) return args;
  const after: (StreamId | undefined)[] = [];
  for (let i = 0; i < args.keys.length; i++) {
    const s = lookup(ctx, args.keys[i]!);
    if (isReply(s)) return s;
    const a = args.ids[i]!;
    if (isDollar(a)) {
      after.push(s?.lastId ?? MIN_ID);
      continue;
    }
    if (isGreater(a)) {
      return err(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
      );
    }
    const id = parseId(a, 0n, true);
    if (!id) return INVALID_ID;
    after.push(id);
  }
  const served: (readonly [Reply, Reply])[] = [];
  args.keys.forEach((key, i) => {
    const s = lookup(ctx, key);
    if (!s || isReply(s) || s.length === 0) return;
    const gt = after[i]!;
    const max = lastValidId(ctx, key);
    if (!max || compareIds(max, gt) <= 0) return;
    const start = incrId(gt) ?? MIN_ID;
    served.push([bulk(key), array(ctx.db.streams.range(key, start, MAX_ID, false, args.count).map(entryReply))]);
  });
  return readReply(ctx, served);
}

/**
 * XREAD BLOCK with `$`: the IDs the wait starts from (each stream's last ID when the client
 * blocked), so that the retries after each write do not move `$` along with the stream.
 */
export function resolveDollar(argv: readonly Uint8Array[], lastIds: readonly (StreamId | undefined)[]): Uint8Array[] {
  const keys = streamsKeys(argv);
  const idsAt = argv.length - keys.length;
  return argv.map((a, i) => (i >= idsAt && isDollar(a) ? utf8(formatId(lastIds[i - idsAt] ?? MIN_ID)) : a));
}

/** Records delivery of `id` for the group's entries_read and last ID (streamReplyWithRange). */
function advanceGroup(s: StreamState, first: () => StreamId, g: StreamGroup, id: StreamId): StreamGroup {
  if (compareIds(id, g.lastId) <= 0) return g;
  let read = g.entriesRead;
  // The first ID matters only where tombstones might lie ahead: read it only then.
  const clean = s.length === 0 || (s.maxDeletedId.ms === 0n && s.maxDeletedId.seq === 0n);
  if (read !== undefined && (clean || !hasTombstonesFrom(s, first(), id))) read = read + 1n;
  else if (s.entriesAdded !== 0n) read = estimateEntriesRead(s, first(), id);
  return { name: g.name, lastId: id, entriesRead: read };
}

/** The consumer, created when missing; its seen time refreshed. */
function touchConsumer(ctx: CommandContext, key: Uint8Array, group: Uint8Array, name: Uint8Array): void {
  const existed = ctx.db.streams.consumer(key, group, name) !== undefined;
  ctx.db.streams.putConsumer(key, group, { name, seenTime: ctx.now });
  if (!existed) ctx.notify?.("t", "xgroup-createconsumer", key);
}

function xreadgroup(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const args = parseReadArgs(argv, true);
  if (isReply(args)) return args;
  const group = args.group!;
  const consumer = args.consumer!;
  const after: StreamId[] = [];
  const found: [StreamState, StreamGroup][] = [];
  for (let i = 0; i < args.keys.length; i++) {
    const key = args.keys[i]!;
    const s = lookup(ctx, key);
    if (isReply(s)) return s;
    const g = s && ctx.db.streams.group(key, group);
    if (!s || !g) {
      return err(
        `NOGROUP No such key '${ascii(key)}' or consumer group '${ascii(group)}' in XREADGROUP with GROUP option`,
      );
    }
    found.push([s, g]);
    const a = args.ids[i]!;
    if (isDollar(a)) {
      return err(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by " +
          "specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty " +
          "result set.",
      );
    }
    if (isGreater(a)) {
      after.push(MAX_ID);
      continue;
    }
    const id = parseId(a, 0n, true);
    if (!id) return INVALID_ID;
    after.push(id);
  }
  const streams = ctx.db.streams;
  const served: (readonly [Reply, Reply])[] = [];
  args.keys.forEach((key, i) => {
    const [s, g] = found[i]!;
    const gt = after[i]!;
    if (compareIds(gt, MAX_ID) !== 0) {
      touchConsumer(ctx, key, group, consumer);
      const start = incrId(gt) ?? MIN_ID;
      const own = streams.pending(key, group, start, MAX_ID, args.count, consumer);
      const out = own.map((p) => {
        const [e] = streams.range(key, p.id, p.id, false, 1);
        if (!e) return array([idReply(p.id), NULL_ARRAY]);
        streams.putPending(key, group, { ...p, deliveryTime: ctx.now, deliveryCount: p.deliveryCount + 1 });
        return entryReply(e);
      });
      served.push([bulk(key), array(out)]);
      return;
    }
    // Served only when there is something past the group's last ID (then the consumer is seen).
    const entries = s.length > 0 ? streams.range(key, incrId(g.lastId) ?? MIN_ID, MAX_ID, false, args.count) : [];
    if (entries.length === 0) return;
    touchConsumer(ctx, key, group, consumer);
    let first: StreamId | undefined;
    const firstOnce = () => (first ??= firstId(ctx, key));
    let next = g;
    for (const e of entries) {
      next = advanceGroup(s, firstOnce, next, e.id);
      if (!args.noack) {
        streams.putPending(key, group, { id: e.id, consumer, deliveryTime: ctx.now, deliveryCount: 1 });
      }
    }
    streams.putGroup(key, next);
    served.push([bulk(key), array(entries.map(entryReply))]);
  });
  return readReply(ctx, served);
}

const XGROUP_ARITY = { create: -5, setid: -5, destroy: 4, createconsumer: 5, delconsumer: 5, help: 2 };
const XGROUP_HELP = [
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. Options are:",
  "    * MKSTREAM",
  "      Create the empty stream if it does not exist.",
  "    * ENTRIESREAD entries_read",
  "      Set the group's entries_read counter (internal use).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the specified consumer.",
  "DESTROY <key> <groupname>",
  "    Remove the specified group.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Set the current group ID and entries_read counter.",
  "HELP",
  "    Prints this help.",
];

function xgroup(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const sub = subcommandOf(argv, "xgroup", XGROUP_ARITY);
  if (isReply(sub)) return sub;
  if (sub === "help") return array(XGROUP_HELP.map((l) => simple(l)));
  let mkstream = false;
  let entriesRead: bigint | undefined;
  for (let i = 5; i < argv.length; ) {
    const o = lower(argv[i]!);
    if (sub === "create" && o === "mkstream") {
      mkstream = true;
      i++;
    } else if ((sub === "create" || sub === "setid") && o === "entriesread" && i + 1 < argv.length) {
      const n = longArg(argv[i + 1]!);
      if (isReply(n)) return n;
      if (n < 0n && n !== -1n) return err("ERR value for ENTRIESREAD must be positive or -1");
      entriesRead = n === -1n ? undefined : n;
      i += 2;
    } else return subcommandSyntax(argv, "xgroup");
  }
  const key = argv[2]!;
  const name = argv[3]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  const streams = ctx.db.streams;
  if (!mkstream) {
    if (!s) {
      return err(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM " +
          "option to create an empty stream automatically.",
      );
    }
    if (sub !== "create" && sub !== "destroy" && !streams.group(key, name)) {
      return err(`NOGROUP No such consumer group '${ascii(name)}' for key name '${ascii(key)}'`);
    }
  }
  if (sub === "create") {
    if (argv.length > 8) return subcommandSyntax(argv, "xgroup");
    let id: StreamId;
    if (isDollar(argv[4]!)) id = s?.lastId ?? MIN_ID;
    else {
      const parsed = parseId(argv[4]!, 0n, true);
      if (!parsed) return INVALID_ID;
      id = { ms: parsed.ms, seq: parsed.seq };
    }
    if (!s) streams.create(key);
    if (streams.group(key, name)) return err("BUSYGROUP Consumer Group name already exists");
    streams.putGroup(key, { name, lastId: id, entriesRead });
    ctx.notify?.("t", "xgroup-create", key);
    return OK;
  }
  if (sub === "setid") {
    if (argv.length !== 5 && argv.length !== 7) return subcommandSyntax(argv, "xgroup");
    let id: StreamId;
    if (isDollar(argv[4]!)) id = s!.lastId;
    else {
      const parsed = parseId(argv[4]!, 0n);
      if (!parsed) return INVALID_ID;
      id = { ms: parsed.ms, seq: parsed.seq };
    }
    streams.putGroup(key, { name, lastId: id, entriesRead });
    ctx.notify?.("t", "xgroup-setid", key);
    return OK;
  }
  if (sub === "destroy") {
    if (!streams.deleteGroup(key, name)) return int(0);
    ctx.notify?.("t", "xgroup-destroy", key);
    return int(1);
  }
  const consumer = argv[4]!;
  if (sub === "createconsumer") {
    if (streams.consumer(key, name, consumer)) return int(0);
    streams.putConsumer(key, name, { name: consumer, seenTime: ctx.now });
    ctx.notify?.("t", "xgroup-createconsumer", key);
    return int(1);
  }
  const pending = streams.deleteConsumer(key, name, consumer);
  if (pending === undefined) return int(0);
  ctx.notify?.("t", "xgroup-delconsumer", key);
  return int(pending);
}

function xack(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const group = argv[2]!;
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  if (!s || !ctx.db.streams.group(key, group)) return int(0);
  const ids: StreamId[] = [];
  for (const a of argv.slice(3)) {
    const id = parseId(a, 0n, true);
    if (!id) return INVALID_ID;
    ids.push(id);
  }
  let acked = 0;
  for (const id of ids) if (ctx.db.streams.deletePending(key, group, id)) acked++;
  return int(acked);
}

function xpending(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const group = argv[2]!;
  const summary = argv.length === 3;
  if (!summary && (argv.length < 6 || argv.length > 9)) return E.syntax;
  let start = MIN_ID;
  let end = MAX_ID;
  let count = 0;
  let minIdle = 0;
  let consumer: Uint8Array | undefined;
  if (!summary) {
    let at = 3;
    if (lower(argv[3]!) === "idle") {
      const idle = longArg(argv[4]!);
      if (isReply(idle)) return idle;
      if (argv.length < 8) return E.syntax;
      minIdle = Number(idle);
      at += 2;
    }
    const n = longArg(argv[at + 2]!);
    if (isReply(n)) return n;
    count = n < 0n ? 0 : Number(n);
    const a = parseRangeBound(argv[at]!, 0n, true);
    if (isReply(a)) return a;
    const b = parseRangeBound(argv[at + 1]!, U64_MAX, false);
    if (isReply(b)) return b;
    start = a;
    end = b;
    if (at + 3 < argv.length) consumer = argv[at + 3];
  }
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  const streams = ctx.db.streams;
  if (!s || !streams.group(key, group)) return noGroup(key, group);
  if (summary) {
    const total = streams.pendingCount(key, group);
    if (total === 0) return array([int(0), NULL_BULK, NULL_BULK, NULL_ARRAY]);
    const [lo] = streams.pending(key, group, MIN_ID, MAX_ID, 1);
    const hi = streams.lastPending(key, group)!;
    const per = streams.pendingByConsumer(key, group).map(([c, k]) => array([bulk(c), bulk(String(k))]));
    return array([int(total), idReply(lo!.id), idReply(hi), array(per)]);
  }
  if (consumer && !streams.consumer(key, group, consumer)) return EMPTY_ARRAY;
  if (count === 0 || compareIds(start, end) > 0) return EMPTY_ARRAY;
  const out: Reply[] = [];
  // IDLE filters after the range is read: read on in pages until COUNT entries pass.
  let from = start;
  while (out.length < count) {
    const page = streams.pending(key, group, from, end, minIdle ? Math.max(count, 128) : count, consumer);
    for (const p of page) {
      const idle = ctx.now - p.deliveryTime;
      if (minIdle && idle < minIdle) continue;
      out.push(array([idReply(p.id), bulk(p.consumer), int(Math.max(0, idle)), int(p.deliveryCount)]));
      if (out.length === count) break;
    }
    const last = page[page.length - 1];
    if (!minIdle || page.length === 0 || !last) break;
    const next = incrId(last.id);
    if (!next) break;
    from = next;
  }
  return array(out);
}

function xclaim(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, key, group, name] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  const streams = ctx.db.streams;
  if (!s || !streams.group(key, group)) return noGroup(key, group);
  const minIdleArg = longArg(argv[4]!, "Invalid min-idle-time argument for XCLAIM");
  if (isReply(minIdleArg)) return minIdleArg;
  const minIdle = minIdleArg < 0n ? 0 : Number(minIdleArg);
  const ids: StreamId[] = [];
  let j = 5;
  for (; j < argv.length; j++) {
    const id = parseId(argv[j]!, 0n, true);
    if (!id) break;
    ids.push(id);
  }
  const now = ctx.now;
  let force = false;
  let justid = false;
  let deliveryTime = -1;
  let retryCount = -1;
  let lastId = MIN_ID;
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = lower(argv[j]!);
    if (opt === "force") force = true;
    else if (opt === "justid") justid = true;
    else if (opt === "idle" && more > 0) {
      const v = longArg(argv[++j]!, "Invalid IDLE option argument for XCLAIM");
      if (isReply(v)) return v;
      deliveryTime = now - Number(v);
    } else if (opt === "time" && more > 0) {
      const v = longArg(argv[++j]!, "Invalid TIME option argument for XCLAIM");
      if (isReply(v)) return v;
      deliveryTime = Number(v);
    } else if (opt === "retrycount" && more > 0) {
      const v = longArg(argv[++j]!, "Invalid RETRYCOUNT option argument for XCLAIM");
      if (isReply(v)) return v;
      retryCount = Number(v);
    } else if (opt === "lastid" && more > 0) {
      const v = parseId(argv[++j]!, 0n, true);
      if (!v) return INVALID_ID;
      lastId = v;
    } else return err(`ERR Unrecognized XCLAIM option '${ascii(argv[j]!)}'`);
  }
  const g = streams.group(key, group)!;
  if (compareIds(lastId, g.lastId) > 0) streams.putGroup(key, { ...g, lastId: { ms: lastId.ms, seq: lastId.seq } });
  if (deliveryTime === -1 || deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  let consumerReady = false;
  const out: Reply[] = [];
  for (const id of ids) {
    const nack = streams.pendingEntry(key, group, id);
    const [entry] = streams.range(key, id, id, false, 1);
    if (!entry) {
      if (nack) streams.deletePending(key, group, id);
      continue;
    }
    if (!nack && !force) continue;
    if (nack && minIdle && now - nack.deliveryTime < minIdle) continue;
    if (!consumerReady) {
      touchConsumer(ctx, key, group, name);
      consumerReady = true;
    }
    const count = retryCount >= 0 ? retryCount : (nack?.deliveryCount ?? 0) + (justid ? 0 : 1);
    streams.putPending(key, group, { id, consumer: name, deliveryTime, deliveryCount: count });
    out.push(justid ? idReply(id) : entryReply(entry));
  }
  return array(out);
}

function xautoclaim(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const [, key, group, name] = argv as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const minIdleArg = longArg(argv[4]!, "Invalid min-idle-time argument for XAUTOCLAIM");
  if (isReply(minIdleArg)) return minIdleArg;
  const minIdle = minIdleArg < 0n ? 0 : Number(minIdleArg);
  const start = parseRangeBound(argv[5]!, 0n, true);
  if (isReply(start)) return start;
  let count = 100;
  let justid = false;
  for (let j = 6; j < argv.length; j++) {
    const opt = lower(argv[j]!);
    if (opt === "count" && j + 1 < argv.length) {
      const n = longArg(argv[++j]!, "COUNT must be > 0");
      const max = BigInt(Math.floor(Number(2n ** 63n - 1n) / 16));
      if (isReply(n) || n < 1n || n > max) return err("ERR COUNT must be > 0");
      count = Number(n);
    } else if (opt === "justid") justid = true;
    else return E.syntax;
  }
  const s = lookup(ctx, key);
  if (isReply(s)) return s;
  const streams = ctx.db.streams;
  if (!s || !streams.group(key, group)) return noGroup(key, group);
  let attempts = count * 10;
  const now = ctx.now;
  const claimed: Reply[] = [];
  const deleted: Reply[] = [];
  let consumerReady = false;
  let from = start;
  let next: StreamId = MIN_ID;
  scan: while (true) {
    const page = streams.pending(key, group, from, MAX_ID, Math.min(attempts + 1, 1024));
    if (page.length === 0) {
      next = MIN_ID;
      break;
    }
    for (const nack of page) {
      if (attempts === 0 || count === 0) {
        next = nack.id;
        break scan;
      }
      attempts--;
      const [entry] = streams.range(key, nack.id, nack.id, false, 1);
      if (!entry) {
        streams.deletePending(key, group, nack.id);
        deleted.push(idReply(nack.id));
        count--;
        continue;
      }
      if (minIdle && now - nack.deliveryTime < minIdle) continue;
      if (!consumerReady) {
        touchConsumer(ctx, key, group, name);
        consumerReady = true;
      }
      streams.putPending(key, group, {
        id: nack.id,
        consumer: name,
        deliveryTime: now,
        deliveryCount: nack.deliveryCount + (justid ? 0 : 1),
      });
      claimed.push(justid ? idReply(nack.id) : entryReply(entry));
      count--;
    }
    const after = incrId(page[page.length - 1]!.id);
    if (!after) {
      next = MIN_ID;
      break;
    }
    from = after;
  }
  return array([idReply(next), array(claimed), array(deleted)]);
}

const STREAMS_KEYS = { first: 0, last: 0, step: 0, find: streamsKeys };

export const STREAM_GROUP_COMMANDS = define("stream", [
  {
    name: "xread",
    arity: -4,
    flags: ["readonly", "blocking"],
    keys: STREAMS_KEYS,
    since: "5.0.0",
    summary:
      "Returns messages from multiple streams with IDs greater than the ones requested. " +
      "Blocks until a message is available otherwise.",
    run: xread,
    cluster: ONE_SLOT,
  },
  {
    name: "xreadgroup",
    arity: -7,
    flags: ["write", "blocking"],
    keys: STREAMS_KEYS,
    since: "5.0.0",
    summary:
      "Returns new or historical messages from a stream for a consumer in a group. " +
      "Blocks until a message is available otherwise.",
    run: xreadgroup,
    cluster: ONE_SLOT,
  },
  {
    name: "xgroup",
    arity: -2,
    flags: ["write"],
    keys: { first: 2, last: 2, step: 1 },
    since: "5.0.0",
    summary: "A container for consumer groups commands.",
    subcommands: subcommands([
      ["create", -5, 2, "RW insert"],
      ["createconsumer", 5, 2, "RW insert"],
      ["delconsumer", 5, 2, "RW delete"],
      ["destroy", 4, 2, "RW delete"],
      ["help", 2],
      ["setid", -5, 2, "RW update"],
    ]),
    run: xgroup,
  },
  {
    name: "xack",
    arity: -4,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary:
      "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
    run: xack,
  },
  {
    name: "xpending",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary: "Returns the information and entries from a stream consumer group's pending entries list.",
    run: xpending,
  },
  {
    name: "xclaim",
    arity: -6,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "5.0.0",
    summary:
      "Changes, or acquires, ownership of a message in a consumer group, " +
      "as if the message was delivered a consumer group member.",
    run: xclaim,
  },
  {
    name: "xautoclaim",
    arity: -6,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    since: "6.2.0",
    summary:
      "Changes, or acquires, ownership of messages in a consumer group, " +
      "as if the messages were delivered to as consumer group member.",
    run: xautoclaim,
  },
]);
