// COMMAND and its subcommands: the command table as Redis clients and cluster-aware libraries read it.
import { array, bulk, bulkArray, err, int, map, simple, EMPTY_ARRAY, type Reply } from "../resp/reply.ts";
import { commandKeys } from "./connection.ts";
import type { CommandSpec, SessionApi } from "./types.ts";
import { E, globMatch, lower, str, utf8 } from "./util.ts";

/** Redis flags of a row; "movablekeys" when its keys are found by a function rather than positions. */
function flagsOf(c: CommandSpec): string[] {
  const flags: string[] = c.flags.filter((f) => f !== "connection" && f !== "random");
  if (c.keys) flags.push("movablekeys");
  return flags;
}

function commandInfo(c: CommandSpec): Reply {
  return array([
    bulk(c.name),
    int(c.arity),
    { t: "set", v: flagsOf(c).map((f) => simple(f)) },
    int(c.firstKey),
    int(c.lastKey),
    int(c.step),
    { t: "set", v: [simple(`@${c.group}`)] },
    EMPTY_ARRAY,
    EMPTY_ARRAY,
    EMPTY_ARRAY,
  ]);
}

function commandDocs(c: CommandSpec): Reply {
  return map([
    [bulk("summary"), bulk(c.summary)],
    [bulk("since"), bulk(c.since)],
    [bulk("group"), bulk(c.group)],
  ]);
}

const visible = (s: SessionApi) => [...s.table.values()].filter((c) => !c.name.startsWith("__"));

/**
 * COMMAND GETKEYS/GETKEYSANDFLAGS: the keys of a call, with Redis's errors. FlyDB's table has no
 * per-key specs, so the flags say how the command as a whole uses its keys.
 */
function getKeys(s: SessionApi, argv: readonly Uint8Array[], withFlags: boolean): Reply {
  const sub = withFlags ? "command|getkeysandflags" : "command|getkeys";
  if (argv.length < 4) return E.arity(sub);
  const target = s.table.get(lower(argv[2]!));
  if (!target || target.name.startsWith("__")) return err("ERR Invalid command specified");
  const call = argv.slice(2);
  if (target.arity > 0 ? call.length !== target.arity : call.length < -target.arity) {
    return err("ERR Invalid number of arguments specified for command");
  }
  const keys = target.firstKey === 0 && !target.keys ? [] : commandKeys(target, call);
  if (keys.length === 0) return err("ERR The command has no key arguments");
  if (!withFlags) return bulkArray(keys);
  const flags = target.flags.includes("write") ? ["RW", "update"] : ["RO", "access"];
  return array(keys.map((k) => array([bulk(k), array(flags.map((f) => simple(f)))])));
}

const HELP = [
  "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "(no subcommand)",
  "    Return details about all Redis commands.",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "LIST",
  "    Return a list of all commands in this Redis server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "GETKEYS <full-command>",
  "    Return the keys from a full Redis command.",
  "GETKEYSANDFLAGS <full-command>",
  "    Return the keys and the access flags from a full Redis command.",
  "HELP",
  "    Prints this help.",
];

export function command(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length === 1) return array(visible(s).map(commandInfo));
  const sub = lower(argv[1]!);
  const named = () => argv.slice(2).map((a) => s.table.get(lower(a)));
  switch (sub) {
    case "count":
      return int(visible(s).length);
    case "info":
      return array((argv.length === 2 ? visible(s) : named()).map((c) => (c ? commandInfo(c) : { t: "nullarray" })));
    case "docs": {
      const list = argv.length === 2 ? visible(s) : named().filter((c): c is CommandSpec => c !== undefined);
      return map(list.map((c) => [bulk(c.name), commandDocs(c)] as const));
    }
    case "list": {
      let list = visible(s);
      if (argv.length === 5 && lower(argv[2]!) === "filterby") {
        const how = lower(argv[3]!);
        const v = argv[4]!;
        if (how === "pattern") list = list.filter((c) => globMatch(v, utf8(c.name), true));
        else if (how === "aclcat") list = list.filter((c) => c.group === lower(v));
        else if (how !== "module") return E.syntax;
        else list = [];
      } else if (argv.length !== 2) return E.syntax;
      return bulkArray(list.map((c) => c.name));
    }
    case "getkeys":
      return getKeys(s, argv, false);
    case "getkeysandflags":
      return getKeys(s, argv, true);
    case "help":
      return argv.length === 2 ? array(HELP.map((l) => simple(l))) : E.arity("command|help");
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try COMMAND HELP.`);
  }
}
