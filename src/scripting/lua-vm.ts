// The Lua VM behind EVAL and FCALL: fengari (Lua 5.3 in JavaScript), sandboxed as Redis's Lua 5.1
// is (no os/io/load*, read-only globals), with Redis's `redis` API and its conversions between Lua
// values and replies. Pure and deterministic: math.random draws from the run's seeded source and an
// instruction budget (counted, not timed) ends a runaway script at the same point on every replica.
import * as fengari from "fengari";
import type { LuaState, LuaString } from "fengari";
import { formatDouble } from "../resp/encoder.ts";
import { err, type Reply } from "../resp/reply.ts";
import { openLibraries } from "./libs.ts";
import { pushNumber } from "./lua-number.ts";
import { sha1hex } from "./sha1.ts";
import { seededRandom } from "../lib/prng.ts";

const { lua, lauxlib, lualib, to_luastring: ls, to_jsstring } = fengari;

/** What a running script reaches outside the VM. */
export interface ScriptHost {
  /** redis.call / redis.pcall: runs one command; errors come back as error replies. */
  call(argv: Uint8Array[], resp3: boolean): Reply;
  /** Uniform in [0, 1): the op's seeded source (math.random). */
  random(): number;
  /** The calling client speaks RESP3: shapes the script's reply. */
  readonly resp3: boolean;
  /**
   * Set by `call` when the script must not go on here (a write in a trial, see SlicedRun): the
   * script is suspended at that call and its run ends STOPPED.
   */
  readonly stopped?: boolean;
}

/** A SlicedRun step that ran out of instructions: call step again. */
export const PAUSED = Symbol("paused");
/** A SlicedRun whose host stopped it (ScriptHost.stopped): it did nothing a caller must undo. */
export const STOPPED = Symbol("stopped");

/**
 * A script run in slices, so the event loop turns between them: a trial on the node that
 * received the script (src/commands/busy-script.ts). No instruction budget: like Redis, only a
 * kill ends a script that loops.
 */
export interface SlicedRun {
  /** Runs about `instructions` more Lua instructions: the script's reply once it has ended. */
  step(instructions: number): Reply | typeof PAUSED | typeof STOPPED;
  /** Ends a paused run for good: Redis's reply to the script a SCRIPT KILL ended. */
  kill(): Reply;
}

/**
 * Lua instructions a script may run, plus CALL_COST per redis.call. Apply is synchronous, so a
 * script holds the event loop until it ends: the budget keeps that under roughly half a second,
 * inside a Raft election timeout, and being a count it ends a script at the same instruction
 * on every replica (a clock would not).
 */
export const INSTRUCTION_BUDGET = 5_000_000;
const CALL_COST = 200;
/** Nesting of a script's reply past which it ends in Redis's error (a table holding itself). */
const MAX_REPLY_DEPTH = 200;
const HOOK_EVERY = 10_000;
/** How often a sliced run's hook looks at its slice: small, so a slice ends near its size. */
const SLICE_HOOK_EVERY = 1_000;
/** Runs the script under its error handler inside a coroutine (xpcall can yield, pcall from JS could not). */
const TRAMPOLINE = "local h, f = ...; return function(...) return xpcall(f, h, ...) end";

const ENV_SETUP = `
local G, debug, missing, modify, load, absent = ...
local setmetatable, getmetatable, next, error = setmetatable, getmetatable, next, error
-- What getmetatable shows of a protected table: itself read-only, so it cannot be changed either.
local locked = setmetatable({}, { __newindex = modify })
local function readonly(t)
  return setmetatable({}, { __index = t, __newindex = modify, __pairs = function() return next, t, nil end, __metatable = locked })
end
-- The redis tables: reading a field they lack is an error, as Redis's error metatable makes it.
local function strict(t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then return absent(k) end
      return v
    end,
    __newindex = modify, __pairs = function() return next, t, nil end, __metatable = locked,
  })
end
local env = setmetatable({}, {
  __index = missing, __newindex = modify, __pairs = function() return next, G, nil end, __metatable = locked,
})
G.setmetatable = function(t, mt)
  if getmetatable(t) == locked then error("Attempt to modify a readonly table", 2) end
  return setmetatable(t, mt)
end
-- Lua 5.1's loadstring, for source text only (no binary chunks), in the sandbox.
G.loadstring = function(s, name)
  return load(s, name, "t", env)
end
local handler = function(err)
  -- The frame that raised the error, past JavaScript functions and this sandbox's own.
  local level = 2
  local i = debug.getinfo(level, 'nSl')
  while i and (i.what == 'J' or i.source == '=env') do
    level = level + 1
    i = debug.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
return env, handler, readonly, strict
`;

const BASE_REMOVED = ["dofile", "loadfile", "load", "require", "print", "collectgarbage"];

/** A compiled script or library function: a reference into the Lua registry. */
export type Ref = number;

/** What redis.register_function recorded. */
export interface RegisteredFunction {
  readonly name: string;
  readonly ref: Ref;
  readonly description: string | undefined;
  readonly flags: readonly string[];
}

/** Redis's script flags, in the order FUNCTION LIST shows them. */
export const SCRIPT_FLAGS = ["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"];

export class LuaVm {
  /** The state the helpers push to and read from: the main one, or a sliced run's thread while it steps. */
  private L: LuaState;
  /** Lua instructions (and CALL_COST per call) a run may use: unlimited while a sliced run steps. */
  private budget = INSTRUCTION_BUDGET;
  private readonly env: Ref;
  private readonly handler: Ref;
  /** TRAMPOLINE's loader, compiled once. */
  private readonly trampoline: Ref;
  /** The globals of a library's code during FUNCTION LOAD (see libraryApi). */
  private readonly libApi: Ref;
  private readonly scripts = new Map<string, { ref: Ref; body: Uint8Array }>();
  /** The SHA1 of each cached body, by the body's object: handing a cached body on costs no hashing again. */
  private readonly shas = new WeakMap<Uint8Array, string>();
  private host: ScriptHost | undefined;
  /** The RESP version redis.call replies are converted from (redis.setresp). */
  private resp = 2;
  private used = 0;
  /** Set by math.randomseed: the run's numbers then repeat for the same seed, as in Redis. */
  private seeded: (() => number) | undefined;
  /** While a FUNCTION LOAD runs its library: where redis.register_function records. */
  private registering: ((fn: RegisteredFunction) => string | undefined) | undefined;

  constructor() {
    const L = (this.L = lauxlib.luaL_newstate());
    const open: [string, fengari.JsFunction][] = [
      ["_G", lualib.luaopen_base],
      ["string", lualib.luaopen_string],
      ["table", lualib.luaopen_table],
      ["math", lualib.luaopen_math],
      ["debug", lualib.luaopen_debug],
    ];
    for (const [name, f] of open) {
      lauxlib.luaL_requiref(L, ls(name), f, 1);
      lua.lua_pop(L, 1);
    }
    lua.lua_pushglobaltable(L);
    const G = lua.lua_gettop(L);
    lua.lua_getfield(L, G, "load");
    for (const name of BASE_REMOVED) {
      lua.lua_pushnil(L);
      lua.lua_setfield(L, G, name);
    }
    const loadAt = lua.lua_gettop(L);
    // Lua 5.1's global unpack, which scripts written for Redis use.
    lua.lua_getfield(L, G, "table");
    lua.lua_getfield(L, -1, "unpack");
    lua.lua_setfield(L, G, "unpack");
    lua.lua_pop(L, 1);
    this.installRedis(G);
    openLibraries(L, G);
    // math.random draws from the run's seeded source: the same numbers on every replica.
    lua.lua_getfield(L, G, "math");
    lua.lua_pushcfunction(L, (L) => this.mathRandom(L));
    lua.lua_setfield(L, -2, "random");
    lua.lua_pushcfunction(L, (L) => {
      this.seeded = seededRandom(lua.lua_tointeger(L, 1));
      return 0;
    });
    lua.lua_setfield(L, -2, "randomseed");
    lua.lua_pop(L, 1);
    lua.lua_getfield(L, G, "debug");
    const debugAt = lua.lua_gettop(L);
    lua.lua_pushnil(L);
    lua.lua_setfield(L, G, "debug");
    if (lauxlib.luaL_loadbuffer(L, ls(ENV_SETUP), null, ls("=env")) !== lua.LUA_OK) {
      throw new Error(`Lua sandbox setup failed: ${to_jsstring(lua.lua_tostring(L, -1)!)}`);
    }
    lua.lua_pushvalue(L, G);
    lua.lua_pushvalue(L, debugAt);
    // C functions, as in Redis, so the error handler reports the script's line, not the metamethod's.
    lua.lua_pushcfunction(L, (L) => {
      if (this.registering) lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.libApi);
      else lua.lua_pushglobaltable(L);
      lua.lua_pushvalue(L, 2);
      if (lua.lua_rawget(L, -2) !== lua.LUA_TNIL) return 1;
      const name = lua.lua_type(L, 2) === lua.LUA_TSTRING ? to_jsstring(lua.lua_tostring(L, 2)!) : "?";
      return raise(L, `Script attempted to access nonexistent global variable '${name}'`);
    });
    lua.lua_pushcfunction(L, (L) => raise(L, "Attempt to modify a readonly table"));
    lua.lua_pushvalue(L, loadAt);
    lua.lua_pushcfunction(L, (L) => {
      const name = lua.lua_type(L, 1) === lua.LUA_TSTRING ? to_jsstring(lua.lua_tostring(L, 1)!) : "?";
      lua.lua_pushliteral(L, `Script attempted to access nonexistent global variable '${name}'`);
      return lua.lua_error(L);
    });
    lua.lua_call(L, 6, 4);
    const strict = lua.lua_gettop(L);
    const readonly = strict - 1;
    // Library tables become read-only views, so no script changes what the next one sees.
    this.libApi = this.libraryApi(strict);
    for (const name of ["string", "table", "math", "redis", "cjson", "bit", "cmsgpack"]) {
      lua.lua_pushvalue(L, name === "redis" ? strict : readonly);
      lua.lua_getfield(L, G, name);
      lua.lua_call(L, 1, 1);
      lua.lua_setfield(L, G, name);
    }
    lua.lua_pop(L, 2);
    this.handler = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    this.env = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    if (lauxlib.luaL_loadbuffer(L, ls(TRAMPOLINE), null, ls("=env")) !== lua.LUA_OK) {
      throw new Error(`Lua trampoline setup failed: ${to_jsstring(lua.lua_tostring(L, -1)!)}`);
    }
    this.trampoline = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    lua.lua_pushvalue(L, G);
    lua.lua_pushliteral(L, "_G");
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.env);
    lua.lua_rawset(L, -3);
    lua.lua_settop(L, 0);
  }

  /** The SHA1 name of a script body. */
  static sha(body: Uint8Array): string {
    return sha1hex(body);
  }

  /** Scripts in the cache (INFO's number_of_cached_scripts). */
  get cached(): number {
    return this.scripts.size;
  }

  has(sha: string): boolean {
    return this.scripts.has(sha);
  }

  body(sha: string): Uint8Array | undefined {
    return this.scripts.get(sha)?.body;
  }

  /** SCRIPT FLUSH. */
  flush(): void {
    for (const { ref } of this.scripts.values()) lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, ref);
    this.scripts.clear();
  }

  /**
   * Compiles a script into the cache (EVAL, SCRIPT LOAD): its SHA1, or Redis's compile error.
   * `sha`: the body's SHA1 when the caller has it from where it found the body.
   */
  load(body: Uint8Array, sha = this.shas.get(body) ?? sha1hex(body)): { sha: string } | { error: Reply } {
    if (this.scripts.has(sha)) return { sha };
    // A shebang line (#!lua flags=…) is skipped but its line feed kept, so line numbers stay.
    const code = body[0] === 0x23 && body[1] === 0x21 ? shebangless(body) : body;
    const compiled = this.compile(code, "@user_script");
    if (typeof compiled === "string") return { error: err(`ERR Error compiling script (new function): ${compiled}`) };
    this.scripts.set(sha, { ref: compiled, body });
    this.shas.set(body, sha);
    return { sha };
  }

  /** Runs a cached script with KEYS and ARGV (EVAL): its reply, or the error that ended it. */
  runScript(sha: string, keys: readonly Uint8Array[], args: readonly Uint8Array[], host: ScriptHost): Reply {
    const L = this.L;
    const script = this.scripts.get(sha)!;
    lua.lua_pushglobaltable(L);
    this.pushArray(keys);
    lua.lua_setfield(L, -2, "KEYS");
    this.pushArray(args);
    lua.lua_setfield(L, -2, "ARGV");
    lua.lua_pop(L, 1);
    return this.invoke(script.ref, [], host, sha);
  }

  /** runScript in slices (see SlicedRun). */
  startScript(sha: string, keys: readonly Uint8Array[], args: readonly Uint8Array[], host: ScriptHost): SlicedRun {
    const script = this.scripts.get(sha)!;
    const L = this.L;
    this.pushArray(keys);
    const keysRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    this.pushArray(args);
    const argsRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    return this.sliced(
      script.ref,
      [],
      host,
      sha,
      () => {
        // KEYS and ARGV are globals another script may have set since the last slice.
        lua.lua_pushglobaltable(L);
        lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, keysRef);
        lua.lua_setfield(L, -2, "KEYS");
        lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, argsRef);
        lua.lua_setfield(L, -2, "ARGV");
        lua.lua_pop(L, 1);
      },
      [keysRef, argsRef],
    );
  }

  /** runFunction in slices (see SlicedRun). */
  startFunction(
    fn: Ref,
    name: string,
    keys: readonly Uint8Array[],
    args: readonly Uint8Array[],
    host: ScriptHost,
  ): SlicedRun {
    return this.sliced(fn, [keys, args], host, name, () => {}, []);
  }

  /** Runs a registered library function with its keys and arguments (FCALL). */
  runFunction(
    fn: Ref,
    name: string,
    keys: readonly Uint8Array[],
    args: readonly Uint8Array[],
    host: ScriptHost,
  ): Reply {
    return this.invoke(fn, [keys, args], host, name);
  }

  /**
   * Runs a library's code (FUNCTION LOAD) with redis.register_function recording into `register`;
   * an error message on failure. The caller unreferences what was registered if it fails.
   */
  loadLibrary(code: Uint8Array, register: (fn: RegisteredFunction) => string | undefined): string | undefined {
    const compiled = this.compile(code, "@user_function");
    if (typeof compiled === "string") return `Error compiling function: ${compiled}`;
    this.registering = register;
    const L = this.L;
    try {
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handler);
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, compiled);
      this.startBudget();
      const status = lua.lua_pcall(L, 0, 0, -2);
      if (status === lua.LUA_OK) return undefined;
      const e = errorText(L);
      return `Error registering functions: ${e}`;
    } finally {
      lua.lua_sethook(L, null, 0, 0);
      this.registering = undefined;
      lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, compiled);
      lua.lua_settop(L, 0);
    }
  }

  /** Forgets a registered function (FUNCTION DELETE, FLUSH, a replaced library). */
  release(fn: Ref): void {
    lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, fn);
  }

  private compile(code: Uint8Array, chunk: string): Ref | string {
    const L = this.L;
    if (lauxlib.luaL_loadbuffer(L, code, code.length, ls(chunk)) !== lua.LUA_OK) {
      const msg = to_jsstring(lua.lua_tostring(L, -1)!);
      lua.lua_pop(L, 1);
      return msg;
    }
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.env);
    lua.lua_setupvalue(L, -2, 1);
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  }

  /**
   * A coroutine running `fn` under the error handler. Each step swaps the run's state (host, RESP
   * version, seeded random source) into the VM, which other scripts use between its slices.
   */
  private sliced(
    fn: Ref,
    tables: readonly (readonly Uint8Array[])[],
    host: ScriptHost,
    name: string,
    globals: () => void,
    refs: Ref[],
  ): SlicedRun {
    const main = this.L;
    const thread = lua.lua_newthread(main);
    refs.push(lauxlib.luaL_ref(main, lua.LUA_REGISTRYINDEX));
    lua.lua_rawgeti(thread, lua.LUA_REGISTRYINDEX, this.trampoline);
    lua.lua_rawgeti(thread, lua.LUA_REGISTRYINDEX, this.handler);
    lua.lua_rawgeti(thread, lua.LUA_REGISTRYINDEX, fn);
    lua.lua_call(thread, 2, 1);
    this.L = thread;
    for (const t of tables) this.pushArray(t);
    this.L = main;
    let nargs = tables.length;
    let resp = 2;
    let seeded: (() => number) | undefined;
    let done = false;
    let sliceLeft = 0;
    const end = (): void => {
      done = true;
      for (const ref of refs) lauxlib.luaL_unref(main, lua.LUA_REGISTRYINDEX, ref);
    };
    const hook = (L: LuaState) => {
      sliceLeft -= SLICE_HOOK_EVERY;
      if (sliceLeft <= 0 && lua.lua_isyieldable(L)) lua.lua_yield(L, 0);
    };
    return {
      step: (instructions) => {
        if (done) throw new Error(`script ${name} stepped after it ended`);
        sliceLeft = instructions;
        globals();
        this.host = host;
        this.resp = resp;
        this.seeded = seeded;
        this.budget = Number.POSITIVE_INFINITY;
        this.L = thread;
        lua.lua_sethook(thread, hook, lua.LUA_MASKCOUNT, SLICE_HOOK_EVERY);
        try {
          const status = lua.lua_resume(thread, main, nargs);
          nargs = 0;
          if (status === lua.LUA_YIELD) {
            if (!host.stopped) return PAUSED;
            end();
            return STOPPED;
          }
          end();
          if (host.stopped) return STOPPED;
          if (status !== lua.LUA_OK) return err(errorText(thread));
          if (!lua.lua_toboolean(thread, 1)) {
            const text = errorText(thread);
            const where = errorWhere(thread);
            return err(where ? `${text} script: ${name}, on ${where}.` : text);
          }
          lua.lua_settop(thread, 2);
          return this.toReply(this.resp === 3);
        } catch (e) {
          if (!done) end();
          return err(`ERR Error running script ${name}: ${(e as Error).message}`);
        } finally {
          resp = this.resp;
          seeded = this.seeded;
          this.host = undefined;
          this.budget = INSTRUCTION_BUDGET;
          this.L = main;
        }
      },
      kill: () => {
        const where = scriptFrame(thread);
        if (!done) end();
        return err(`ERR Script killed by user with SCRIPT KILL...${where ? ` script: ${name}, on ${where}.` : ""}`);
      },
    };
  }

  private invoke(fn: Ref, tables: readonly (readonly Uint8Array[])[], host: ScriptHost, name: string) {
    const L = this.L;
    this.host = host;
    this.seeded = undefined;
    this.resp = 2;
    try {
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.handler);
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, fn);
      for (const t of tables) this.pushArray(t);
      this.startBudget();
      if (lua.lua_pcall(L, tables.length, 1, 1) !== lua.LUA_OK) {
        const text = errorText(L);
        const where = errorWhere(L);
        return err(where ? `${text} script: ${name}, on ${where}.` : text);
      }
      lua.lua_sethook(L, null, 0, 0);
      // Booleans and doubles follow the script's protocol (redis.setresp), not the client's.
      return this.toReply(this.resp === 3);
    } catch (e) {
      // A fault of the VM itself (JavaScript stack exhausted): the same on every replica, never a crash of apply.
      return err(`ERR Error running script ${name}: ${(e as Error).message}`);
    } finally {
      lua.lua_sethook(L, null, 0, 0);
      this.host = undefined;
      lua.lua_settop(L, 0);
    }
  }

  /**
   * Counts instructions from now on. Past the budget the hook fires on every instruction and
   * raises each time, so a script that catches the error with pcall is ended by the next
   * instruction outside it.
   */
  private startBudget(): void {
    this.used = 0;
    const hook = (L: LuaState) => {
      this.used += HOOK_EVERY;
      if (this.used <= this.budget) return;
      lua.lua_sethook(L, hook, lua.LUA_MASKCOUNT, 1);
      pushError(L, `Script exceeded the instruction budget of ${INSTRUCTION_BUDGET} (a runaway script?)`);
      lua.lua_error(L);
    };
    lua.lua_sethook(this.L, hook, lua.LUA_MASKCOUNT, HOOK_EVERY);
  }

  private mathRandom(L: LuaState): number {
    const r = this.seeded ? this.seeded() : this.host ? this.host.random() : 0;
    const n = lua.lua_gettop(L);
    if (n === 0) {
      lua.lua_pushnumber(L, r);
      return 1;
    }
    const [lo, hi] = n === 1 ? [1, lua.lua_tointeger(L, 1)] : [lua.lua_tointeger(L, 1), lua.lua_tointeger(L, 2)];
    if (lo > hi) {
      pushError(L, "bad argument to 'random' (interval is empty)");
      return lua.lua_error(L);
    }
    lua.lua_pushinteger(L, lo + Math.floor(r * (hi - lo + 1)));
    return 1;
  }

  private pushArray(items: readonly Uint8Array[]): void {
    const L = this.L;
    lua.lua_createtable(L, items.length, 0);
    items.forEach((item, i) => {
      lua.lua_pushstring(L, item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  }

  private installRedis(G: number): void {
    const L = this.L;
    lua.lua_createtable(L, 0, 24);
    const fn = (name: string, f: fengari.JsFunction) => {
      lua.lua_pushcfunction(L, f);
      lua.lua_setfield(L, -2, name);
    };
    fn("call", (L) => this.redisCall(L, true));
    fn("pcall", (L) => this.redisCall(L, false));
    fn("error_reply", (L) => {
      if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, -1) !== lua.LUA_TSTRING) {
        pushError(L, "wrong number or type of arguments");
        return 1;
      }
      const text = to_jsstring(lua.lua_tostring(L, 1)!);
      pushError(L, text.startsWith("-") ? text : `-${text}`);
      return 1;
    });
    fn("status_reply", (L) => {
      if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, -1) !== lua.LUA_TSTRING) {
        pushError(L, "wrong number or type of arguments");
        return 1;
      }
      lua.lua_createtable(L, 0, 1);
      lua.lua_pushvalue(L, 1);
      lua.lua_setfield(L, -2, "ok");
      return 1;
    });
    fn("sha1hex", (L) => {
      if (lua.lua_gettop(L) !== 1) {
        pushError(L, "wrong number of arguments");
        return lua.lua_error(L);
      }
      lua.lua_pushliteral(L, sha1hex(lauxlib.luaL_tolstring(L, 1)));
      return 1;
    });
    fn("log", (L) => {
      if (lua.lua_gettop(L) < 2) {
        pushError(L, "redis.log() requires two arguments or more.");
        return lua.lua_error(L);
      }
      if (lua.lua_type(L, 1) !== lua.LUA_TNUMBER) {
        pushError(L, "First argument must be a number (log level).");
        return lua.lua_error(L);
      }
      const level = lua.lua_tointeger(L, 1);
      if (level < 0 || level > 3) {
        pushError(L, "Invalid debug level.");
        return lua.lua_error(L);
      }
      // Scripts' log lines are not kept: a replica would write the same line again.
      return 0;
    });
    fn("setresp", (L) => {
      if (!this.host) {
        pushError(L, "redis.setresp can only be called inside a script invocation");
        return lua.lua_error(L);
      }
      if (lua.lua_gettop(L) !== 1) {
        pushError(L, "redis.setresp() requires one argument.");
        return lua.lua_error(L);
      }
      const v = lua.lua_tointeger(L, 1);
      if (v !== 2 && v !== 3) {
        pushError(L, "RESP version must be 2 or 3.");
        return lua.lua_error(L);
      }
      this.resp = v;
      return 0;
    });
    // Effects are what replicates in FlyDB (the whole script is one op): these change nothing.
    fn("set_repl", (L) => {
      if (!this.host) {
        pushError(L, "redis.set_repl can only be called inside a script invocation");
        return lua.lua_error(L);
      }
      if (lua.lua_gettop(L) !== 1) {
        pushError(L, "redis.set_repl() requires two arguments.");
        return lua.lua_error(L);
      }
      const flags = lua.lua_tointeger(L, 1);
      if ((flags & ~3) !== 0) {
        pushError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return lua.lua_error(L);
      }
      return 0;
    });
    fn("replicate_commands", (L) => {
      lua.lua_pushboolean(L, true);
      return 1;
    });
    fn("breakpoint", (L) => {
      lua.lua_pushboolean(L, false);
      return 1;
    });
    fn("debug", () => 0);
    const ints: [string, number][] = [
      ...LOG_LEVELS,
      ["REPL_NONE", 0],
      ["REPL_AOF", 1],
      ["REPL_SLAVE", 2],
      ["REPL_REPLICA", 2],
      ["REPL_ALL", 3],
    ];
    for (const [name, v] of ints) {
      lua.lua_pushinteger(L, v);
      lua.lua_setfield(L, -2, name);
    }
    pushVersion(L);
    lua.lua_setfield(L, G, "redis");
  }

  /**
   * The globals a library's code sees while FUNCTION LOAD runs it, as in Redis: only a `redis`
   * with register_function, log and the version (function_lua.c's library API), made read-only by
   * `readonly` (the function at that stack index).
   */
  private libraryApi(readonly: number): Ref {
    const L = this.L;
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushvalue(L, readonly);
    lua.lua_createtable(L, 0, 8);
    lua.lua_pushcfunction(L, (L) => this.registerFunction(L));
    lua.lua_setfield(L, -2, "register_function");
    lua.lua_getglobal(L, "redis");
    lua.lua_getfield(L, -1, "log");
    lua.lua_setfield(L, -3, "log");
    lua.lua_pop(L, 1);
    for (const [name, v] of LOG_LEVELS) {
      lua.lua_pushinteger(L, v);
      lua.lua_setfield(L, -2, name);
    }
    pushVersion(L);
    lua.lua_call(L, 1, 1);
    lua.lua_setfield(L, -2, "redis");
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  }

  private registerFunction(L: LuaState): number {
    if (!this.registering) {
      pushError(L, "redis.register_function can only be called on FUNCTION LOAD command");
      return lua.lua_error(L);
    }
    const parsed = lua.lua_gettop(L) === 1 ? namedRegistration(L) : positionalRegistration(L);
    if (typeof parsed === "string") {
      pushError(L, parsed);
      return lua.lua_error(L);
    }
    const refused = this.registering(parsed);
    if (refused) {
      lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, parsed.ref);
      pushError(L, refused);
      return lua.lua_error(L);
    }
    return 0;
  }

  private redisCall(L: LuaState, raise: boolean): number {
    const host = this.host;
    if (!host) {
      pushError(L, "redis.call/pcall can only be called inside a script invocation");
      return lua.lua_error(L);
    }
    this.used += CALL_COST;
    if (this.used > this.budget) {
      pushError(L, `Script exceeded the instruction budget of ${INSTRUCTION_BUDGET} (a runaway script?)`);
      return lua.lua_error(L);
    }
    const n = lua.lua_gettop(L);
    if (n === 0) {
      pushError(L, "Please specify at least one argument for this redis lib call");
      return raise ? lua.lua_error(L) : 1;
    }
    const argv: Uint8Array[] = [];
    for (let i = 1; i <= n; i++) {
      const t = lua.lua_type(L, i);
      if (t === lua.LUA_TNUMBER) argv.push(ls(formatDouble(lua.lua_tonumber(L, i))));
      else if (t === lua.LUA_TSTRING) argv.push(lua.lua_tostring(L, i)!);
      else {
        pushError(L, "Lua redis lib command arguments must be strings or integers");
        return raise ? lua.lua_error(L) : 1;
      }
    }
    const reply = host.call(argv, this.resp === 3);
    // Suspended here for good (its run ends STOPPED); where a yield is not possible, the error
    // below and every later call's (the host refuses them) end it, and its reply is dropped.
    if (host.stopped && lua.lua_isyieldable(L)) return lua.lua_yield(L, 0);
    if (reply.t === "error") {
      pushError(L, `-${reply.v}`);
      return raise ? lua.lua_error(L) : 1;
    }
    this.pushReply(reply);
    return 1;
  }

  /** A command's reply as Redis gives it to Lua (script_lua.c's redisProtocolToLuaType), under RESP2 or 3. */
  private pushReply(r: Reply): void {
    const L = this.L;
    const resp3 = this.resp === 3;
    switch (r.t) {
      case "simple":
        lua.lua_createtable(L, 0, 1);
        lua.lua_pushliteral(L, r.v);
        lua.lua_setfield(L, -2, "ok");
        return;
      case "error":
        pushError(L, `-${r.v}`);
        return;
      case "int":
        pushNumber(L, Number(r.v));
        return;
      case "bulk":
        lua.lua_pushstring(L, typeof r.v === "string" ? ls(r.v) : r.v);
        return;
      case "verbatim":
        if (!resp3) {
          lua.lua_pushstring(L, ls(r.v));
          return;
        }
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, 2);
        lua.lua_pushstring(L, ls(r.v));
        lua.lua_setfield(L, -2, "string");
        lua.lua_pushliteral(L, r.format);
        lua.lua_setfield(L, -2, "format");
        lua.lua_setfield(L, -2, "verbatim_string");
        return;
      case "nullbulk":
      case "nullarray":
        if (resp3) lua.lua_pushnil(L);
        else lua.lua_pushboolean(L, false);
        return;
      case "array":
      case "push":
        this.pushList(r.v);
        return;
      case "set":
        if (!resp3) {
          this.pushList(r.v);
          return;
        }
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, r.v.length);
        for (const m of r.v) {
          this.pushReply(m);
          lua.lua_pushboolean(L, true);
          lua.lua_rawset(L, -3);
        }
        lua.lua_setfield(L, -2, "set");
        return;
      case "map":
        if (!resp3) {
          this.pushList(r.v.flat());
          return;
        }
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, r.v.length);
        for (const [k, v] of r.v) {
          this.pushReply(k);
          this.pushReply(v);
          lua.lua_rawset(L, -3);
        }
        lua.lua_setfield(L, -2, "map");
        return;
      case "double":
        if (!resp3) {
          lua.lua_pushstring(L, ls(r.text ?? formatDouble(r.v)));
          return;
        }
        lua.lua_createtable(L, 0, 1);
        lua.lua_pushnumber(L, r.v);
        lua.lua_setfield(L, -2, "double");
        return;
      case "bool":
        if (resp3) lua.lua_pushboolean(L, r.v);
        else if (r.v) pushNumber(L, 1);
        else lua.lua_pushboolean(L, false);
        return;
    }
  }

  private pushList(items: readonly Reply[]): void {
    const L = this.L;
    lua.lua_createtable(L, items.length, 0);
    items.forEach((item, i) => {
      this.pushReply(item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  }

  /** The value on top of the stack as the script's reply (script_lua.c's luaReplyToRedisReply). */
  private toReply(resp3: boolean, depth = 0): Reply {
    const L = this.L;
    const at = lua.lua_gettop(L);
    try {
      switch (lua.lua_type(L, at)) {
        case lua.LUA_TSTRING:
          return { t: "bulk", v: lua.lua_tostring(L, at)!.slice() };
        case lua.LUA_TBOOLEAN:
          if (resp3) return { t: "bool", v: lua.lua_toboolean(L, at) };
          return lua.lua_toboolean(L, at) ? { t: "int", v: 1 } : { t: "nullbulk" };
        case lua.LUA_TNUMBER:
          return { t: "int", v: truncate(lua.lua_tonumber(L, at)) };
        case lua.LUA_TTABLE:
          return depth > MAX_REPLY_DEPTH || !lua.lua_checkstack(L, 4)
            ? err("ERR reached lua stack limit")
            : this.tableReply(at, resp3, depth);
        default:
          return { t: "nullbulk" };
      }
    } finally {
      lua.lua_settop(L, at - 1);
    }
  }

  private tableReply(at: number, resp3: boolean, depth: number): Reply {
    const L = this.L;
    const field = (name: string) => {
      lua.lua_pushliteral(L, name);
      return lua.lua_rawget(L, at);
    };
    if (field("err") === lua.LUA_TSTRING) return err(to_jsstring(lua.lua_tostring(L, -1)!).replace(/^-/, ""));
    lua.lua_pop(L, 1);
    if (field("ok") === lua.LUA_TSTRING) {
      return { t: "simple", v: to_jsstring(lua.lua_tostring(L, -1)!).replace(/[\r\n]/g, " ") };
    }
    lua.lua_pop(L, 1);
    if (field("double") === lua.LUA_TNUMBER) return { t: "double", v: lua.lua_tonumber(L, -1) };
    lua.lua_pop(L, 1);
    if (field("big_number") === lua.LUA_TSTRING) {
      return { t: "bulk", v: to_jsstring(lua.lua_tostring(L, -1)!).replace(/[\r\n]/g, " ") };
    }
    lua.lua_pop(L, 1);
    if (field("map") === lua.LUA_TTABLE) {
      const t = lua.lua_gettop(L);
      const pairs: [Reply, Reply][] = [];
      lua.lua_pushnil(L);
      while (lua.lua_next(L, t) !== 0) {
        lua.lua_pushvalue(L, -2);
        const k = this.toReply(resp3, depth + 1);
        pairs.push([k, this.toReply(resp3, depth + 1)]);
      }
      return { t: "map", v: pairs };
    }
    lua.lua_pop(L, 1);
    if (field("set") === lua.LUA_TTABLE) {
      const t = lua.lua_gettop(L);
      const members: Reply[] = [];
      lua.lua_pushnil(L);
      while (lua.lua_next(L, t) !== 0) {
        lua.lua_pop(L, 1);
        lua.lua_pushvalue(L, -1);
        members.push(this.toReply(resp3, depth + 1));
      }
      return { t: "set", v: members };
    }
    lua.lua_pop(L, 1);
    const items: Reply[] = [];
    for (let i = 1; lua.lua_rawgeti(L, at, i) !== lua.LUA_TNIL; i++) items.push(this.toReply(resp3, depth + 1));
    return { t: "array", v: items };
  }
}

function positionalRegistration(L: LuaState): RegisteredFunction | string {
  if (lua.lua_gettop(L) !== 2) return "wrong number of arguments to redis.register_function";
  if (lua.lua_type(L, 1) !== lua.LUA_TSTRING) return "first argument to redis.register_function must be a string";
  if (lua.lua_type(L, 2) !== lua.LUA_TFUNCTION) return "second argument to redis.register_function must be a function";
  const name = to_jsstring(lua.lua_tostring(L, 1)!);
  lua.lua_pushvalue(L, 2);
  return { name, ref: lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX), description: undefined, flags: [] };
}

/** redis.register_function{function_name=…, callback=…, description=…, flags={…}}. */
function namedRegistration(L: LuaState): RegisteredFunction | string {
  if (lua.lua_type(L, 1) !== lua.LUA_TTABLE)
    return "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).";
  let name: string | undefined;
  let description: string | undefined;
  let callback = false;
  const flags: string[] = [];
  lua.lua_pushnil(L);
  while (lua.lua_next(L, 1) !== 0) {
    if (lua.lua_type(L, -2) !== lua.LUA_TSTRING)
      return "named argument key given to redis.register_function is not a string";
    const key = to_jsstring(lua.lua_tostring(L, -2)!).toLowerCase();
    const t = lua.lua_type(L, -1);
    if (key === "function_name") {
      if (t !== lua.LUA_TSTRING) return "function_name argument given to redis.register_function must be a string";
      name = to_jsstring(lua.lua_tostring(L, -1)!);
    } else if (key === "description") {
      if (t !== lua.LUA_TSTRING) return "description argument given to redis.register_function must be a string";
      description = to_jsstring(lua.lua_tostring(L, -1)!);
    } else if (key === "callback") {
      if (t !== lua.LUA_TFUNCTION) return "callback argument given to redis.register_function must be a function";
      callback = true;
    } else if (key === "flags") {
      if (t !== lua.LUA_TTABLE)
        return "flags argument to redis.register_function must be a table representing function flags";
      for (let i = 1; lua.lua_rawgeti(L, -1, i) !== lua.LUA_TNIL; i++) {
        const flag = lua.lua_type(L, -1) === lua.LUA_TSTRING ? to_jsstring(lua.lua_tostring(L, -1)!) : "";
        lua.lua_pop(L, 1);
        if (!SCRIPT_FLAGS.includes(flag)) return "unknown flag given";
        flags.push(flag);
      }
      lua.lua_pop(L, 1);
    } else return "unknown argument given to redis.register_function";
    lua.lua_pop(L, 1);
  }
  if (name === undefined) return "redis.register_function must get a function name argument";
  if (!callback) return "redis.register_function must get a callback argument";
  lua.lua_getfield(L, 1, "callback");
  return { name, ref: lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX), description, flags };
}

const LOG_LEVELS: [string, number][] = [
  ["LOG_DEBUG", 0],
  ["LOG_VERBOSE", 1],
  ["LOG_NOTICE", 2],
  ["LOG_WARNING", 3],
];

/** Sets REDIS_VERSION and REDIS_VERSION_NUM on the table on top of the stack. */
function pushVersion(L: LuaState): void {
  lua.lua_pushliteral(L, "7.0.15");
  lua.lua_setfield(L, -2, "REDIS_VERSION");
  lua.lua_pushinteger(L, 0x07000f);
  lua.lua_setfield(L, -2, "REDIS_VERSION_NUM");
}

/** Raises `msg` prefixed with the calling script's position ("user_script:1: "), as luaL_error does. */
function raise(L: LuaState, msg: string): never {
  lauxlib.luaL_where(L, 1);
  lua.lua_pushliteral(L, `${to_jsstring(lua.lua_tostring(L, -1)!)}${msg}`);
  return lua.lua_error(L);
}

/** Lua 5.1 numbers are doubles; fengari's integers are 32-bit, so larger values stay floats. */
/** C's (long long) cast of a Lua number, as Redis converts a number reply. */
function truncate(n: number): number | bigint {
  if (Number.isNaN(n)) return -9223372036854775808n;
  const t = Math.trunc(n);
  return Number.isSafeInteger(t) ? t : BigInt.asIntN(64, BigInt(Number.isFinite(t) ? t : 0));
}

/**
 * Pushes Redis's error table {err = "CODE msg"}: a text starting with "-" carries its own code,
 * any other gets "ERR" (script_lua.c's luaPushErrorBuff).
 */
export function pushError(L: LuaState, text: string): void {
  let msg = text;
  let code = "ERR";
  if (text.startsWith("-")) {
    // "-msg" without a code keeps "ERR", as luaPushErrorBuff does.
    const space = text.indexOf(" ");
    if (space < 0) msg = text.slice(1);
    else {
      code = text.slice(1, space);
      msg = text.slice(space + 1);
    }
  }
  msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, "");
  lua.lua_createtable(L, 0, 1);
  lua.lua_pushliteral(L, `${code} ${msg}`);
  lua.lua_setfield(L, -2, "err");
}

/** The text of the error object on top of the stack (the handler's table, or a raw value). */
function errorText(L: LuaState): string {
  if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
    lua.lua_getfield(L, -1, "err");
    const text = lua.lua_type(L, -1) === lua.LUA_TSTRING ? to_jsstring(lua.lua_tostring(L, -1)!) : "ERR unknown error";
    lua.lua_pop(L, 1);
    return text;
  }
  const s = lua.lua_tostring(L, -1);
  return `ERR Error running script: ${s ? to_jsstring(s) : "execution failure"}`;
}

/** "source:line" the handler recorded, when it did. */
function errorWhere(L: LuaState): string | undefined {
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) return undefined;
  lua.lua_getfield(L, -1, "source");
  lua.lua_getfield(L, -2, "line");
  const source = lua.lua_tostring(L, -2);
  const line = lua.lua_type(L, -1) === lua.LUA_TNUMBER ? lua.lua_tointeger(L, -1) : undefined;
  lua.lua_pop(L, 2);
  return source && line !== undefined ? `${to_jsstring(source)}:${line}` : undefined;
}

/**
 * "source:line" of the innermost frame of the script's own code in a suspended thread (past the
 * sandbox's and JavaScript's frames). A count hook that yielded leaves its frame's pc one
 * instruction back, before the first on a function's first: its line is then where it starts.
 */
function scriptFrame(thread: LuaState): string | undefined {
  const ar = new lua.lua_Debug();
  for (let level = 0; lua.lua_getstack(thread, level, ar); level++) {
    lua.lua_getinfo(thread, ls("Sl"), ar);
    if (ar.source?.[0] !== 0x40) continue;
    const line = Number.isFinite(ar.currentline) && ar.currentline > 0 ? ar.currentline : Math.max(1, ar.linedefined);
    return `${to_jsstring(ar.source!)}:${line}`;
  }
  return undefined;
}

function shebangless(body: Uint8Array): Uint8Array {
  const nl = body.indexOf(0x0a);
  return nl < 0 ? new Uint8Array(0) : body.subarray(nl);
}

export type { LuaString };
