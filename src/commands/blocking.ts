// Blocking list and sorted-set pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
// BZMPOP). Each row's `run` is the non-blocking form: it is what the log applies, what MULTI gets
// (Redis never blocks inside a transaction), and what a blocked client retries. The waiting itself
// is per node and lives in the session (src/commands/session.ts) with the registry below.
import { array, err, NULL_ARRAY, NULL_BULK, type Reply } from "../resp/reply.ts";
import { countedKeys } from "./collection.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import { LIST_COMMANDS } from "./list.ts";
import { MIN_ID, parseId, type StreamId } from "./stream-ids.ts";
import { parseReadArgs, resolveDollar, streamsKeys } from "./stream-groups.ts";
import type { CommandContext, CommandFn, CommandSpec } from "./types.ts";
import { ZSET_ALGEBRA_COMMANDS } from "./zset-algebra.ts";
import { lower, parseFloatArg, str, utf8 } from "./util.ts";

const runOf = (rows: readonly { name: string; run?: CommandFn }[], name: string): CommandFn =>
  rows.find((r) => r.name === name)!.run!;
const LMPOP = runOf(LIST_COMMANDS, "lmpop");
const LMOVE = runOf(LIST_COMMANDS, "lmove");
const ZMPOP = runOf(ZSET_ALGEBRA_COMMANDS, "zmpop");

/** Where each command carries its timeout (negative: counted from the end). */
export const TIMEOUT_AT: ReadonlyMap<string, number> = new Map([
  ["blpop", -1],
  ["brpop", -1],
  ["blmove", -1],
  ["brpoplpush", -1],
  ["bzpopmin", -1],
  ["bzpopmax", -1],
  ["blmpop", 1],
  ["bzmpop", 1],
]);

/** XREAD and XREADGROUP wait only when given BLOCK; the pops always may. */
const STREAM_READS = new Set(["xread", "xreadgroup"]);

/** Whether this call of a "blocking" command may wait (and so goes through the session's wait). */
export function mayBlock(spec: CommandSpec, argv: readonly Uint8Array[]): boolean {
  if (!spec.flags.includes("blocking")) return false;
  if (!STREAM_READS.has(spec.name)) return true;
  const block = argv.findIndex((a, i) => i > 0 && lower(a) === "block");
  const streams = argv.findIndex((a, i) => i > 0 && lower(a) === "streams");
  return block > 0 && (streams < 0 || block < streams);
}

/**
 * A blocking command's timeout in milliseconds (0: forever), or Redis's error
 * (getTimeoutFromObjectOrReply: seconds as a float, truncated to milliseconds; XREAD's BLOCK:
 * integer milliseconds, where the whole argument list is checked first).
 */
export function parseTimeout(name: string, argv: readonly Uint8Array[]): number | Reply {
  if (STREAM_READS.has(name)) {
    const args = parseReadArgs(argv, name === "xreadgroup");
    return "t" in args ? args : (args.block ?? 0);
  }
  const at = TIMEOUT_AT.get(name)!;
  const seconds = parseFloatArg(argv[at < 0 ? argv.length + at : at]!);
  if (seconds === undefined || Number.isNaN(seconds)) return err("ERR timeout is not a float or out of range");
  const ms = Math.trunc(seconds * 1000);
  // Redis converts to a 64-bit integer: infinities and values past it come out negative on x86.
  if (ms < 0 || !Number.isFinite(ms) || ms >= 2 ** 63) return err("ERR timeout is negative");
  if (ms > Number.MAX_SAFE_INTEGER) return err("ERR timeout is out of range");
  return ms;
}

/** `[key, [item]]` of LMPOP/ZMPOP as BLPOP's `[key, item]` or BZPOPMIN's `[key, member, score]`. */
function flattenFirst(r: Reply): Reply {
  if (r.t !== "array") return r;
  const [key, items] = r.v;
  if (items?.t !== "array") return r;
  const first = items.v[0]!;
  return array([key!, ...(first.t === "array" ? first.v : [first])]);
}

/** The non-blocking form of a blocking command, after its timeout is checked. */
function nonBlocking(name: string, pop: (ctx: CommandContext, argv: readonly Uint8Array[]) => Reply): CommandFn {
  return (ctx, argv) => {
    const timeout = parseTimeout(name, argv);
    return typeof timeout === "number" ? pop(ctx, argv) : timeout;
  };
}

/** BLPOP/BRPOP/BZPOPMIN/BZPOPMAX key [key …] timeout through LMPOP/ZMPOP numkeys key … where. */
function firstOf(mpop: CommandFn, where: string): (ctx: CommandContext, argv: readonly Uint8Array[]) => Reply {
  return (ctx, argv) => {
    const keys = argv.slice(1, -1);
    return flattenFirst(mpop(ctx, [utf8("mpop"), utf8(String(keys.length)), ...keys, utf8(where)]));
  };
}

/** BLMPOP/BZMPOP timeout numkeys …: LMPOP/ZMPOP without the timeout. */
const withoutTimeout = (mpop: CommandFn) => (ctx: CommandContext, argv: readonly Uint8Array[]) =>
  mpop(ctx, [argv[0]!, ...argv.slice(2)]);

/** BLMOVE and BRPOPLPUSH answer a null array on timeout (as every blocked list pop) but nil inside MULTI. */
const move = (fixedWhere?: readonly [string, string]) => (ctx: CommandContext, argv: readonly Uint8Array[]) => {
  const where = fixedWhere ? fixedWhere.map(utf8) : [argv[3]!, argv[4]!];
  return LMOVE(ctx, [utf8("lmove"), argv[1]!, argv[2]!, ...where]);
};

const LAST_BEFORE_TIMEOUT = { first: 1, last: -2, step: 1 };
const COUNTED = { first: 3, last: 3, step: 1, find: countedKeys(2) };

export const BLOCKING_COMMANDS = define("blocking", [
  {
    name: "blpop",
    arity: -3,
    flags: ["write", "blocking"],
    keys: LAST_BEFORE_TIMEOUT,
    since: "2.0.0",
    summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise.",
    run: nonBlocking("blpop", firstOf(LMPOP, "left")),
    cluster: ONE_SLOT,
  },
  {
    name: "brpop",
    arity: -3,
    flags: ["write", "blocking"],
    keys: LAST_BEFORE_TIMEOUT,
    since: "2.0.0",
    summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise.",
    run: nonBlocking("brpop", firstOf(LMPOP, "right")),
    cluster: ONE_SLOT,
  },
  {
    name: "blmove",
    arity: 6,
    flags: ["write", "blocking"],
    keys: { first: 1, last: 2, step: 1 },
    since: "6.2.0",
    summary:
      "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available.",
    run: nonBlocking("blmove", move()),
    cluster: ONE_SLOT,
  },
  {
    name: "brpoplpush",
    arity: 4,
    flags: ["write", "blocking"],
    keys: { first: 1, last: 2, step: 1 },
    since: "2.2.0",
    summary:
      "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available.",
    run: nonBlocking("brpoplpush", move(["right", "left"])),
    cluster: ONE_SLOT,
  },
  {
    name: "blmpop",
    arity: -5,
    flags: ["write", "blocking"],
    keys: COUNTED,
    since: "7.0.0",
    summary: "Pops the first elements from one of multiple lists. Blocks until an element is available otherwise.",
    run: nonBlocking("blmpop", withoutTimeout(LMPOP)),
    cluster: ONE_SLOT,
  },
  {
    name: "bzpopmin",
    arity: -3,
    flags: ["write", "blocking", "fast"],
    keys: LAST_BEFORE_TIMEOUT,
    since: "5.0.0",
    summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks otherwise.",
    run: nonBlocking("bzpopmin", firstOf(ZMPOP, "min")),
    cluster: ONE_SLOT,
  },
  {
    name: "bzpopmax",
    arity: -3,
    flags: ["write", "blocking", "fast"],
    keys: LAST_BEFORE_TIMEOUT,
    since: "5.0.0",
    summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks otherwise.",
    run: nonBlocking("bzpopmax", firstOf(ZMPOP, "max")),
    cluster: ONE_SLOT,
  },
  {
    name: "bzmpop",
    arity: -5,
    flags: ["write", "blocking"],
    keys: COUNTED,
    since: "7.0.0",
    summary: "Removes and returns members from one or more sorted sets. Blocks until a member is available otherwise.",
    run: nonBlocking("bzmpop", withoutTimeout(ZMPOP)),
    cluster: ONE_SLOT,
  },
]);

/**
 * XREAD BLOCK … `$`: `$` means the stream's last ID when the client blocked, so it is resolved
 * once, by reading each such stream's last ID (`read` runs XINFO STREAM), before the first try.
 */
export function resolveBlockingArgs(
  name: string,
  argv: readonly Uint8Array[],
  read: (argv: readonly Uint8Array[]) => Reply | Promise<Reply>,
): readonly Uint8Array[] | Promise<readonly Uint8Array[]> {
  if (name !== "xread") return argv;
  const keys = streamsKeys(argv);
  const ids = argv.slice(argv.length - keys.length);
  if (!ids.some((a) => a.length === 1 && a[0] === 0x24)) return argv;
  return lastIds(keys, ids, read).then((last) => resolveDollar(argv, last));
}

async function lastIds(
  keys: readonly Uint8Array[],
  ids: readonly Uint8Array[],
  read: (argv: readonly Uint8Array[]) => Reply | Promise<Reply>,
): Promise<(StreamId | undefined)[]> {
  const last: (StreamId | undefined)[] = [];
  for (let i = 0; i < keys.length; i++) {
    if (!(ids[i]!.length === 1 && ids[i]![0] === 0x24)) {
      last.push(undefined);
      continue;
    }
    const info = await read([utf8("xinfo"), utf8("stream"), keys[i]!]);
    last.push(lastGeneratedId(info));
  }
  return last;
}

/** XINFO STREAM's last-generated-id; 0-0 when the reply is an error (no such key). */
function lastGeneratedId(info: Reply): StreamId {
  if (info.t !== "map") return MIN_ID;
  for (const [k, v] of info.v) {
    if (k.t === "bulk" && (typeof k.v === "string" ? k.v : str(k.v)) === "last-generated-id" && v.t === "bulk") {
      return parseId(typeof v.v === "string" ? utf8(v.v) : v.v, 0n) ?? MIN_ID;
    }
  }
  return MIN_ID;
}

/**
 * A retry's error that ends the wait: a blocked XREADGROUP whose group went away (with its
 * stream: deleted or renamed) gets Redis's -NOGROUP, one whose key changed type -UNBLOCKED.
 * Undefined: keep waiting.
 */
export function retryEnds(name: string, r: Reply): Reply | undefined {
  if (name !== "xreadgroup" || r.t !== "error") return undefined;
  return r.v.startsWith("NOGROUP") ? GROUP_GONE : STREAM_GONE;
}
const GROUP_GONE = err("NOGROUP the consumer group this client was blocked on no longer exists");
const STREAM_GONE = err("UNBLOCKED the stream key no longer exists");

/** Writes without keys that can still end a wait (a blocked XREADGROUP's stream goes away): every waiter retries. */
export const WAKES_ALL: ReadonlySet<string> = new Set(["flushall", "flushdb", "swapdb"]);

/** Nothing to pop: the reply a blocked client keeps waiting on (and gets when it times out, as NULL_ARRAY). */
export const nothingPopped = (r: Reply): boolean => r.t === "nullarray" || r.t === "nullbulk";
export const TIMED_OUT = NULL_ARRAY;
export const IN_MULTI_MOVE = NULL_BULK;
export const UNBLOCKED = err("UNBLOCKED client unblocked via CLIENT UNBLOCK");

/**
 * The element(s) a pop reply took, as the write that puts them back where they came from: for a
 * client whose connection closed before its reply could be written. Undefined where nothing left
 * the keyspace (BLMOVE/BRPOPLPUSH only moved it).
 */
export function pushBack(name: string, argv: readonly Uint8Array[], reply: Reply): Uint8Array[] | undefined {
  if (reply.t !== "array") return undefined;
  const bytes = (r: Reply | undefined) => (r?.t === "bulk" ? (typeof r.v === "string" ? utf8(r.v) : r.v) : undefined);
  const scoreText = (r: Reply | undefined) => (r?.t === "double" ? utf8(String(r.v)) : bytes(r));
  const key = bytes(reply.v[0]);
  if (!key) return undefined;
  const left =
    name === "blpop" || (name === "blmpop" && String.fromCharCode(...argv[argv.length - 1]!).toLowerCase() !== "right");
  if (name === "blpop" || name === "brpop") {
    const v = bytes(reply.v[1]);
    return v && [utf8(left ? "lpush" : "rpush"), key, v];
  }
  if (name === "bzpopmin" || name === "bzpopmax") {
    const member = bytes(reply.v[1]);
    const s = scoreText(reply.v[2]);
    return member && s && [utf8("zadd"), key, s, member];
  }
  const items = reply.v[1];
  if (items?.t !== "array") return undefined;
  if (name === "blmpop") {
    const values = items.v.map(bytes).filter((v): v is Uint8Array => v !== undefined);
    // Pushed back in reverse so the list reads as before: the first popped ends up first again.
    return [utf8(left ? "lpush" : "rpush"), key, ...values.reverse()];
  }
  const pairs = items.v.flatMap((p) => (p.t === "array" ? [scoreText(p.v[1])!, bytes(p.v[0])!] : []));
  return [utf8("zadd"), key, ...pairs];
}

/** One client waiting on keys: `wake` retries its pop; the registry keeps it in place until removed. */
export interface Waiter {
  readonly clientId: number;
  readonly db: number;
  readonly keys: readonly string[];
  /**
   * Retries the pop. When an earlier try is still in flight the retry follows it: the promise
   * settles once that try has been answered and the retry, if still needed, has been proposed.
   */
  wake(): Promise<void> | undefined;
  /** CLIENT UNBLOCK: ends the wait with a timeout's reply or the UNBLOCKED error. */
  unblock(withError: boolean): void;
}

/**
 * This node's blocked clients by (db, key), each key's waiters in the order they blocked: a write
 * to a key wakes them in that order, so their retries reach the log first-blocked first (FIFO
 * fairness among clients blocked on one key, as Redis serves them).
 */
export class BlockingRegistry {
  private readonly byKey = new Map<string, Waiter[]>();
  private readonly byClient = new Map<number, Waiter>();
  /** Tries of blocked clients in flight (see settled). */
  private tries = 0;
  private whenSettled: (() => void)[] = [];

  get size(): number {
    return this.byClient.size;
  }

  add(w: Waiter): void {
    this.byClient.set(w.clientId, w);
    for (const k of w.keys) {
      const id = `${w.db}:${k}`;
      const list = this.byKey.get(id);
      if (list) list.push(w);
      else this.byKey.set(id, [w]);
    }
  }

  remove(w: Waiter): void {
    if (this.byClient.get(w.clientId) === w) this.byClient.delete(w.clientId);
    for (const k of w.keys) {
      const id = `${w.db}:${k}`;
      const list = this.byKey.get(id)?.filter((x) => x !== w);
      if (list && list.length > 0) this.byKey.set(id, list);
      else this.byKey.delete(id);
    }
  }

  /** A committed write touched these keys of `db`: each waiter on them retries, first blocked first. Whether any did. */
  touched(db: number, keys: readonly string[]): boolean {
    const woken = new Set<Waiter>();
    for (const k of keys) for (const w of this.byKey.get(`${db}:${k}`) ?? []) woken.add(w);
    this.wakeInOrder([...woken].sort((a, b) => this.order(a) - this.order(b)));
    return woken.size > 0;
  }

  /** Every waiter retries (a cluster node cannot see writes proxied by other nodes). Whether any did. */
  wakeAll(): boolean {
    this.wakeInOrder([...this.byClient.values()]);
    return this.byClient.size > 0;
  }

  /** A blocked client's try is proposed; tryEnded once its answer is handled (and any retry it woke proposed). */
  tryStarted(): void {
    this.tries++;
  }

  tryEnded(): void {
    if (--this.tries > 0) return;
    const waiting = this.whenSettled;
    this.whenSettled = [];
    for (const f of waiting) f();
  }

  /**
   * Settles once no try of a blocked client is in flight. A write that woke blocked clients answers
   * after this, as Redis serves them before it replies: a chain of BLMOVEs the write started has
   * moved its element before the writer's next command runs. A try waking the next link of the chain
   * starts it before its own end, so the count does not reach zero in between.
   */
  settled(): Promise<void> {
    if (this.tries === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenSettled.push(resolve));
  }

  /**
   * Proposes the retries in blocking order. A waiter whose previous try is still in flight (its
   * first try, or a periodic retry in a cluster, where a proposal takes a round trip) holds back
   * the waiters behind it until its own retry is proposed: otherwise a later-blocked client's
   * retry reaches the log first and takes the element, and with it possibly the only one.
   */
  private wakeInOrder(waiters: readonly Waiter[]): void {
    for (let i = 0; i < waiters.length; i++) {
      const busy = waiters[i]!.wake();
      if (!busy) continue;
      const rest = waiters.slice(i + 1);
      // Counted as a try: the writer that woke them must not answer before the held-back ones start.
      this.tryStarted();
      void busy
        .then(() => this.wakeInOrder(rest.filter((w) => this.byClient.get(w.clientId) === w)))
        .finally(() => this.tryEnded());
      return;
    }
  }

  unblock(clientId: number, withError: boolean): boolean {
    const w = this.byClient.get(clientId);
    if (!w) return false;
    w.unblock(withError);
    return true;
  }

  private order(w: Waiter): number {
    let i = 0;
    for (const x of this.byClient.values()) {
      if (x === w) return i;
      i++;
    }
    return i;
  }
}
