// How a JavaScript number enters the VM: fengari's integers are 32-bit, so a whole number outside
// that range, like any fraction, is pushed as a float (Lua 5.1, Redis's, has only doubles).
import * as fengari from "fengari";
import type { LuaState } from "fengari";

const { lua } = fengari;

export function pushNumber(L: LuaState, n: number): void {
  if (Number.isInteger(n) && n >= -2147483648 && n <= 2147483647) lua.lua_pushinteger(L, n);
  else lua.lua_pushnumber(L, n);
}
