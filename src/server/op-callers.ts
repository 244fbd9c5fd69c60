// Which client of this node sent an op or a read, for what apply does on that client's behalf:
// the commands a script runs through redis.call reach this node's MONITOR connections (`[0 lua]
// "set" …`, as Redis) and the caller's client tracking (Redis tracks a script's declared keys once
// it runs a read-only command), and CLIENT TRACKING NOLOOP skips the invalidations of the caller's
// own writes. An op runs inside apply on every replica, after a round trip to the partition's
// leader when another node leads it: only the node that received it knows the caller, and it
// recognises its ops by their `now` and seed (a 32-bit random number drawn per op), which every
// replica's copy of the op carries unchanged, so nothing about the caller goes through the log.
import { KEYLESS_SCRIPT_RUNS } from "../commands/keyless-scripts.ts";
import type { OpCaller } from "../commands/session.ts";
import type { Op, ScriptCallSink } from "../commands/types.ts";
import type { Reply } from "../resp/reply.ts";
import { lower } from "../commands/util.ts";

/** Ops proposed but maybe not yet applied here (a follower applies after the leader answered). */
const REMEMBERED = 4096;
/** How long a reply waits at most for this node's own apply of its write (see appliedHere). */
const APPLY_WAIT_MS = 2000;

/** The client of this node behind an op: where its scripts report what they run, and whose writes it makes. */
export interface Caller {
  readonly scriptCalls: ScriptCallSink;
  /** The client's id (CLIENT ID) on this node. */
  readonly client: number;
}

export class OpCallers {
  private readonly pending = new Map<string, OpCaller>();
  private reader: OpCaller | undefined;
  /** The writes whose replies wait for this node's apply of them. */
  private readonly waiting = new Map<string, () => void>();

  /** The client behind `op`, about to be proposed. */
  proposing(op: Op, caller: OpCaller): void {
    if (this.pending.size >= REMEMBERED) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(opKey(op), caller);
  }

  /** Runs a read (EVAL_RO, FCALL_RO) with `caller` as the sender of what it runs on this node right away. */
  reading<T>(caller: OpCaller, read: () => T): T {
    this.reader = caller;
    try {
      return read();
    } finally {
      this.reader = undefined;
    }
  }

  /**
   * Proposes `op` (a write to a partition this node replicates) and answers once this node has
   * applied it too. In a cluster the partition's leader answers as soon as it applied the write,
   * and this node's replica applies it a moment later: only then do this node's tracking clients
   * learn of it, so a key they read after the reply would be invalidated by the very write the
   * read already saw. Not for a write that failed, and not past APPLY_WAIT_MS (should this node
   * leave the partition's group meanwhile).
   */
  async appliedHere(op: Op, propose: () => Promise<Reply>): Promise<Reply> {
    const key = opKey(op);
    let applied!: () => void;
    const done = new Promise<void>((resolve) => {
      applied = resolve;
    });
    this.waiting.set(key, applied);
    try {
      const reply = await propose();
      if (reply.t !== "error") {
        const timer = setTimeout(applied, APPLY_WAIT_MS);
        await done;
        clearTimeout(timer);
      }
      return reply;
    } finally {
      this.waiting.delete(key);
    }
  }

  /** The client behind `op` (undefined: the read in progress) when a client of this node sent it. */
  applying(op: Op | undefined): Caller | undefined {
    let caller = this.reader;
    if (op) {
      if (this.waiting.size === 0 && this.pending.size === 0) return undefined;
      const key = opKey(op);
      this.waiting.get(key)?.();
      if (this.pending.size === 0) return undefined;
      caller = this.pending.get(key);
      // Applied once per node: a copy applied again (a restart's replay) is not shown again. A
      // keyless script's run may send it on to another partition (src/cluster/keyless-script.ts),
      // whose apply is its run: that op's caller is kept (until REMEMBERED newer ones push it out).
      if (!sentOnMaybe(op)) this.pending.delete(key);
    }
    return (
      caller && {
        scriptCalls: (db, argv, declared, read) => caller.call(db, argv, declared, read),
        client: caller.client,
      }
    );
  }
}

function sentOnMaybe(op: Op): boolean {
  return op.cmds.length === 1 && KEYLESS_SCRIPT_RUNS.has(lower(op.cmds[0]![0]!));
}

/** An op's identity on every replica (see the top of this file). */
export function opKey(op: Op): string {
  return `${op.now}:${op.seed}`;
}
