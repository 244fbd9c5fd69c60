// Which client of this node sent the script an op or a read runs, so the commands the script runs
// through redis.call reach this node's MONITOR connections (`[0 lua] "set" …`, as Redis) and the
// caller's client tracking (Redis tracks a script's declared keys once it runs a read-only
// command). A writing script runs inside apply on every replica: only the node that received it
// knows the caller, and it recognises its ops by their `now` and seed (a 32-bit random number
// drawn per op), which every replica's copy of the op carries unchanged.
import type { ScriptCaller } from "../commands/session.ts";
import type { Op, ScriptCallSink } from "../commands/types.ts";

/** Ops proposed but maybe not yet applied here (a follower applies after the leader answered). */
const REMEMBERED = 4096;

export class ScriptCallers {
  private readonly pending = new Map<string, ScriptCaller>();
  private reader: ScriptCaller | undefined;

  /** The client behind `op`, a script about to be proposed. */
  proposing(op: Op, caller: ScriptCaller): void {
    if (this.pending.size >= REMEMBERED) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(opKey(op), caller);
  }

  /** Runs a read (EVAL_RO, FCALL_RO) with `caller` as the sender of what it runs on this node right away. */
  reading<T>(caller: ScriptCaller, read: () => T): T {
    this.reader = caller;
    try {
      return read();
    } finally {
      this.reader = undefined;
    }
  }

  /** KeyEventsHook.scriptCalls: the sink for `op` (undefined: the read in progress) when a client of this node sent it. */
  scriptCalls(op: Op | undefined): ScriptCallSink | undefined {
    let caller = this.reader;
    if (op) {
      if (this.pending.size === 0) return undefined;
      const key = opKey(op);
      caller = this.pending.get(key);
      // Applied once per node: a copy applied again (a restart's replay) is not shown again.
      this.pending.delete(key);
    }
    return caller && ((db, argv, declared, read) => caller!.call(db, argv, declared, read));
  }
}

function opKey(op: Op): string {
  return `${op.now}:${op.seed}`;
}
