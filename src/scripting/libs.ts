// The libraries Redis gives scripts besides Lua's own: cjson, cmsgpack, bit (LuaBitOp) and struct
// (struct.ts), written over fengari's stack. A faithful subset: cjson.null is nil, numbers print as
// %.14g (docs/API.md, "Scripting").
import * as fengari from "fengari";
import type { LuaState } from "fengari";
import { pushNumber } from "./lua-number.ts";
import { STRUCT } from "./struct.ts";

const { lua, to_luastring: ls, to_jsstring } = fengari;

type Lib = Record<string, fengari.JsFunction>;

/** Adds cjson, cmsgpack, bit and struct to the globals table at index G. */
export function openLibraries(L: LuaState, G: number): void {
  const install = (name: string, lib: Lib) => {
    lua.lua_createtable(L, 0, Object.keys(lib).length);
    for (const [k, f] of Object.entries(lib)) {
      lua.lua_pushcfunction(L, f);
      lua.lua_setfield(L, -2, k);
    }
    lua.lua_setfield(L, G, name);
  };
  install("cjson", CJSON);
  install("cmsgpack", CMSGPACK);
  install("bit", BIT);
  install("struct", STRUCT);
}

function fail(L: LuaState, msg: string): never {
  lua.lua_pushliteral(L, msg);
  return lua.lua_error(L);
}

/** Lua 5.1's tostring of a number (%.14g), which cjson uses. */
function number14(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "nan" : n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const s = n.toPrecision(14);
  if (!s.includes("e")) return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  const [m, e] = s.split("e") as [string, string];
  const mant = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m;
  const exp = Number(e);
  return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** A table's length when its keys are exactly 1..n (an array to cjson and cmsgpack), else -1. */
function arrayLength(L: LuaState, at: number): number {
  let count = 0;
  let max = 0;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, at) !== 0) {
    lua.lua_pop(L, 1);
    if (!lua.lua_isinteger(L, -1) && !(lua.lua_type(L, -1) === lua.LUA_TNUMBER && lua.lua_tonumber(L, -1) % 1 === 0)) {
      lua.lua_pop(L, 1);
      return -1;
    }
    const k = lua.lua_tonumber(L, -1);
    if (k < 1) {
      lua.lua_pop(L, 1);
      return -1;
    }
    count++;
    max = Math.max(max, k);
  }
  return count === max ? max : -1;
}

/** lua-cjson's settings (encode_max_depth, …): the VM's, kept across scripts as in Redis. */
const cjsonSettings = { encodeMaxDepth: 1000, decodeMaxDepth: 1000, invalidNumbers: false };

function jsonEncode(L: LuaState, at: number, depth: number): string {
  if (!lua.lua_checkstack(L, 4)) fail(L, "Cannot serialise, excessive nesting");
  if (depth >= cjsonSettings.encodeMaxDepth) {
    fail(L, `Cannot serialise, excessive nesting (${cjsonSettings.encodeMaxDepth + 1})`);
  }
  switch (lua.lua_type(L, at)) {
    case lua.LUA_TNIL:
      return "null";
    case lua.LUA_TBOOLEAN:
      return lua.lua_toboolean(L, at) ? "true" : "false";
    case lua.LUA_TNUMBER: {
      const n = lua.lua_tonumber(L, at);
      if (!Number.isFinite(n)) {
        if (!cjsonSettings.invalidNumbers) fail(L, "Cannot serialise number: must not be NaN or Inf");
        return Number.isNaN(n) ? "nan" : n > 0 ? "inf" : "-inf";
      }
      return number14(n);
    }
    case lua.LUA_TSTRING:
      return JSON.stringify(to_jsstring(lua.lua_tostring(L, at)!)).replace(/\//g, "\\/");
    case lua.LUA_TTABLE: {
      const n = arrayLength(L, at);
      const parts: string[] = [];
      if (n >= 0) {
        for (let i = 1; i <= n; i++) {
          lua.lua_rawgeti(L, at, i);
          parts.push(jsonEncode(L, lua.lua_gettop(L), depth + 1));
          lua.lua_pop(L, 1);
        }
        return n === 0 ? "{}" : `[${parts.join(",")}]`;
      }
      lua.lua_pushnil(L);
      while (lua.lua_next(L, at) !== 0) {
        const kt = lua.lua_type(L, -2);
        if (kt !== lua.LUA_TSTRING && kt !== lua.LUA_TNUMBER)
          fail(L, "Cannot serialise table: table key must be a number or string");
        const key = kt === lua.LUA_TNUMBER ? number14(lua.lua_tonumber(L, -2)) : to_jsstring(lua.lua_tostring(L, -2)!);
        parts.push(`${JSON.stringify(key)}:${jsonEncode(L, lua.lua_gettop(L), depth + 1)}`);
        lua.lua_pop(L, 1);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return fail(L, `Cannot serialise ${typeName(L, at)}: type not supported`);
  }
}

function typeName(L: LuaState, at: number): string {
  const t = lua.lua_type(L, at);
  return t === lua.LUA_TFUNCTION ? "function" : t === lua.LUA_TTABLE ? "table" : "userdata";
}

function pushJson(L: LuaState, v: unknown): void {
  if (!lua.lua_checkstack(L, 4)) fail(L, "Found too many nested data structures");
  if (v === null || v === undefined) lua.lua_pushnil(L);
  else if (typeof v === "boolean") lua.lua_pushboolean(L, v);
  else if (typeof v === "number") pushNumber(L, v);
  else if (typeof v === "string") lua.lua_pushstring(L, ls(v));
  else if (Array.isArray(v)) {
    lua.lua_createtable(L, v.length, 0);
    v.forEach((x, i) => {
      pushJson(L, x);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else {
    const entries = Object.entries(v as Record<string, unknown>);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, x] of entries) {
      lua.lua_pushstring(L, ls(k));
      pushJson(L, x);
      lua.lua_rawset(L, -3);
    }
  }
}

const CJSON: Lib = {
  encode: (L) => {
    if (lua.lua_gettop(L) !== 1) fail(L, "bad argument #1 to 'encode' (expected 1 argument)");
    lua.lua_pushstring(L, ls(jsonEncode(L, 1, 0)));
    return 1;
  },
  decode: (L) => {
    if (lua.lua_type(L, 1) !== lua.LUA_TSTRING) fail(L, "bad argument #1 to 'decode' (string expected)");
    let v: unknown;
    try {
      v = JSON.parse(to_jsstring(lua.lua_tostring(L, 1)!));
    } catch (e) {
      return fail(L, `Expected value but found invalid token: ${(e as Error).message}`);
    }
    if (jsonDepth(v) > cjsonSettings.decodeMaxDepth) {
      fail(L, `Found too many nested data structures (${cjsonSettings.decodeMaxDepth + 1})`);
    }
    pushJson(L, v);
    return 1;
  },
  encode_keep_buffer: () => 0,
  encode_max_depth: (L) => setting(L, "encodeMaxDepth"),
  decode_max_depth: (L) => setting(L, "decodeMaxDepth"),
  encode_invalid_numbers: (L) => {
    if (lua.lua_gettop(L) > 0) cjsonSettings.invalidNumbers = lua.lua_toboolean(L, 1);
    lua.lua_pushboolean(L, cjsonSettings.invalidNumbers);
    return 1;
  },
};

function setting(L: LuaState, name: "encodeMaxDepth" | "decodeMaxDepth"): number {
  if (lua.lua_gettop(L) > 0) {
    const n = lua.lua_tointeger(L, 1);
    if (!(n >= 1)) fail(L, "bad argument #1 (expected integer between 1 and 2147483647)");
    cjsonSettings[name] = n;
  }
  lua.lua_pushinteger(L, cjsonSettings[name]);
  return 1;
}

function jsonDepth(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  let d = 0;
  for (const x of Object.values(v as object)) d = Math.max(d, jsonDepth(x));
  return d + 1;
}

// MessagePack as lua-cmsgpack writes it: the smallest integer form, doubles as float 64.
function packValue(L: LuaState, at: number, out: number[], depth: number): void {
  /** A type byte and an unsigned big-endian integer of `bytes` bytes. */
  const typed = (code: number, n: number, bytes: number) => {
    out.push(code);
    for (let i = bytes - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  };
  switch (lua.lua_type(L, at)) {
    case lua.LUA_TBOOLEAN:
      out.push(lua.lua_toboolean(L, at) ? 0xc3 : 0xc2);
      return;
    case lua.LUA_TNUMBER: {
      const n = lua.lua_tonumber(L, at);
      if (Number.isInteger(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER) {
        if (n >= 0) {
          if (n < 128) out.push(n);
          else if (n < 256) out.push(0xcc, n);
          else if (n < 65536) out.push(0xcd, ...[n >> 8, n & 0xff]);
          else typed(n < 2 ** 32 ? 0xce : 0xcf, n, n < 2 ** 32 ? 4 : 8);
        } else if (n >= -32) out.push(n & 0xff);
        else if (n >= -128) out.push(0xd0, n & 0xff);
        else if (n >= -32768) out.push(0xd1, (n >> 8) & 0xff, n & 0xff);
        else if (n >= -(2 ** 31)) typed(0xd2, n >>> 0, 4);
        else typed(0xd3, Number(BigInt.asUintN(64, BigInt(n))), 8);
        return;
      }
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, n);
      out.push(0xcb, ...new Uint8Array(b.buffer));
      return;
    }
    case lua.LUA_TSTRING: {
      const s = lua.lua_tostring(L, at)!;
      if (s.length < 32) out.push(0xa0 | s.length);
      else if (s.length < 256) out.push(0xd9, s.length);
      else if (s.length < 65536) out.push(0xda, s.length >> 8, s.length & 0xff);
      else typed(0xdb, s.length, 4);
      for (const b of s) out.push(b);
      return;
    }
    case lua.LUA_TTABLE: {
      if (depth > 16 || !lua.lua_checkstack(L, 4)) {
        out.push(0xc0);
        return;
      }
      const n = arrayLength(L, at);
      if (n > 0) {
        if (n < 16) out.push(0x90 | n);
        else if (n < 65536) out.push(0xdc, n >> 8, n & 0xff);
        else typed(0xdd, n, 4);
        for (let i = 1; i <= n; i++) {
          lua.lua_rawgeti(L, at, i);
          packValue(L, lua.lua_gettop(L), out, depth + 1);
          lua.lua_pop(L, 1);
        }
        return;
      }
      let count = 0;
      lua.lua_pushnil(L);
      const body: number[] = [];
      while (lua.lua_next(L, at) !== 0) {
        packValue(L, lua.lua_gettop(L) - 1, body, depth + 1);
        packValue(L, lua.lua_gettop(L), body, depth + 1);
        lua.lua_pop(L, 1);
        count++;
      }
      if (count < 16) out.push(0x80 | count);
      else if (count < 65536) out.push(0xde, count >> 8, count & 0xff);
      else typed(0xdf, count, 4);
      for (const b of body) out.push(b);
      return;
    }
    default:
      out.push(0xc0);
  }
}

/** Pushes the value at `pos` and returns the position after it. */
function unpackValue(L: LuaState, b: Uint8Array, pos: number): number {
  const need = (n: number) => {
    if (pos + n > b.length) fail(L, "Missing bytes in input.");
  };
  need(1);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const t = b[pos++]!;
  const str = (len: number) => {
    need(len);
    lua.lua_pushstring(L, b.slice(pos, pos + len));
    return pos + len;
  };
  if (!lua.lua_checkstack(L, 4)) fail(L, "MessagePack data nested too deeply.");
  const arr = (n: number) => {
    lua.lua_createtable(L, n, 0);
    for (let i = 1; i <= n; i++) {
      pos = unpackValue(L, b, pos);
      lua.lua_rawseti(L, -2, i);
    }
    return pos;
  };
  const map = (n: number) => {
    lua.lua_createtable(L, 0, n);
    for (let i = 0; i < n; i++) {
      pos = unpackValue(L, b, pos);
      pos = unpackValue(L, b, pos);
      lua.lua_rawset(L, -3);
    }
    return pos;
  };
  const num = (n: number) => pushNumber(L, n);
  if (t < 0x80 || t >= 0xe0) {
    num(t < 0x80 ? t : t - 256);
    return pos;
  }
  if ((t & 0xe0) === 0xa0) return str(t & 0x1f);
  if ((t & 0xf0) === 0x90) return arr(t & 0x0f);
  if ((t & 0xf0) === 0x80) return map(t & 0x0f);
  switch (t) {
    case 0xc0:
      lua.lua_pushnil(L);
      return pos;
    case 0xc2:
    case 0xc3:
      lua.lua_pushboolean(L, t === 0xc3);
      return pos;
    case 0xca:
      need(4);
      lua.lua_pushnumber(L, view.getFloat32(pos));
      return pos + 4;
    case 0xcb:
      need(8);
      lua.lua_pushnumber(L, view.getFloat64(pos));
      return pos + 8;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      // 0xcc..0xcf: uint 8..64, 0xd0..0xd3: int 8..64.
      const n = 1 << (t & 3);
      need(n);
      const v =
        n === 1
          ? t === 0xcc
            ? view.getUint8(pos)
            : view.getInt8(pos)
          : n === 2
            ? t === 0xcd
              ? view.getUint16(pos)
              : view.getInt16(pos)
            : n === 4
              ? t === 0xce
                ? view.getUint32(pos)
                : view.getInt32(pos)
              : Number(t === 0xcf ? view.getBigUint64(pos) : view.getBigInt64(pos));
      num(v);
      return pos + n;
    }
    case 0xd9:
    case 0xc4:
      need(1);
      return str(b[pos++]!);
    case 0xda:
    case 0xc5:
      need(2);
      pos += 2;
      return str(view.getUint16(pos - 2));
    case 0xdb:
    case 0xc6:
      need(4);
      pos += 4;
      return str(view.getUint32(pos - 4));
    case 0xdc:
      need(2);
      pos += 2;
      return arr(view.getUint16(pos - 2));
    case 0xdd:
      need(4);
      pos += 4;
      return arr(view.getUint32(pos - 4));
    case 0xde:
      need(2);
      pos += 2;
      return map(view.getUint16(pos - 2));
    case 0xdf:
      need(4);
      pos += 4;
      return map(view.getUint32(pos - 4));
    default:
      return fail(L, `Bad data format in input.`);
  }
}

const CMSGPACK: Lib = {
  pack: (L) => {
    const n = lua.lua_gettop(L);
    if (n === 0) fail(L, "MessagePack pack needs input.");
    const out: number[] = [];
    for (let i = 1; i <= n; i++) packValue(L, i, out, 0);
    lua.lua_pushstring(L, Uint8Array.from(out));
    return 1;
  },
  unpack: (L) => unpackMany(L, 0, 0, false),
  unpack_one: (L) => unpackMany(L, 1, lua.lua_gettop(L) >= 2 ? lua.lua_tointeger(L, 2) : 0, true),
  unpack_limit: (L) =>
    unpackMany(L, lua.lua_tointeger(L, 2), lua.lua_gettop(L) >= 3 ? lua.lua_tointeger(L, 3) : 0, true),
};

/**
 * Decodes up to `limit` values (0: all) from byte `offset`; with `withOffset` the first result is
 * where the next value starts, or -1 at the end (lua-cmsgpack's unpack_one/unpack_limit).
 */
function unpackMany(L: LuaState, limit: number, offset: number, withOffset: boolean): number {
  if (lua.lua_type(L, 1) !== lua.LUA_TSTRING) fail(L, "MessagePack unpack needs a string.");
  const b = lua.lua_tostring(L, 1)!;
  if (offset < 0 || offset > b.length) fail(L, "Start offset greater than input length.");
  if (withOffset) lua.lua_pushinteger(L, -1);
  const offsetAt = lua.lua_gettop(L);
  let pos = offset;
  let count = 0;
  while (pos < b.length && (limit === 0 || count < limit)) {
    pos = unpackValue(L, b, pos);
    count++;
  }
  if (!withOffset) return count;
  lua.lua_pushinteger(L, pos < b.length ? pos : -1);
  lua.lua_replace(L, offsetAt);
  return count + 1;
}

// LuaBitOp: 32-bit operations whose results are signed, as bit.tobit normalises.
const tobit = (L: LuaState, i: number) => {
  if (lua.lua_type(L, i) !== lua.LUA_TNUMBER) fail(L, `bad argument #${i} (number expected)`);
  const n = lua.lua_tonumber(L, i);
  return Number(BigInt.asIntN(32, BigInt(Math.trunc(n) % 2 ** 32)));
};
const ret = (L: LuaState, v: number) => {
  lua.lua_pushinteger(L, v | 0);
  return 1;
};
const fold = (op: (a: number, b: number) => number): fengari.JsFunction => {
  return (L) => {
    let v = tobit(L, 1);
    for (let i = 2; i <= lua.lua_gettop(L); i++) v = op(v, tobit(L, i));
    return ret(L, v);
  };
};

const BIT: Lib = {
  tobit: (L) => ret(L, tobit(L, 1)),
  bnot: (L) => ret(L, ~tobit(L, 1)),
  band: fold((a, b) => a & b),
  bor: fold((a, b) => a | b),
  bxor: fold((a, b) => a ^ b),
  lshift: (L) => ret(L, tobit(L, 1) << (tobit(L, 2) & 31)),
  rshift: (L) => ret(L, tobit(L, 1) >>> (tobit(L, 2) & 31)),
  arshift: (L) => ret(L, tobit(L, 1) >> (tobit(L, 2) & 31)),
  rol: (L) => {
    const [x, n] = [tobit(L, 1), tobit(L, 2) & 31];
    return ret(L, (x << n) | (x >>> (32 - n)));
  },
  ror: (L) => {
    const [x, n] = [tobit(L, 1), tobit(L, 2) & 31];
    return ret(L, (x >>> n) | (x << (32 - n)));
  },
  bswap: (L) => {
    const x = tobit(L, 1);
    return ret(L, ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24));
  },
  tohex: (L) => {
    const x = tobit(L, 1);
    let n = lua.lua_gettop(L) >= 2 ? tobit(L, 2) : 8;
    const upper = n < 0;
    n = Math.min(Math.abs(n), 8);
    let s = (x >>> 0)
      .toString(16)
      .padStart(8, "0")
      .slice(8 - n);
    if (upper) s = s.toUpperCase();
    lua.lua_pushliteral(L, s);
    return 1;
  },
};
