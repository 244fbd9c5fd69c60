// The part of fengari's API (Lua 5.3 in JavaScript, https://github.com/fengari-lua/fengari) that
// src/scripting uses; fengari ships no types. Lua strings are byte arrays.
declare module "fengari" {
  export type LuaState = { readonly __luaState: unique symbol };
  export type LuaString = Uint8Array;
  export type JsFunction = (L: LuaState) => number;
  export interface LuaDebug {
    currentline: number;
    source: LuaString | null;
  }
  export class lua_Debug implements LuaDebug {
    currentline: number;
    linedefined: number;
    source: LuaString | null;
  }

  export const lua: {
    readonly LUA_OK: number;
    readonly LUA_YIELD: number;
    readonly lua_Debug: typeof lua_Debug;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    readonly LUA_TFUNCTION: number;
    readonly LUA_MASKCOUNT: number;
    readonly LUA_REGISTRYINDEX: number;
    readonly LUA_RIDX_GLOBALS: number;
    lua_absindex(L: LuaState, i: number): number;
    lua_call(L: LuaState, nargs: number, nresults: number): void;
    lua_checkstack(L: LuaState, n: number): boolean;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_error(L: LuaState): never;
    lua_getfield(L: LuaState, i: number, k: LuaString | string): number;
    lua_getglobal(L: LuaState, name: LuaString | string): number;
    lua_getinfo(L: LuaState, what: LuaString, ar: LuaDebug): number;
    lua_getstack(L: LuaState, level: number, ar: LuaDebug): number;
    lua_gettop(L: LuaState): number;
    lua_insert(L: LuaState, i: number): void;
    lua_isinteger(L: LuaState, i: number): boolean;
    lua_isnoneornil(L: LuaState, i: number): boolean;
    lua_isyieldable(L: LuaState): boolean;
    lua_newthread(L: LuaState): LuaState;
    lua_next(L: LuaState, i: number): number;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_pop(L: LuaState, n: number): void;
    lua_pushboolean(L: LuaState, b: boolean | number): void;
    lua_pushcfunction(L: LuaState, f: JsFunction): void;
    lua_pushglobaltable(L: LuaState): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushliteral(L: LuaState, s: string): void;
    lua_pushnil(L: LuaState): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: LuaString): void;
    lua_pushvalue(L: LuaState, i: number): void;
    lua_rawget(L: LuaState, i: number): number;
    lua_rawgeti(L: LuaState, i: number, n: number): number;
    lua_rawlen(L: LuaState, i: number): number;
    lua_rawset(L: LuaState, i: number): void;
    lua_rawseti(L: LuaState, i: number, n: number): void;
    lua_remove(L: LuaState, i: number): void;
    lua_replace(L: LuaState, i: number): void;
    lua_resume(L: LuaState, from: LuaState | null, nargs: number): number;
    lua_setfield(L: LuaState, i: number, k: LuaString | string): void;
    lua_sethook(L: LuaState, f: ((L: LuaState, ar: unknown) => void) | null, mask: number, count: number): void;
    lua_setmetatable(L: LuaState, i: number): void;
    lua_settop(L: LuaState, i: number): void;
    lua_setupvalue(L: LuaState, funcindex: number, n: number): LuaString | null;
    lua_toboolean(L: LuaState, i: number): boolean;
    lua_tointeger(L: LuaState, i: number): number;
    lua_tonumber(L: LuaState, i: number): number;
    lua_tostring(L: LuaState, i: number): LuaString | null;
    lua_type(L: LuaState, i: number): number;
    lua_upvalueindex(i: number): number;
    lua_yield(L: LuaState, nresults: number): number;
  };
  export const lauxlib: {
    luaL_checklstring(L: LuaState, arg: number): LuaString;
    luaL_checknumber(L: LuaState, arg: number): number;
    luaL_checkstring(L: LuaState, arg: number): LuaString;
    luaL_newstate(): LuaState;
    luaL_loadbuffer(L: LuaState, buff: LuaString, size: number | null, name: LuaString): number;
    luaL_ref(L: LuaState, t: number): number;
    luaL_unref(L: LuaState, t: number, ref: number): void;
    luaL_requiref(L: LuaState, modname: LuaString, openf: JsFunction, glb: number): void;
    luaL_tolstring(L: LuaState, i: number): LuaString;
    luaL_where(L: LuaState, level: number): void;
  };
  export const lualib: {
    luaopen_base: JsFunction;
    luaopen_string: JsFunction;
    luaopen_table: JsFunction;
    luaopen_math: JsFunction;
    luaopen_debug: JsFunction;
  };
  export function to_luastring(s: string): LuaString;
  export function to_jsstring(s: LuaString): string;
}
