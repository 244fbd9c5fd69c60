// BusyScripts (src/commands/busy-script.ts) on a virtual clock: a trial past busy-reply-threshold
// makes other clients' commands -BUSY, a KILL before its first write ends it, and once it has
// stopped at a write (proposed, not yet applied) it is UNKILLABLE until the proposal settles.
import { describe, expect, test } from "bun:test";
import { BusyScripts } from "../../src/commands/busy-script.ts";
import { err, OK, type Reply } from "../../src/resp/reply.ts";
import { PAUSED, type SlicedRun, STOPPED } from "../../src/scripting/lua-vm.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const PING = [utf8("ping")];

function harness() {
  let now = 0;
  const timers: (() => void)[] = [];
  const busy = new BusyScripts({
    now: () => now,
    after: (_ms, fn) => {
      timers.push(fn);
      return () => timers.splice(timers.indexOf(fn), 1);
    },
    threshold: () => 100,
  });
  /** Advances the clock and runs the slice due. */
  const turn = (ms: number) => {
    now += ms;
    timers.shift()?.();
  };
  return { busy, turn };
}

/** A run whose steps answer from `steps` (the last one repeats). */
function fakeRun(steps: (Reply | typeof PAUSED | typeof STOPPED)[]): SlicedRun {
  let i = 0;
  return {
    step: () => steps[Math.min(i++, steps.length - 1)]!,
    kill: () => err("ERR Script killed by user with SCRIPT KILL..."),
  };
}

describe("BusyScripts", () => {
  test("a script that ends in its first slice answers at once and never holds the node", () => {
    const { busy } = harness();
    const reply = busy.run({}, "eval", "f", [], fakeRun([OK]), () => Promise.resolve(OK));
    expect(reply).toEqual(OK);
    expect(busy.gate({}, PING)).toBeUndefined();
    expect(busy.kill("eval")).toEqual(err("NOTBUSY No scripts in execution right now."));
  });

  test("waits, then -BUSY past the threshold; the wrong KILL names the right one; SCRIPT KILL ends it", async () => {
    const { busy, turn } = harness();
    const owner = {};
    const reply = busy.run(owner, "eval", "f", [], fakeRun([PAUSED]), () => Promise.resolve(OK));
    const waiting = busy.gate({}, PING);
    expect(waiting).toBeInstanceOf(Promise);
    expect(busy.gate(owner, PING)).toBeUndefined();
    turn(50);
    turn(60);
    await waiting;
    const busyEval = err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
    expect(busy.gate({}, PING)).toEqual(busyEval);
    expect(busy.gate({}, [utf8("SCRIPT"), utf8("KILL")])).toBeUndefined();
    expect(busy.kill("function")).toEqual(busyEval);
    expect(busy.kill("eval")).toEqual(OK);
    expect(await reply).toEqual(err("ERR Script killed by user with SCRIPT KILL..."));
    expect(busy.gate({}, PING)).toBeUndefined();
  });

  test("stopped at a write after timing out: UNKILLABLE and -BUSY until the proposal is applied", async () => {
    const { busy, turn } = harness();
    let applied: (r: Reply) => void = () => {};
    const proposal = new Promise<Reply>((resolve) => {
      applied = resolve;
    });
    const reply = busy.run({}, "function", "spin", [], fakeRun([PAUSED, PAUSED, STOPPED]), () => proposal);
    turn(150);
    turn(10);
    expect(busy.kill("function")).toEqual(
      err(
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait " +
          "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
      ),
    );
    expect(busy.gate({}, PING)).toEqual(
      err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."),
    );
    applied({ t: "int", v: 1 });
    expect(await reply).toEqual({ t: "int", v: 1 });
    expect(busy.gate({}, PING)).toBeUndefined();
  });
});
