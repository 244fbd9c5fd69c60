// FUNCTION and FCALL/FCALL_RO: Lua libraries (Redis 7 functions). The libraries are replicated
// state: FUNCTION LOAD/DELETE/FLUSH/RESTORE are writes applied by every replica, which keeps them in
// data.db as one FUNCTION DUMP payload (Keyspace.functionLibraries) and so across restarts. In a
// cluster every partition's state machine holds its own copy (the FUNCTION command is fanned out to
// every partition, as FLUSHALL is), so an FCALL applied in partition p reads p's libraries at its
// own log position: the same on every replica. The compiled libraries are this process's cache of
// a payload (the Lua VM's registry references), rebuilt from the payload when it changes.
import { array, bulk, err, map, NULL_BULK, OK, type Reply, set, simple } from "../resp/reply.ts";
import { crc64Bytes } from "../rdb/crc64.ts";
import { RDB_VERSION } from "../rdb/dump.ts";
import { RdbReader } from "../rdb/reader.ts";
import { RdbWriter } from "../rdb/writer.ts";
import { type RegisteredFunction, SCRIPT_FLAGS } from "../scripting/lua-vm.ts";
import type { ClusterTips } from "./cluster-policy.ts";
import { define, subcommands } from "./define.ts";
import { luaVm, movedTo, parseNumKeys, SCRIPT_ROUTING, type ScriptTrial, scriptHost, scriptKeys } from "./scripting.ts";
import type { CommandContext } from "./types.ts";
import { ascii, byteKey, E, globMatch, lower, str, utf8 } from "./util.ts";

/** RDB_OPCODE_FUNCTION2: one library's code in a FUNCTION DUMP payload. */
const OPCODE_FUNCTION = 245;
const NAME = /^[A-Za-z0-9_]+$/;
const BAD_NAME =
  "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

interface Library {
  readonly name: string;
  /** The whole code, shebang line included (FUNCTION LIST WITHCODE, DUMP). */
  readonly code: Uint8Array;
  /** By lower-cased name: FCALL finds functions whatever the case, as Redis does. */
  readonly functions: ReadonlyMap<string, RegisteredFunction>;
}
type Libraries = ReadonlyMap<string, Library>;

/** `#!lua name=<lib>`: the library's name and the code Lua compiles, or Redis's error. */
function metadata(code: Uint8Array): { name: string; body: Uint8Array } | string {
  if (code[0] !== 0x23 || code[1] !== 0x21) return "Missing library metadata";
  const nl = code.indexOf(0x0a);
  if (nl < 0) return "Invalid library metadata";
  // Split as Redis's sdssplitargs does for these: on spaces, with double quotes removed.
  const [engine, ...parts] = str(code.subarray(2, nl))
    .split(" ")
    .filter((p, i) => i === 0 || p.length > 0)
    .map((p) => p.replace(/"/g, ""));
  let name: string | undefined;
  for (const part of parts) {
    if (part.startsWith("name=")) {
      if (name !== undefined) return "Invalid metadata value, name argument was given multiple times";
      name = part.slice(5);
    } else return `Invalid metadata value given: ${part}`;
  }
  if (name === undefined) return "Library name was not given";
  if (!NAME.test(name)) return BAD_NAME;
  if (engine!.toLowerCase() !== "lua") return `Engine '${engine}' not found`;
  // The line feed stays, so the script's line numbers are the code's.
  return { name, body: code.subarray(nl) };
}

/** Compiles one library; its functions, or Redis's error. The caller releases them. */
function compile(code: Uint8Array): Library | string {
  const meta = metadata(code);
  if (typeof meta === "string") return meta;
  const functions = new Map<string, RegisteredFunction>();
  const failed = luaVm().loadLibrary(meta.body, (fn) => {
    if (!NAME.test(fn.name)) return BAD_NAME;
    if (functions.has(fn.name.toLowerCase())) return "Function already exists in the library";
    functions.set(fn.name.toLowerCase(), fn);
    return undefined;
  });
  if (failed !== undefined) {
    release(functions.values());
    return failed;
  }
  if (functions.size === 0) return "No functions registered";
  return { name: meta.name, code, functions };
}

function release(fns: Iterable<RegisteredFunction>): void {
  for (const fn of fns) luaVm().release(fn.ref);
}

/** The codes of a FUNCTION DUMP payload; undefined when its footer or content is wrong. */
function payloadCodes(payload: Uint8Array): Uint8Array[] | string {
  if (payload.length < 10) return "DUMP payload version or checksum are wrong";
  const version = payload[payload.length - 10]! | (payload[payload.length - 9]! << 8);
  const crc = crc64Bytes(payload.subarray(0, payload.length - 8));
  const stored = payload.subarray(payload.length - 8);
  if (version > RDB_VERSION || crc.some((b, i) => b !== stored[i])) return "DUMP payload version or checksum are wrong";
  const r = new RdbReader(payload.subarray(0, payload.length - 10));
  const codes: Uint8Array[] = [];
  try {
    while (r.remaining > 0) {
      if (r.byte() !== OPCODE_FUNCTION) return "given type is not a function";
      codes.push(r.string().slice());
    }
  } catch {
    return "can not read data type";
  }
  return codes;
}

function payloadOf(libs: Libraries): Uint8Array {
  const w = new RdbWriter();
  for (const lib of libs.values()) {
    w.byte(OPCODE_FUNCTION);
    w.string(lib.code);
  }
  w.byte(RDB_VERSION & 0xff);
  w.byte(RDB_VERSION >> 8);
  w.bytes(crc64Bytes(w.finish()));
  return w.finish();
}

/** Compiled payloads, newest last; a few, since every state machine of a node holds the same one. */
const compiled = new Map<string, Libraries>();
const COMPILED_KEPT = 4;

/** The libraries a state machine holds, compiled (from this process's cache when it has them). */
function librariesAt(ctx: CommandContext, at: Uint8Array | number | undefined): Libraries {
  const payload = ctx.db.functionLibraries(at);
  if (!payload) return new Map();
  const id = byteKey(payload);
  const cached = compiled.get(id);
  if (cached) return cached;
  const libs = new Map<string, Library>();
  const codes = payloadCodes(payload);
  // Only payloads this code wrote (and checked) are stored, so every library compiles.
  for (const code of typeof codes === "string" ? [] : codes) {
    const lib = compile(code);
    if (typeof lib !== "string") libs.set(lib.name, lib);
  }
  compiled.set(id, libs);
  for (const [old, oldLibs] of compiled) {
    if (compiled.size <= COMPILED_KEPT) break;
    compiled.delete(old);
    for (const lib of oldLibs.values()) release(lib.functions.values());
  }
  return libs;
}

/**
 * Joins new libraries into the current ones (replacing same-named ones when `replace`): the new set,
 * or Redis's error when a library or function name is taken.
 */
function join(current: Libraries, added: readonly Library[], replace: boolean, quoted: boolean): Libraries | string {
  const next = new Map(current);
  for (const lib of added) {
    if (next.has(lib.name) && !replace) {
      return quoted ? `Library '${lib.name}' already exists` : `Library ${lib.name} already exists`;
    }
    next.delete(lib.name);
  }
  const owner = new Map<string, string>();
  for (const lib of next.values()) for (const f of lib.functions.keys()) owner.set(f, lib.name);
  for (const lib of added) {
    for (const [f, fn] of lib.functions) if (owner.has(f)) return `Function ${fn.name} already exists`;
    next.set(lib.name, lib);
  }
  return next;
}

/** Compiles codes, hands them to `use`, and releases them again (the stored payload is what counts). */
function withCompiled(codes: readonly Uint8Array[], use: (libs: Library[]) => Reply): Reply {
  const libs: Library[] = [];
  try {
    for (const code of codes) {
      const lib = compile(code);
      if (typeof lib === "string") return err(`ERR ${lib}`);
      libs.push(lib);
    }
    return use(libs);
  } finally {
    for (const lib of libs) release(lib.functions.values());
  }
}

function functionCommand(ctx: CommandContext, argv: readonly Uint8Array[], at: number | undefined): Reply {
  const sub = lower(argv[1]!);
  const store = (libs: Libraries) => ctx.db.setFunctionLibraries(at, libs.size > 0 ? payloadOf(libs) : undefined);
  switch (sub) {
    case "load": {
      let replace = false;
      let i = 2;
      for (; i < argv.length - 1; i++) {
        if (lower(argv[i]!) !== "replace") return err(`ERR Unknown option given: ${ascii(argv[i]!)}`);
        replace = true;
      }
      if (i >= argv.length) return err("ERR Function code is missing");
      const current = librariesAt(ctx, at);
      return withCompiled([argv[i]!], ([lib]) => {
        const next = join(current, [lib!], replace, true);
        if (typeof next === "string") return err(`ERR ${next}`);
        store(next);
        return bulk(lib!.name);
      });
    }
    case "delete": {
      if (argv.length !== 3) return badArity(argv);
      const next = new Map(librariesAt(ctx, at));
      if (!next.delete(str(argv[2]!))) return err("ERR Library not found");
      store(next);
      return OK;
    }
    case "flush": {
      if (argv.length > 3) return badArity(argv);
      const mode = argv[2] ? lower(argv[2]) : "sync";
      if (mode !== "sync" && mode !== "async") return err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
      store(new Map());
      return OK;
    }
    case "restore": {
      if (argv.length < 3 || argv.length > 4) return badArity(argv);
      const policy = argv[3] ? lower(argv[3]) : "append";
      if (policy !== "flush" && policy !== "append" && policy !== "replace") {
        return err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
      }
      const codes = payloadCodes(argv[2]!);
      if (typeof codes === "string") return err(`ERR ${codes}`);
      const current = policy === "flush" ? new Map<string, Library>() : librariesAt(ctx, at);
      return withCompiled(codes, (libs) => {
        const next = join(current, libs, policy === "replace", false);
        if (typeof next === "string") return err(`ERR ${next}`);
        store(next);
        return OK;
      });
    }
    case "dump": {
      if (argv.length !== 2) return badArity(argv);
      const payload = ctx.db.functionLibraries(at);
      return payload ? bulk(payload) : NULL_BULK;
    }
    case "list":
      return listReply(librariesAt(ctx, at), argv);
    case "stats": {
      if (argv.length !== 2) return badArity(argv);
      const libs = librariesAt(ctx, at);
      let functions = 0;
      for (const lib of libs.values()) functions += lib.functions.size;
      const lua = map([
        [bulk("libraries_count"), { t: "int", v: libs.size }],
        [bulk("functions_count"), { t: "int", v: functions }],
      ]);
      return map([
        [bulk("running_script"), NULL_BULK],
        [bulk("engines"), map([[bulk("LUA"), lua]])],
      ]);
    }
    case "kill":
      // A function runs inside one synchronous apply: nothing else is served while it runs.
      return err("NOTBUSY No scripts in execution right now.");
    case "help":
      return array(FUNCTION_HELP.map((l) => simple(l)));
    default:
      return err(`ERR unknown subcommand or wrong number of arguments for '${ascii(argv[1]!)}'. Try FUNCTION HELP.`);
  }
}

const badArity = (argv: readonly Uint8Array[]): Reply =>
  err(`ERR unknown subcommand or wrong number of arguments for '${ascii(argv[1]!)}'. Try FUNCTION HELP.`);

function listReply(libs: Libraries, argv: readonly Uint8Array[]): Reply {
  let withCode = false;
  let pattern: Uint8Array | undefined;
  for (let i = 2; i < argv.length; i++) {
    const a = lower(argv[i]!);
    if (!withCode && a === "withcode") withCode = true;
    else if (!pattern && a === "libraryname") {
      if (i >= argv.length - 1) return err("ERR library name argument was not given");
      pattern = argv[++i]!;
    } else return err(`ERR Unknown argument ${ascii(argv[i]!)}`);
  }
  const out: Reply[] = [];
  for (const lib of libs.values()) {
    if (pattern && !globMatch(pattern, utf8(lib.name), true)) continue;
    const fns = [...lib.functions.values()].map((fn) =>
      map([
        [bulk("name"), bulk(fn.name)],
        [bulk("description"), fn.description === undefined ? NULL_BULK : bulk(fn.description)],
        [bulk("flags"), set(SCRIPT_FLAGS.filter((f) => fn.flags.includes(f)).map((f) => simple(f)))],
      ]),
    );
    const fields: [Reply, Reply][] = [
      [bulk("library_name"), bulk(lib.name)],
      [bulk("engine"), bulk("LUA")],
      [bulk("functions"), array(fns)],
    ];
    if (withCode) fields.push([bulk("library_code"), bulk(lib.code)]);
    out.push(map(fields));
  }
  return array(out);
}

/**
 * FCALL / FCALL_RO. `home`: a keyless call in a cluster (src/cluster/keyless-script.ts), run in
 * partition `home.partition`, reading its libraries; `home.slot` as in scriptHost.
 */
export function runFcall(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  readOnly: boolean,
  home?: { partition: number; slot: number },
): Reply {
  const call = fcallOf(ctx, argv, readOnly, home?.partition);
  if ("t" in call) return call;
  const host = scriptHost(ctx, call.keys, call.ro, home?.slot);
  const reply = luaVm().runFunction(call.fn.ref, call.fn.name, call.keys, call.args, host);
  return host.moved === undefined ? reply : movedTo(host.moved);
}

/** FCALL / FCALL_RO started as a trial: see startEval in src/commands/scripting.ts. */
export function startFcall(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  readOnly: boolean,
  home?: { partition: number; slot: number },
): ScriptTrial | Reply {
  const call = fcallOf(ctx, argv, readOnly, home?.partition);
  if ("t" in call) return call;
  const host = scriptHost(ctx, call.keys, call.ro, home?.slot, true);
  return { run: luaVm().startFunction(call.fn.ref, call.fn.name, call.keys, call.args, host), host };
}

/** The function an FCALL runs, its keys and arguments, whether it may write; or Redis's refusal. */
function fcallOf(
  ctx: CommandContext,
  argv: readonly Uint8Array[],
  readOnly: boolean,
  partition: number | undefined,
): { fn: RegisteredFunction; keys: Uint8Array[]; args: Uint8Array[]; ro: boolean } | Reply {
  const keys = scriptKeys(argv);
  const libs = librariesAt(ctx, keys[0] ?? partition);
  let fn: RegisteredFunction | undefined;
  for (const lib of libs.values()) fn ??= lib.functions.get(str(argv[1]!).toLowerCase());
  if (!fn) return err("ERR Function not found");
  const numkeys = parseNumKeys(argv);
  if (numkeys === E.notInt) return err("ERR Bad number of keys provided");
  if (typeof numkeys !== "number") return numkeys;
  const noWrites = fn.flags.includes("no-writes");
  if (readOnly && !noWrites) return err("ERR Can not execute a script with write flag using *_ro command.");
  const declared = argv.slice(3, 3 + numkeys);
  return { fn, keys: declared, args: argv.slice(3 + numkeys), ro: readOnly || noWrites };
}

const EVERY_PARTITION: ClusterTips = { request: "all_shards", via: "__functionpart", response: "all_succeeded" };

export const FUNCTION_COMMANDS = define("scripting", [
  {
    name: "fcall",
    arity: -3,
    flags: ["write"],
    since: "7.0.0",
    summary: "Invokes a function.",
    ...SCRIPT_ROUTING,
    run: (ctx, argv) => runFcall(ctx, argv, false),
  },
  {
    name: "fcall_ro",
    arity: -3,
    flags: ["readonly"],
    since: "7.0.0",
    summary: "Invokes a read-only function.",
    ...SCRIPT_ROUTING,
    run: (ctx, argv) => runFcall(ctx, argv, true),
  },
  {
    name: "function",
    arity: -2,
    flags: ["write"],
    since: "7.0.0",
    summary: "A container for function commands.",
    subcommands: subcommands([
      ["delete", 3],
      ["dump", 2],
      ["flush", -2],
      ["help", 2],
      ["kill", 2],
      ["list", -2],
      ["load", -3],
      ["restore", -3],
      ["stats", 2],
    ]),
    cluster: EVERY_PARTITION,
    run: (ctx, argv) => functionCommand(ctx, argv, undefined),
  },
  {
    name: "__functionpart",
    arity: -3,
    flags: ["write"],
    since: "0.1.0",
    summary: "Internal: FUNCTION on one partition's libraries.",
    cluster: { request: "local" },
    run: (ctx, argv) => {
      const p = Number(ascii(argv[1]!));
      if (!Number.isInteger(p) || p < 0) return err("ERR bad partition");
      return functionCommand(ctx, [argv[0]!, ...argv.slice(2)], p);
    },
  },
]);

const FUNCTION_HELP = [
  "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "LOAD [REPLACE] <FUNCTION CODE>",
  "    Create a new library with the given library name and code.",
  "DELETE <LIBRARY NAME>",
  "    Delete the given library.",
  "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
  "    Return general information on all the libraries:",
  "    * Library name",
  "    * The engine used to run the Library",
  "    * Library description",
  "    * Functions list",
  "    * Library code (if WITHCODE is given)",
  "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
  "STATS",
  "    Return information about the current function running:",
  "    * Function name",
  "    * Command used to run the function",
  "    * Duration in MS that the function is running",
  "    If no function is running, return nil",
  "    In addition, returns a list of available engines.",
  "KILL",
  "    Kill the current running function.",
  "FLUSH [ASYNC|SYNC]",
  "    Delete all the libraries.",
  "    When called without the optional mode argument, the behavior is determined by the",
  "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
  "    * ASYNC: Asynchronously flush the libraries.",
  "    * SYNC: Synchronously flush the libraries.",
  "DUMP",
  "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
  "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
  "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
  "    control how to handle existing libraries (default APPEND):",
  "    * FLUSH: delete all existing libraries.",
  "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
  "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
  "      libraries with the new libraries (notice that even on this option there is a chance of failure",
  "      in case of functions name collision with another library).",
  "HELP",
  "    Prints this help.",
];
