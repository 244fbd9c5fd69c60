// COMMAND and its subcommands: the command table as Redis clients and cluster-aware libraries read it.
import { array, bulk, bulkArray, err, int, map, simple, EMPTY_ARRAY, ZERO, type Reply } from "../resp/reply.ts";
import { commandKeys } from "./connection.ts";
import type { CommandSpec, SessionApi, Subcommand } from "./types.ts";
import { E, globMatch, lower, str, utf8 } from "./util.ts";

/** Redis flags of a row; "movablekeys" when its keys are found by a function rather than positions. */
function flagsOf(c: CommandSpec): string[] {
  const flags: string[] = c.flags.filter((f) => f !== "connection" && f !== "random");
  if (c.keys) flags.push("movablekeys");
  return flags;
}

/** The first key's flags and the other keys', of the key specs or of one call (see KeyFlags). */
export function keyFlagsOf(c: CommandSpec, call?: readonly Uint8Array[]): readonly [first: string[], rest: string[]] {
  let given = c.keyFlags ?? (c.flags.includes("write") ? "RW update" : "RO access");
  if (typeof given === "object" && "spec" in given) given = call && given.call ? given.call(call) : given.spec;
  const [first, rest] = typeof given === "string" ? [given, given] : given;
  return [first.split(" "), rest.split(" ")];
}

const flagSet = (flags: readonly string[]): Reply => ({ t: "set", v: flags.map((f) => simple(f)) });

/** One key spec by position: keys from argv[index] to lastKey (relative to index; negative: from the end). */
function keySpec(flags: readonly string[], index: number, lastKey: number, step: number, notes?: string): Reply {
  const search = map([[bulk("index"), int(index)]]);
  const find = map([
    [bulk("lastkey"), int(lastKey)],
    [bulk("keystep"), int(step)],
    [bulk("limit"), ZERO],
  ]);
  return map([
    ...(notes === undefined ? [] : [[bulk("notes"), bulk(notes)] as const]),
    [bulk("flags"), flagSet(flags)],
    [
      bulk("begin_search"),
      map([
        [bulk("type"), bulk("index")],
        [bulk("spec"), search],
      ]),
    ],
    [
      bulk("find_keys"),
      map([
        [bulk("type"), bulk("range")],
        [bulk("spec"), find],
      ]),
    ],
  ]);
}

const NO_KEY_SPECS: Reply = { t: "set", v: [] };

/**
 * Redis's key specs (a set in RESP3) for keys at fixed positions; a first key with its own flags gets a spec of its
 * own. Commands whose keys are counted by an argument report none (clients ask COMMAND GETKEYS).
 */
function keySpecs(c: CommandSpec): Reply {
  if (c.firstKey === 0 || c.keys) return NO_KEY_SPECS;
  const [first, rest] = keyFlagsOf(c);
  const relative = (from: number) => (c.lastKey < 0 ? c.lastKey : c.lastKey - from);
  if (first.join(" ") === rest.join(" ")) {
    const notes = typeof c.keyFlags === "object" && "notes" in c.keyFlags ? c.keyFlags.notes : undefined;
    return { t: "set", v: [keySpec(first, c.firstKey, relative(c.firstKey), c.step, notes)] };
  }
  const second = c.firstKey + c.step;
  return { t: "set", v: [keySpec(first, c.firstKey, 0, 1), keySpec(rest, second, relative(second), c.step)] };
}

function commandInfo(c: CommandSpec): Reply {
  return array([
    bulk(c.name),
    int(c.arity),
    flagSet(flagsOf(c)),
    int(c.firstKey),
    int(c.lastKey),
    int(c.step),
    { t: "set", v: [simple(`@${c.group}`)] },
    EMPTY_ARRAY,
    keySpecs(c),
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

/** COMMAND GETKEYS/GETKEYSANDFLAGS: the keys of a call, with Redis's errors and key-spec flags. */
function getKeys(s: SessionApi, argv: readonly Uint8Array[], withFlags: boolean): Reply {
  const sub = withFlags ? "command|getkeysandflags" : "command|getkeys";
  if (argv.length < 4) return E.arity(sub);
  const target = s.table.get(lower(argv[2]!));
  if (!target || target.name.startsWith("__")) return err("ERR Invalid command specified");
  const call = argv.slice(2);
  if (target.subcommands) return getSubcommandKeys(target.subcommands, call, withFlags);
  // Redis's order: a command without keys says so whatever its arguments, then arity, then the call's keys.
  if (target.firstKey === 0 && !target.keys) return NO_KEYS;
  if (target.arity > 0 ? call.length !== target.arity : call.length < -target.arity) {
    return INVALID_ARGUMENTS;
  }
  const keys = commandKeys(target, call);
  if (keys.length === 0) return NO_MANDATORY_KEYS.has(target.name) ? EMPTY_ARRAY : INVALID_CALL;
  if (!withFlags) return bulkArray(keys);
  const [first, rest] = keyFlagsOf(target, call);
  return array(keys.map((k, i) => array([bulk(k), array((i === 0 ? first : rest).map((f) => simple(f)))])));
}

const INVALID_ARGUMENTS = err("ERR Invalid number of arguments specified for command");
const NO_KEYS = err("ERR The command has no key arguments");
const INVALID_CALL = err("ERR Invalid arguments specified for command");
/** The commands Redis 7.0 flags no_mandatory_keys: a call of theirs may name no keys (numkeys 0). */
const NO_MANDATORY_KEYS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]);

function getSubcommandKeys(subs: readonly Subcommand[], call: readonly Uint8Array[], withFlags: boolean): Reply {
  const sub = subs.find((c) => c.name === lower(call[1]!));
  if (!sub) return err("ERR Invalid command specified");
  if (sub.arity > 0 ? call.length !== sub.arity : call.length < -sub.arity) return INVALID_ARGUMENTS;
  if (!sub.key) return NO_KEYS;
  const key = bulk(call[sub.key.at]!);
  return array([withFlags ? array([key, array(sub.key.flags.split(" ").map((f) => simple(f)))]) : key]);
}

/** COMMAND LIST's names: every command, then each subcommand as `container|sub`, as Redis lists them. */
const listedNames = (commands: readonly CommandSpec[]) =>
  commands.flatMap((c) => [c.name, ...(c.subcommands ?? []).map((sub) => `${c.name}|${sub.name}`)]);

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
      let names = listedNames(visible(s));
      if (argv.length === 5 && lower(argv[2]!) === "filterby") {
        const how = lower(argv[3]!);
        const v = argv[4]!;
        if (how === "pattern") names = names.filter((n) => globMatch(v, utf8(n), true));
        else if (how === "aclcat") names = listedNames(visible(s).filter((c) => c.group === lower(v)));
        else if (how !== "module") return E.syntax;
        else names = [];
      } else if (argv.length !== 2) return E.syntax;
      return bulkArray(names);
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
