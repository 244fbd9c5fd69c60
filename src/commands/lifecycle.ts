// SHUTDOWN and the checkpoint commands. FlyDB's writes are durable in raft.db once acknowledged, so
// SAVE is not what keeps data: it checkpoints data.db (the state machine) now instead of at the next
// compaction, and LASTSAVE is when that last happened (or when the node started).
import { err, int, simple, type Reply } from "../resp/reply.ts";
import { define } from "./define.ts";
import type { SessionApi } from "./types.ts";
import { E, lower } from "./util.ts";

function shutdown(s: SessionApi, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
  let save: boolean | undefined;
  let abort = false;
  for (const a of argv.slice(1)) {
    const opt = lower(a);
    if ((opt === "save" || opt === "nosave") && save === undefined) save = opt === "save";
    else if (opt === "now" || opt === "force") continue;
    else if (opt === "abort") abort = true;
    else return E.syntax;
  }
  if (abort) return argv.length === 2 ? err("ERR No shutdown in progress.") : E.syntax;
  return s.server.shutdown(save !== false);
}

export const LIFECYCLE_COMMANDS = define("server", [
  {
    name: "shutdown",
    arity: -1,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "Stops this node cleanly; SAVE (default) checkpoints data.db first (the log keeps every write).",
    exec: shutdown,
  },
  {
    name: "save",
    arity: 1,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "Checkpoints data.db now and waits for it.",
    exec: (s) => s.server.save(),
  },
  {
    name: "bgsave",
    arity: -1,
    flags: ["admin"],
    since: "1.0.0",
    summary: "Checkpoints data.db in the background.",
    exec: (s, argv) => {
      if (argv.length > 2 || (argv.length === 2 && lower(argv[1]!) !== "schedule")) return E.syntax;
      void s.server.save();
      return simple("Background saving started");
    },
  },
  {
    name: "lastsave",
    arity: 1,
    flags: ["fast", "random"],
    since: "1.0.0",
    summary: "Unix time of the last data.db checkpoint made by SAVE/BGSAVE (or of the node's start).",
    exec: (s) => int(s.server.lastSave()),
  },
]);
