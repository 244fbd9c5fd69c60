// A node's long-running script, as Redis's busy script: a script is first run as a trial on the
// node that received it, on its own copy of the data and outside the log, in slices so the event
// loop turns between them. It stops at its first command that may write (the caller then proposes
// it, and apply runs it from the start on every replica: docs/design/scripting.md); a script that
// never writes ends in the trial, and that is its reply. While a trial runs, this node's other
// clients wait, and past `busy-reply-threshold` get -BUSY; SCRIPT KILL / FUNCTION KILL end it.
import { bulk, err, map, OK, type Reply } from "../resp/reply.ts";
import { PAUSED, type SlicedRun, STOPPED } from "../scripting/lua-vm.ts";
import { ascii, lower, str } from "./util.ts";

/** Lua instructions per slice: a few milliseconds of fengari, so heartbeats and clients keep their turns. */
const SLICE = 20_000;

const BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/** -BUSY naming the KILL that ends a script of `kind`. */
const busy = (kind: ScriptKind): Reply => err(kind === "eval" ? BUSY_EVAL : BUSY_FUNCTION);
const NOTBUSY = err("NOTBUSY No scripts in execution right now.");
const UNKILLABLE = err(
  "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait " +
    "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
);

export type ScriptKind = "eval" | "function";

/** What a node needs to run trials: its clock, a timer, and the live busy-reply-threshold. */
export interface BusyClock {
  now(): number;
  after(ms: number, fn: () => void): () => void;
  /** busy-reply-threshold (alias lua-time-limit), in milliseconds. */
  threshold(): number;
}

interface Running {
  readonly owner: object;
  readonly kind: ScriptKind;
  readonly argv: readonly Uint8Array[];
  readonly name: string;
  readonly since: number;
  /** Stopped at a write: proposed, and applied without slices; no kill can end it now. */
  wrote: boolean;
  /** Past the threshold: other clients get -BUSY. */
  timedOut: boolean;
  /** Ends the run with SCRIPT KILL's reply; undefined once it wrote. */
  kill: (() => void) | undefined;
}

/** The node's one script in progress and the clients waiting behind it. */
export class BusyScripts {
  private running: Running | undefined;
  private waiters: (() => void)[] = [];

  constructor(private readonly clock: BusyClock) {}

  /**
   * Runs a trial for `owner`'s script: its reply once it ended (at once when it ends within its
   * first slice, as nearly all do), or STOPPED at its first write. `propose` then gets the run's
   * place: the script still counts as running (unkillable) until the promise it returns settles.
   */
  run(
    owner: object,
    kind: ScriptKind,
    name: string,
    argv: readonly Uint8Array[],
    run: SlicedRun,
    propose: () => Promise<Reply>,
  ): Reply | Promise<Reply> {
    const first = run.step(SLICE);
    if (first === STOPPED) return this.proposed(undefined, propose);
    if (first !== PAUSED) return first;
    const r: Running = {
      owner,
      kind,
      argv,
      name,
      since: this.clock.now(),
      wrote: false,
      timedOut: false,
      kill: undefined,
    };
    this.running = r;
    return new Promise<Reply>((resolve) => {
      let cancel = () => {};
      const end = (reply: Reply) => {
        cancel();
        this.finish(r);
        resolve(reply);
      };
      r.kill = () => end(run.kill());
      const turn = () => {
        let out: ReturnType<SlicedRun["step"]>;
        try {
          out = run.step(SLICE);
        } catch (e) {
          // A timer callback's throw would leave the node busy for good.
          end(err(`ERR Error running script ${name}: ${(e as Error).message}`));
          return;
        }
        if (out === PAUSED) {
          if (!r.timedOut && this.clock.now() - r.since >= this.clock.threshold()) {
            r.timedOut = true;
            this.wake();
          }
          cancel = this.clock.after(0, turn);
        } else if (out === STOPPED) {
          r.kill = undefined;
          const proposed = this.proposed(r, propose);
          resolve(proposed);
        } else end(out);
      };
      cancel = this.clock.after(0, turn);
    });
  }

  /** A trial stopped at a write: proposed now, and busy (unkillable) until applied. */
  private proposed(r: Running | undefined, propose: () => Promise<Reply>): Promise<Reply> {
    if (r) r.wrote = true;
    let proposal: Promise<Reply>;
    try {
      proposal = propose();
    } catch (e) {
      proposal = Promise.resolve(err(`ERR write failed: ${(e as Error).message}`));
    }
    return proposal.finally(() => {
      if (r) this.finish(r);
    });
  }

  private finish(r: Running): void {
    if (this.running !== r) return;
    this.running = undefined;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Whether a command of `client` may run now: undefined when it may, Redis's -BUSY past the
   * threshold, or a promise to ask again once the script ended or timed out. The script's own
   * connection passes (its session keeps its commands in order) and so do the commands Redis
   * allows a busy server.
   */
  gate(client: object, argv: readonly Uint8Array[]): Reply | Promise<void> | undefined {
    const r = this.running;
    if (!r || r.owner === client || allowedWhileBusy(argv)) return undefined;
    if (r.timedOut) return busy(r.kind);
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Redis's -BUSY for `client`'s command when the node's script is past the threshold, else undefined. */
  busyReply(client: object, argv: readonly Uint8Array[]): Reply | undefined {
    const r = this.running;
    if (!r?.timedOut || r.owner === client || allowedWhileBusy(argv)) return undefined;
    return busy(r.kind);
  }

  /** SCRIPT KILL (`kind` eval) or FUNCTION KILL (function), with Redis's replies. */
  kill(kind: ScriptKind): Reply {
    const r = this.running;
    if (!r) return NOTBUSY;
    if (r.wrote || !r.kill) return UNKILLABLE;
    // As Redis: each KILL ends only its own kind, and says which KILL would.
    if (r.kind !== kind) return busy(r.kind);
    r.kill();
    return OK;
  }

  /** FUNCTION STATS's reply with running_script: the script in progress (the command computes null). */
  withRunningScript(stats: Reply): Reply {
    const r = this.running;
    if (!r || stats.t !== "map") return stats;
    const running = map([
      [bulk("name"), bulk(r.name)],
      [bulk("command"), { t: "array", v: r.argv.map((a) => bulk(a)) }],
      [bulk("duration_ms"), { t: "int", v: Math.max(0, Math.floor(this.clock.now() - r.since)) }],
    ]);
    const isRunning = (k: Reply) => k.t === "bulk" && (typeof k.v === "string" ? k.v : str(k.v)) === "running_script";
    return { ...stats, v: stats.v.map(([k, v]): [Reply, Reply] => [k, isRunning(k) ? running : v]) };
  }
}

const ALLOW_BUSY = new Set(["auth", "hello", "shutdown", "quit", "multi", "discard", "watch", "unwatch"]);

/** Commands Redis serves while a script is busy (flag allow-busy), by name and subcommand. */
function allowedWhileBusy(argv: readonly Uint8Array[]): boolean {
  const name = lower(argv[0]!);
  if (ALLOW_BUSY.has(name)) return true;
  if (argv.length < 2 || (name !== "script" && name !== "function")) return false;
  const sub = ascii(argv[1]!).toLowerCase();
  return sub === "kill" || (name === "function" && sub === "stats");
}
