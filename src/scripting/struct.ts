// Redis's `struct` library (deps/lua/src/lua_struct.c in Redis: Roberto Ierusalimschy's struct.c)
// over fengari's stack: struct.pack, struct.unpack and struct.size, with the sizes and alignment of
// the x86-64 Linux build Redis ships (little endian native, int 4, long and size_t 8, float 4,
// double 8, maximum alignment 8) and its integer arithmetic: a 64-bit C long, so integers of more
// than 8 bytes keep only the low 8 and sign-extend as the C shifts do there.
import * as fengari from "fengari";
import type { LuaState } from "fengari";
import { pushNumber } from "./lua-number.ts";

const { lua, lauxlib, to_jsstring } = fengari;

const SIZES: Record<string, number> = { b: 1, B: 1, h: 2, H: 2, l: 8, L: 8, T: 8, f: 4, d: 8, x: 1 };
const INT_SIZE = 4;
const MAX_INT_SIZE = 32;
const MAX_ALIGN = 8;
const U64 = (1n << 64n) - 1n;

interface Format {
  readonly text: string;
  at: number;
  little: boolean;
  align: number;
}

/** luaL_error: the message after the calling script's position (`user_script:1: `). */
function fail(L: LuaState, msg: string): never {
  lauxlib.luaL_where(L, 1);
  const where = to_jsstring(lua.lua_tostring(L, -1)!);
  lua.lua_pop(L, 1);
  lua.lua_pushliteral(L, where + msg);
  return lua.lua_error(L);
}

function argError(L: LuaState, arg: number, fn: string, msg: string): never {
  return fail(L, `bad argument #${arg} to '${fn}' (${msg})`);
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

/** The number after an option, or `dflt` when none follows. */
function readNumber(L: LuaState, f: Format, dflt: number): number {
  if (!isDigit(f.text[f.at])) return dflt;
  let n = 0;
  while (isDigit(f.text[f.at])) {
    const d = f.text.charCodeAt(f.at++) - 48;
    if (n > 0x7fffffff / 10 || n * 10 > 0x7fffffff - d) fail(L, "integral size overflow");
    n = n * 10 + d;
  }
  return n;
}

/** The size of option `opt` (0 for the options that take no room). */
function optionSize(L: LuaState, opt: string, f: Format): number {
  if (opt === "c") return readNumber(L, f, 1);
  if (opt === "i" || opt === "I") {
    const n = readNumber(L, f, INT_SIZE);
    if (n > MAX_INT_SIZE) fail(L, `integral size ${n} is larger than limit of ${MAX_INT_SIZE}`);
    return n;
  }
  return SIZES[opt] ?? 0;
}

/** Padding before an item of `size` at offset `len` (struct.c's gettoalign, formula kept for odd sizes). */
function padding(len: number, f: Format, opt: string, size: number): number {
  if (size === 0 || opt === "c") return 0;
  const s = Math.min(size, f.align);
  return (s - (len & (s - 1))) & (s - 1);
}

/** Endianness and alignment options; anything else is an invalid option. */
function control(L: LuaState, opt: string, f: Format, fn: string): void {
  if (opt === " ") return;
  if (opt === ">" || opt === "<") {
    f.little = opt === "<";
    return;
  }
  if (opt === "!") {
    const a = readNumber(L, f, MAX_ALIGN);
    if (a <= 0 || (a & (a - 1)) !== 0) fail(L, `alignment ${a} is not a power of 2`);
    f.align = a;
    return;
  }
  argError(L, 1, fn, `invalid format option '${opt}'`);
}

const format = (L: LuaState): Format => ({
  text: to_jsstring(lauxlib.luaL_checkstring(L, 1)),
  at: 0,
  little: true,
  align: 1,
});

/** C's conversion of a Lua number to the 64-bit unsigned value struct.c writes. */
function toU64(n: number): bigint {
  if (!Number.isFinite(n)) return 1n << 63n;
  return BigInt.asUintN(64, BigInt(Math.trunc(n)));
}

function intBytes(value: bigint, size: number, little: boolean): number[] {
  const out: number[] = new Array(size);
  let v = value;
  for (let i = 0; i < size; i++) {
    out[little ? i : size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function floatBytes(n: number, size: number, little: boolean): number[] {
  const view = new DataView(new ArrayBuffer(size));
  if (size === 4) view.setFloat32(0, n, little);
  else view.setFloat64(0, n, little);
  return [...new Uint8Array(view.buffer)];
}

function pack(L: LuaState): number {
  const f = format(L);
  const out: number[] = [];
  let arg = 2;
  while (f.at < f.text.length) {
    const opt = f.text[f.at++]!;
    let size = optionSize(L, opt, f);
    for (let pad = padding(out.length, f, opt, size); pad > 0; pad--) out.push(0);
    switch (opt) {
      case "b":
      case "B":
      case "h":
      case "H":
      case "l":
      case "L":
      case "T":
      case "i":
      case "I":
        out.push(...intBytes(toU64(lauxlib.luaL_checknumber(L, arg++)), size, f.little));
        break;
      case "x":
        out.push(0);
        break;
      case "f":
      case "d":
        out.push(...floatBytes(lauxlib.luaL_checknumber(L, arg++), size, f.little));
        break;
      case "c":
      case "s": {
        const s = lauxlib.luaL_checklstring(L, arg++);
        if (size === 0) size = s.length;
        // struct.c checks after moving to the next argument, so it names that one.
        if (s.length < size) argError(L, arg, "pack", "string too short");
        for (let i = 0; i < size; i++) out.push(s[i]!);
        if (opt === "s") out.push(0);
        break;
      }
      default:
        control(L, opt, f, "pack");
    }
  }
  lua.lua_pushstring(L, Uint8Array.from(out));
  return 1;
}

/** The integer of `size` bytes at `pos`, as struct.c's 64-bit getinteger computes it. */
function readInt(data: Uint8Array, pos: number, size: number, little: boolean, signed: boolean): number {
  let v = 0n;
  for (let i = 0; i < size; i++) v = ((v << 8n) | BigInt(data[pos + (little ? size - 1 - i : i)]!)) & U64;
  if (!signed) return Number(v);
  // x86-64 takes a 64-bit shift count modulo 64.
  const mask = (U64 << BigInt((size * 8 - 1) & 63)) & U64;
  if (v & mask) v |= mask;
  return Number(BigInt.asIntN(64, v));
}

function unpack(L: LuaState): number {
  const f = format(L);
  const data = lauxlib.luaL_checklstring(L, 2);
  const start = lua.lua_isnoneornil(L, 3) ? 1 : Math.trunc(lauxlib.luaL_checknumber(L, 3));
  if (!(start > 0)) argError(L, 3, "unpack", "offset must be 1 or greater");
  let pos = start - 1;
  const results: (number | Uint8Array)[] = [];
  const tooShort = (size: number) => {
    if (size > data.length || pos > data.length - size) argError(L, 2, "unpack", "data string too short");
  };
  while (f.at < f.text.length) {
    const opt = f.text[f.at++]!;
    let size = optionSize(L, opt, f);
    pos += padding(pos, f, opt, size);
    tooShort(size);
    switch (opt) {
      case "b":
      case "B":
      case "h":
      case "H":
      case "l":
      case "L":
      case "T":
      case "i":
      case "I":
        results.push(readInt(data, pos, size, f.little, opt === opt.toLowerCase()));
        break;
      case "x":
        break;
      case "f":
      case "d": {
        const view = new DataView(data.buffer, data.byteOffset + pos, size);
        results.push(size === 4 ? view.getFloat32(0, f.little) : view.getFloat64(0, f.little));
        break;
      }
      case "c": {
        if (size === 0) {
          const prev = results.at(-1);
          const n = typeof prev === "number" ? prev : prev ? Number(to_jsstring(prev)) : Number.NaN;
          if (Number.isNaN(n)) fail(L, "format 'c0' needs a previous size");
          results.pop();
          size = Math.trunc(n);
          tooShort(size);
        }
        results.push(data.subarray(pos, pos + size));
        break;
      }
      case "s": {
        const end = data.indexOf(0, pos);
        if (end < 0) fail(L, "unfinished string in data");
        results.push(data.subarray(pos, end));
        size = end - pos + 1;
        break;
      }
      default:
        control(L, opt, f, "unpack");
    }
    pos += size;
  }
  if (!lua.lua_checkstack(L, results.length + 1)) fail(L, "stack overflow (too many results)");
  for (const r of results) {
    if (typeof r === "number") pushNumber(L, r);
    else lua.lua_pushstring(L, r);
  }
  pushNumber(L, pos + 1);
  return results.length + 1;
}

function size(L: LuaState): number {
  const f = format(L);
  let pos = 0;
  while (f.at < f.text.length) {
    const opt = f.text[f.at++]!;
    const n = optionSize(L, opt, f);
    pos += padding(pos, f, opt, n);
    if (opt === "s") argError(L, 1, "size", "option 's' has no fixed size");
    if (opt === "c" && n === 0) argError(L, 1, "size", "option 'c0' has no fixed size");
    if (!/[A-Za-z0-9]/.test(opt)) control(L, opt, f, "size");
    pos += n;
  }
  pushNumber(L, pos);
  return 1;
}

export const STRUCT: Record<string, fengari.JsFunction> = { pack, unpack, size };
