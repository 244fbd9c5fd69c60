// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts (src/scripting/lua-vm.ts) run as one
// command. A writing script is one op: every replica runs it inside apply with the op's `now` and
// seeded randomness, so all reach the same state. The script cache is the process's: SCRIPT
// LOAD/EXISTS/FLUSH and EVALSHA's NOSCRIPT answer for the node the client is connected to, as in
// Redis; EVALSHA is rewritten into EVAL with the cached body on that node (`resolve`).
// A body crosses the Raft log once per partition: each state machine keeps the bodies of the EVALs
// it applied (Keyspace.keepScript), and a lone writing EVAL is proposed first as `__evalsha`, which
// carries the SHA1 alone and runs the body the partition keeps at that log position; when it has
// none (the first use, or evicted), every replica answers SCRIPT_UNKNOWN, having written nothing,
// and the session proposes the EVAL with its body (docs/design/scripting.md).
import { array, err, OK, type Reply, simple, ZERO, ONE } from "../resp/reply.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { keySlot } from "../keyspace/slot.ts";
import { LuaVm, type ScriptHost, type SlicedRun } from "../scripting/lua-vm.ts";
import { define, subcommands } from "./define.ts";
import { MAY_REPLICATE } from "./pause.ts";
import { commandKeys } from "./connection.ts";
import { COMMANDS, isWrite } from "./table.ts";
import type { CommandContext, CommandSpec, Op } from "./types.ts";
import { ascii, E, lower, parseInt64, utf8 } from "./util.ts";

let shared: LuaVm | undefined;
/** Scripts in the process's cache, without creating the VM. */
export const cachedScripts = (): number => shared?.cached ?? 0;

/** The process's Lua VM, created on first use. */
export function luaVm(): LuaVm {
  shared ??= new LuaVm();
  return shared;
}

const NOSCRIPT = err("NOSCRIPT No matching script. Please use EVAL.");
/** The commands that run a script: Redis tracks their keys only when the script reads (see ScriptCallSink). */
export const RUNS_SCRIPT = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]);
/** Data commands a script may not call (Redis flags them noscript). */
const NOT_IN_SCRIPTS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function"]);

/** KEYS of EVAL/FCALL script-or-name numkeys key … arg …: none while numkeys is not a valid count. */
export function scriptKeys(argv: readonly Uint8Array[]): Uint8Array[] {
  const n = parseInt64(argv[2] ?? new Uint8Array(0));
  if (n === undefined || n < 0n || Number(n) > argv.length - 3) return [];
  return argv.slice(3, 3 + Number(n));
}

/** numkeys checked as Redis does (eval.c's evalGenericCommand); the count or the error. */
export function parseNumKeys(argv: readonly Uint8Array[]): number | Reply {
  const n = parseInt64(argv[2]!);
  if (n === undefined) return E.notInt;
  if (n > BigInt(argv.length - 3)) return err("ERR Number of keys can't be greater than number of args");
  if (n < 0n) return err("ERR Number of keys can't be negative");
  return Number(n);
}

/** A keyless script's host (numkeys 0 in a cluster): where it runs and where its first key sent it. */
export interface KeylessScriptHost extends ScriptHost {
  /** A trial's script reached a command that may write: it must run in the log instead (see startScript). */
  readonly stopped: boolean;
  /** The slot of the first key the script touched when that key is another partition's; it then wrote nothing. */
  readonly moved: number | undefined;
}

/**
 * What redis.call reaches: the command table against the script's keyspace, with Redis's refusals
 * (unknown command, arity, noscript commands, writes from a read-only script) and, in a cluster,
 * only keys this partition's state machine holds (Redis: "non local key"). `home`, a slot of the
 * partition a keyless script was sent to: its first key, when another partition's and met before the
 * script wrote anything, ends the script with `moved` set (src/cluster/keyless-script.ts runs it again
 * there); every later call gets the same error, so a script that catches it still writes nothing.
 * `trial`: the script runs outside the log and stops at its first command that may write, or
 * at a key of another partition (the log path sends it there).
 */
export function scriptHost(
  ctx: CommandContext,
  declared: readonly Uint8Array[],
  readOnly: boolean,
  home?: number,
  trial = false,
): KeylessScriptHost {
  let db = ctx.db;
  let anchor = declared[0];
  let wrote = false;
  let stopped = false;
  let moved: number | undefined;
  const nonLocal = () =>
    moved !== undefined
      ? err(`ERR Script attempted to access a key of another partition (slot ${moved}); FlyDB runs it there`)
      : err("ERR Script attempted to access a non local key in a cluster node");
  return {
    resp3: ctx.resp3 === true,
    random: ctx.random,
    get moved() {
      return moved;
    },
    get stopped() {
      return stopped;
    },
    call(argv, resp3) {
      if (moved !== undefined) return nonLocal();
      if (stopped) return err("ERR Script stopped before its first write");
      const name = lower(argv[0]!);
      const spec = COMMANDS.get(name);
      if (!spec || name.startsWith("__")) return err("ERR Unknown Redis command called from script");
      if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
        return err("ERR Wrong number of args calling Redis command from script");
      }
      if (name === "select") {
        const index = parseInt64(argv[1]!);
        const to = index === undefined ? undefined : db.database(Number(index));
        if (!to) return index === undefined ? E.notInt : E.dbIndex;
        db = to;
        return OK;
      }
      // As Redis: PUBLISH and PFCOUNT may replicate, so a read-only script is refused them first.
      if (readOnly && MAY_REPLICATE.has(name)) {
        return err("ERR Write commands are not allowed from read-only scripts.");
      }
      if (trial && !readOnly && (isWrite(spec) || MAY_REPLICATE.has(name))) {
        stopped = true;
        return OK;
      }
      if (name === "publish" || name === "spublish") {
        // Every replica runs a writing script: the node the client sent it to delivers the message
        // (its scriptCall sink: OpCaller in src/commands/session.ts), once. The reply is 0 on
        // every replica, so no script can write something that differs between them.
        ctx.scriptCall?.(db.index, argv, declared, false);
        return ZERO;
      }
      const local = sessionCommandInScript(name, ctx, argv);
      if (local) {
        ctx.scriptCall?.(db.index, argv, declared, false);
        return local;
      }
      const streamRead = STREAM_READS.has(name);
      if (streamRead && blockOption(argv)) {
        return err(`ERR ${name} command is not allowed with BLOCK option from scripts`);
      }
      if (!spec.run || NOT_IN_SCRIPTS.has(name) || (!streamRead && spec.flags.includes("blocking"))) {
        return err("ERR This Redis command is not allowed from script");
      }
      if (readOnly && isWrite(spec)) return err("ERR Write commands are not allowed from read-only scripts.");
      for (const k of commandKeys(spec, argv)) {
        if (anchor === undefined && home !== undefined) {
          if (db.colocated(k, home)) anchor = k;
          else if (!wrote) {
            moved = keySlot(k);
            stopped = trial;
          }
        }
        if (moved !== undefined || !db.colocated(anchor ?? k, anchor ? keySlot(k) : undefined)) return nonLocal();
      }
      if (isWrite(spec)) wrote = true;
      const reply = spec.run({ ...ctx, db, resp3 }, argv);
      ctx.scriptCall?.(db.index, argv, declared, spec.flags.includes("readonly"));
      return reply;
    },
  };
}

/** Blocking only with their BLOCK option: a script may run them without it, as in Redis. */
const STREAM_READS = new Set(["xread", "xreadgroup"]);

/** XREAD / XREADGROUP's BLOCK option, before STREAMS (past XREADGROUP's GROUP group consumer). */
function blockOption(argv: readonly Uint8Array[]): boolean {
  for (const a of argv.slice(lower(argv[0]!) === "xreadgroup" ? 4 : 1)) {
    const word = lower(a);
    if (word === "streams") return false;
    if (word === "block") return true;
  }
  return false;
}

/** Internal reply of a keyless script sent to the wrong partition; the router never passes it on. */
export const SCRIPT_MOVED = "FLYDBSCRIPTMOVED";
export const movedTo = (slot: number): Reply => err(`${SCRIPT_MOVED} ${slot}`);

/** Connection commands whose answer a script can have without a connection. */
function sessionCommandInScript(name: string, ctx: CommandContext, argv: readonly Uint8Array[]): Reply | undefined {
  switch (name) {
    case "ping":
      return argv.length > 2
        ? err("ERR Wrong number of args calling Redis command from script")
        : argv[1]
          ? { t: "bulk", v: argv[1] }
          : simple("PONG");
    case "echo":
      return { t: "bulk", v: argv[1]! };
    case "time": {
      const us = Math.floor(ctx.now) * 1000;
      return array([
        { t: "bulk", v: String(Math.floor(us / 1e6)) },
        { t: "bulk", v: String(us % 1e6) },
      ]);
    }
    default:
      return undefined;
  }
}

/**
 * EVAL / EVAL_RO; `home`: see scriptHost (a keyless script in a cluster). `kept`: the body's SHA1
 * when the body is the one the partition keeps under it (`__evalsha`); a writing EVAL with keys
 * otherwise keeps its body for the `__evalsha` ops after it.
 */
export function runEval(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  readOnly: boolean,
  home?: number,
  kept?: string,
): Reply {
  const script = evalScript(argv, readOnly, kept);
  if ("t" in script) return script;
  if (kept === undefined && !readOnly && home === undefined && script.keys.length > 0) {
    ctx.db.keepScript(script.keys[0]!, script.sha, argv[1]!);
  }
  const host = scriptHost(ctx, script.keys, script.ro, home);
  const reply = luaVm().runScript(script.sha, script.keys, script.args, host);
  return host.moved === undefined ? reply : movedTo(host.moved);
}

/** What EVAL runs: the cached script, its keys and arguments, whether it may write; or Redis's refusal. */
function evalScript(
  argv: readonly Uint8Array[],
  readOnly: boolean,
  kept?: string,
): { sha: string; keys: Uint8Array[]; args: Uint8Array[]; ro: boolean } | Reply {
  const numkeys = parseNumKeys(argv);
  if (typeof numkeys !== "number") return numkeys;
  const loaded = luaVm().load(argv[1]!, kept);
  if ("error" in loaded) return loaded.error;
  const flags = shebangFlags(argv[1]!);
  if (!(flags instanceof Set)) return flags;
  if (readOnly && flags.size > 0 && !flags.has("no-writes")) {
    return err("ERR Can not execute a script with write flag using *_ro command.");
  }
  const keys = argv.slice(3, 3 + numkeys);
  return { sha: loaded.sha, keys, args: argv.slice(3 + numkeys), ro: readOnly || flags.has("no-writes") };
}

/** A script started as a trial (src/commands/busy-script.ts): its run and host, or the reply it ended with at once. */
export interface ScriptTrial {
  readonly run: SlicedRun;
  readonly host: KeylessScriptHost;
}

/**
 * EVAL / EVAL_RO started as a trial on this node's own data, outside the log: it runs in slices
 * and stops at its first command that may write (host.stopped); then the caller proposes it.
 */
export function startEval(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  readOnly: boolean,
  home?: number,
): ScriptTrial | Reply {
  const script = evalScript(argv, readOnly);
  if ("t" in script) return script;
  const host = scriptHost(ctx, script.keys, script.ro, home, true);
  return { run: luaVm().startScript(script.sha, script.keys, script.args, host), host };
}

const SCRIPT_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);

/** The flags of a `#!lua flags=…` first line (an empty set without one); Redis's errors for a bad one. */
export function shebangFlags(body: Uint8Array): Set<string> | Reply {
  if (body[0] !== 0x23 || body[1] !== 0x21) return new Set();
  const nl = body.indexOf(0x0a);
  const line = ascii(body.subarray(0, nl < 0 ? body.length : nl)).trim();
  const parts = line.slice(2).split(/\s+/);
  if (parts[0] !== "lua") return err(`ERR Unexpected engine in script shebang: ${line.split(/\s+/)[0]}`);
  const flags = new Set<string>(["shebang"]);
  for (const p of parts.slice(1)) {
    if (!p.startsWith("flags=")) return err(`ERR Unknown lua shebang option: ${p}`);
    for (const f of p
      .slice(6)
      .split(",")
      .filter((x) => x.length > 0)) {
      if (!SCRIPT_FLAGS.has(f)) return err(`ERR Unexpected flag in script shebang: ${f}`);
      flags.add(f);
    }
  }
  return flags;
}

/** EVALSHA → EVAL with the body from this node's cache, so the op carries what every replica needs. */
function resolveSha(as: string): CommandSpec["resolve"] {
  return (argv) => {
    const body = argv[1]!.length === 40 ? luaVm().body(ascii(argv[1]!).toLowerCase()) : undefined;
    return body ? [utf8(as), body, ...argv.slice(2)] : NOSCRIPT;
  };
}

/**
 * EVAL caches its body on the node that received it, before the op is proposed: as in Redis, an
 * EVALSHA the same client pipelines right behind it must find the script (ioredis does so), and
 * apply may run later. A body that does not compile is left to apply, which answers the error.
 * The cache's copy goes on (the same bytes), so proposing it by SHA1 does not hash it again.
 */
function cacheOnReceipt(argv: readonly Uint8Array[]): readonly Uint8Array[] {
  const vm = luaVm();
  const loaded = vm.load(argv[1]!);
  return "sha" in loaded ? [argv[0]!, vm.body(loaded.sha)!, ...argv.slice(2)] : argv;
}

/** Reply of an `__evalsha` op whose partition keeps no such body; the session never passes it on. */
export const SCRIPT_UNKNOWN = "FLYDBNOSCRIPT";
const UNKNOWN_SCRIPT = err(`${SCRIPT_UNKNOWN} this partition keeps no body for the SHA1; send it`);
export const isUnknownScript = (r: Reply): boolean => r.t === "error" && r.v.startsWith(SCRIPT_UNKNOWN);
/** Bodies shorter than this travel in their op: sending one again when unknown would cost more than it saves. */
const BY_SHA_FROM = 512;
const EVAL = utf8("eval");
const EVALSHA_OP = utf8("__evalsha");

/**
 * The op to propose first for `op`: when it is one writing EVAL with keys, the same as `__evalsha`
 * (the SHA1 instead of the body); undefined otherwise. If its partition answers SCRIPT_UNKNOWN,
 * propose `op` itself.
 */
export function proposedBySha(op: Op): Op | undefined {
  if (op.multi || op.watch || op.cmds.length !== 1) return undefined;
  const argv = op.cmds[0]!;
  if (argv.length < 4 || argv[1]!.length < BY_SHA_FROM || lower(argv[0]!) !== "eval") return undefined;
  const numkeys = parseNumKeys(argv);
  if (typeof numkeys !== "number" || numkeys === 0) return undefined;
  const loaded = luaVm().load(argv[1]!);
  return "sha" in loaded ? { ...op, cmds: [[EVALSHA_OP, utf8(loaded.sha), ...argv.slice(2)]] } : undefined;
}

/** `__evalsha sha numkeys key … arg …`: the script the partition keeps under sha, as EVAL runs it. */
function runKept(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const sha = ascii(argv[1]!);
  const keys = scriptKeys(argv);
  const body = keys.length > 0 ? ctx.db.scriptBody(keys[0]!, sha) : undefined;
  return body ? runEval(ctx, [EVAL, body, ...argv.slice(2)], false, undefined, sha) : UNKNOWN_SCRIPT;
}

const keys = { first: 0, last: 0, step: 0, find: scriptKeys };
/** A script's declared keys must share a slot: the script runs in that partition's state machine. */
export const SCRIPT_ROUTING = { keys, cluster: ONE_SLOT } as const;

export const SCRIPTING_COMMANDS = define("scripting", [
  {
    name: "eval",
    arity: -3,
    flags: ["write"],
    since: "2.6.0",
    summary: "Executes a server-side Lua script.",
    ...SCRIPT_ROUTING,
    resolve: cacheOnReceipt,
    run: (ctx, argv) => runEval(ctx, argv, false),
  },
  {
    name: "eval_ro",
    arity: -3,
    flags: ["readonly"],
    since: "7.0.0",
    summary: "Executes a read-only server-side Lua script.",
    ...SCRIPT_ROUTING,
    resolve: cacheOnReceipt,
    run: (ctx, argv) => runEval(ctx, argv, true),
  },
  {
    name: "evalsha",
    arity: -3,
    flags: ["write"],
    since: "2.6.0",
    summary: "Executes a server-side Lua script by SHA1 digest.",
    ...SCRIPT_ROUTING,
    resolve: resolveSha("eval"),
    // Reached only when the proposing node had no such script: every replica answers the same.
    run: () => NOSCRIPT,
  },
  {
    name: "evalsha_ro",
    arity: -3,
    flags: ["readonly"],
    since: "7.0.0",
    summary: "Executes a read-only server-side Lua script by SHA1 digest.",
    ...SCRIPT_ROUTING,
    resolve: resolveSha("eval_ro"),
    run: () => NOSCRIPT,
  },
  {
    name: "__evalsha",
    arity: -4,
    flags: ["write"],
    since: "0.1.0",
    summary: "Internal: EVAL of a body its partition keeps, named by its SHA1.",
    ...SCRIPT_ROUTING,
    run: runKept,
  },
  {
    name: "script",
    arity: -2,
    flags: [],
    since: "2.6.0",
    summary: "A container for Lua scripts management commands.",
    subcommands: subcommands([
      ["exists", -3],
      ["flush", -2],
      ["kill", 2],
      ["load", 3],
      ["help", 2],
      ["debug", 3],
    ]),
    exec: (_s, argv) => scriptCommand(argv),
  },
]);

function scriptCommand(argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const vm = luaVm();
  if (sub === "help" && argv.length === 2) return array(SCRIPT_HELP.map((l) => simple(l)));
  if (sub === "flush") {
    const mode = argv[2] ? lower(argv[2]) : undefined;
    if (argv.length > 3 || (mode !== undefined && mode !== "sync" && mode !== "async")) {
      return err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    vm.flush();
    return OK;
  }
  if (sub === "exists" && argv.length >= 3) {
    return array(argv.slice(2).map((sha) => (vm.has(ascii(sha).toLowerCase()) ? ONE : ZERO)));
  }
  if (sub === "load" && argv.length === 3) {
    const flags = shebangFlags(argv[2]!);
    if (!(flags instanceof Set)) return flags;
    const loaded = vm.load(argv[2]!);
    return "error" in loaded ? loaded.error : { t: "bulk", v: loaded.sha };
  }
  // A script runs inside one synchronous apply: no other command is ever served while it runs.
  if (sub === "kill" && argv.length === 2) return err("NOTBUSY No scripts in execution right now.");
  if (sub === "debug" && argv.length === 3) return err("ERR SCRIPT DEBUG is not supported by FlyDB");
  return err(`ERR unknown subcommand or wrong number of arguments for '${ascii(argv[1]!)}'. Try SCRIPT HELP.`);
}

const SCRIPT_HELP = [
  "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "EXISTS <sha1> [<sha1> ...]",
  "    Return information about the existence of the scripts in the script cache.",
  "FLUSH [ASYNC|SYNC]",
  "    Flush the Lua scripts cache. Very dangerous on replicas.",
  "    When called without the optional mode argument, the behavior is determined by the",
  "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
  "    * ASYNC: Asynchronously flush the scripts cache.",
  "    * SYNC: Synchronously flush the scripts cache.",
  "KILL",
  "    Kill the currently executing Lua script.",
  "LOAD <script>",
  "    Load a script into the scripts cache without executing it.",
  "HELP",
  "    Prints this help.",
];
