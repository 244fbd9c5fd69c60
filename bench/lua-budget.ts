// How long the scripting instruction budget (src/scripting/lua-vm.ts, INSTRUCTION_BUDGET) holds the
// event loop: three runaway scripts run through the VM until the budget ends them, wall time each.
// A script that may write runs this long inside apply on every replica of its partition
// (docs/design/scripting.md); compare with the Raft election timeout (0.55-1 s).
//   npx bun bench/lua-budget.ts
import { LuaVm, type ScriptHost } from "../src/scripting/lua-vm.ts";

const vm = new LuaVm();
const host: ScriptHost = { resp3: false, random: () => 0.5, call: () => ({ t: "simple", v: "PONG" }) };
const RUNAWAY = [
  "while true do end",
  "while true do redis.call('ping') end",
  "local t = {} for i = 1, 1e9 do t[i % 100] = i end",
];
for (const src of RUNAWAY) {
  const loaded = vm.load(new TextEncoder().encode(src));
  if ("error" in loaded) throw new Error(`${src}: ${JSON.stringify(loaded.error)}`);
  const t0 = performance.now();
  const reply = vm.runScript(loaded.sha, [], [], host);
  const ms = performance.now() - t0;
  if (reply.t !== "error" || !reply.v.includes("instruction budget"))
    throw new Error(`${src}: not ended by the budget`);
  console.log(`${ms.toFixed(0).padStart(6)} ms  ${src}`);
}
