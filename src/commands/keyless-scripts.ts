// A keyless EVAL or FCALL (numkeys 0) in a cluster has no key to route it by: the router sends it to
// one partition (src/cluster/keyless-script.ts) wrapped in these internal commands, which name the
// partition and one of its slots, so the script knows where it runs: FCALL reads that partition's
// libraries, and the first key the script touches must be that partition's (else it is sent on).
import { err, type Reply } from "../resp/reply.ts";
import { LOCAL } from "./cluster-policy.ts";
import { define } from "./define.ts";
import { runFcall } from "./functions.ts";
import { runEval, SCRIPT_MOVED } from "./scripting.ts";
import type { CommandContext, ScriptCallSink } from "./types.ts";
import { ascii, lower } from "./util.ts";

/** The names of the wrappers: an op of one of these may be applied in two partitions (sent on). */
export const KEYLESS_SCRIPT_RUNS: ReadonlySet<string> = new Set(["__scriptpart", "__scriptpart_ro"]);

/**
 * What a run reports to MONITOR and client tracking (ctx.scriptCall) is held back until it ends: a run
 * that sends the script on was not its run, and the next partition's reports the calls once.
 */
function runInPartition(ctx: CommandContext, argv: readonly Uint8Array[], readOnly: boolean): Reply {
  const sink = ctx.scriptCall;
  if (!sink) return runIn(ctx, argv, readOnly);
  const calls: Parameters<ScriptCallSink>[] = [];
  const reply = runIn({ ...ctx, scriptCall: (...c) => calls.push(c) }, argv, readOnly);
  if (reply.t !== "error" || !reply.v.startsWith(SCRIPT_MOVED)) for (const c of calls) sink(...c);
  return reply;
}

/** `__scriptpart[_ro] <partition> <slot> <eval|eval_ro|fcall|fcall_ro> <script or name> 0 arg …`. */
function runIn(ctx: CommandContext, argv: readonly Uint8Array[], readOnly: boolean): Reply {
  const partition = Number(ascii(argv[1]!));
  const slot = Number(ascii(argv[2]!));
  if (!Number.isInteger(partition) || partition < 0 || !Number.isInteger(slot) || slot < 0) {
    return err(`ERR bad partition or slot for ${ascii(argv[0]!)}`);
  }
  const inner = argv.slice(3);
  switch (lower(inner[0]!)) {
    case "eval":
      return readOnly ? err("ERR EVAL is a write") : runEval(ctx, inner, false, slot);
    case "eval_ro":
      return runEval(ctx, inner, true, slot);
    case "fcall":
      return readOnly ? err("ERR FCALL is a write") : runFcall(ctx, inner, false, { partition, slot });
    case "fcall_ro":
      return runFcall(ctx, inner, true, { partition, slot });
    default:
      return err(`ERR ${ascii(argv[0]!)} runs EVAL or FCALL, not ${ascii(inner[0]!)}`);
  }
}

export const KEYLESS_SCRIPT_COMMANDS = define("scripting", [
  {
    name: "__scriptpart",
    arity: -7,
    flags: ["write"],
    since: "0.1.0",
    summary: "Internal: a keyless EVAL or FCALL in one partition.",
    cluster: LOCAL,
    run: (ctx, argv) => runInPartition(ctx, argv, false),
  },
  {
    name: "__scriptpart_ro",
    arity: -7,
    flags: ["readonly"],
    since: "0.1.0",
    summary: "Internal: a keyless EVAL_RO or FCALL_RO in one partition.",
    cluster: LOCAL,
    run: (ctx, argv) => runInPartition(ctx, argv, true),
  },
]);
