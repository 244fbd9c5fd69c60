// Server commands with little to do in FlyDB: LOLWUT, MODULE (FlyDB loads no Redis modules) and
// BGREWRITEAOF (FlyDB's log is raft.db, compacted on its own schedule: see src/cluster/replica-host.ts).
import { array, err, EMPTY_ARRAY, simple, verbatim, type Reply } from "../resp/reply.ts";
import { define, subcommands } from "./define.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, parseInt64, str } from "./util.ts";

/** LOLWUT [VERSION n]: Redis draws art for some versions; FlyDB only names itself, as Redis does for the others. */
function lolwut(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length >= 3 && lower(argv[1]!) === "version" && parseInt64(argv[2]!) === undefined) return E.notInt;
  return verbatim(`FlyDB ver. ${s.server.version}\n`);
}

const MODULE_HELP = [
  "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "LIST",
  "    Return a list of loaded modules.",
  "LOAD <path> [<arg> ...]",
  "    Load a module library from <path>, passing to it any optional arguments.",
  "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
  "    Load a module library from <path>, while passing it module configurations and optional arguments.",
  "UNLOAD <name>",
  "    Unload a module.",
  "HELP",
  "    Prints this help.",
];

/** Redis 7.0's MODULE subcommands and their arities. */
const MODULE_ARITY: Readonly<Record<string, number>> = { list: 2, load: -3, loadex: -3, unload: 3, help: 2 };

function moduleCommand(_s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const arity = MODULE_ARITY[sub];
  if (arity === undefined) return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try MODULE HELP.`);
  if (arity > 0 ? argv.length !== arity : argv.length < -arity) return E.arity(`module|${sub}`);
  switch (sub) {
    case "list":
      return EMPTY_ARRAY;
    case "help":
      return array(MODULE_HELP.map((l) => simple(l)));
    case "unload":
      return err("ERR Error unloading module: no such module with that name");
    default:
      return err("ERR Error loading the extension: FlyDB does not load Redis modules.");
  }
}

export const SERVER_MISC_COMMANDS = define("server", [
  {
    name: "lolwut",
    arity: -1,
    flags: ["readonly", "fast"],
    since: "5.0.0",
    summary: "Names the FlyDB version (Redis draws art here).",
    exec: lolwut,
  },
  {
    name: "module",
    arity: -2,
    flags: ["admin", "no-multi"],
    since: "4.0.0",
    subcommands: subcommands([
      ["help", 2],
      ["list", 2],
      ["load", -3],
      ["loadex", -3],
      ["unload", 3],
    ]),
    summary: "MODULE LIST (empty) and HELP; LOAD and LOADEX are refused: FlyDB loads no Redis modules.",
    exec: moduleCommand,
  },
  {
    name: "bgrewriteaof",
    arity: 1,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "Accepted for compatibility: FlyDB's log (raft.db) is compacted on its own after each data.db checkpoint.",
    exec: () => simple("Background append only file rewriting started"),
  },
]);
