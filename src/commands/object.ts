// OBJECT: Redis's introspection of how a value is stored. FlyDB stores rows in SQLite, so
// ENCODING reports what Redis 7.0 would use for the same value (see collection.ts), which is what
// clients and tests look at. IDLETIME is the time since this node last saw the key accessed
// (src/commands/key-access.ts); FREQ and REFCOUNT answer like a Redis without an LFU policy.
import { array, bulk, err, int, NULL_BULK, simple, type Reply } from "../resp/reply.ts";
import { encodingName } from "./collection.ts";
import { define, subcommands } from "./define.ts";
import { WRONG_TYPE, type CommandContext, type KeyType, type StringForm } from "./types.ts";
import { ascii, E, lower, parseInt64 } from "./util.ts";

/**
 * Redis: "int" for a canonical integer that fits a long (only for an "encoded" value), "embstr" up
 * to 44 bytes, else "raw"; and "raw" whatever the content for a value edited in place.
 */
function stringEncoding(v: Uint8Array, form: StringForm): string {
  if (form === "raw") return "raw";
  if (form === "encoded" && v.length <= 20 && parseInt64(v) !== undefined) return "int";
  return v.length <= 44 ? "embstr" : "raw";
}

const HELP = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
  "HELP",
  "    Print this help.",
];

function object(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  if (sub === "help" && argv.length === 2) return array(HELP.map((l) => simple(l)));
  if (!["encoding", "freq", "idletime", "refcount"].includes(sub)) {
    return err(`ERR unknown subcommand '${ascii(argv[1]!)}'. Try OBJECT HELP.`);
  }
  if (argv.length !== 3) return E.arity(`object|${sub}`);
  const key = argv[2]!;
  const meta = ctx.db.meta(key, ctx.now);
  if (!meta) return NULL_BULK;
  if (sub === "freq") {
    return err(
      "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    );
  }
  // The node the client is connected to puts in the idle time it knows (completeReply below).
  if (sub === "idletime") return int(0);
  if (sub === "refcount") return int(1);
  return bulk(encodingOf(ctx, key, meta.type));
}

/** OBJECT ENCODING of a live key of the given type (DEBUG OBJECT reports it too). */
export function encodingOf(ctx: CommandContext, key: Uint8Array, type: KeyType): string {
  if (type === "string") {
    const v = ctx.db.getString(key, ctx.now);
    return v === undefined || v === WRONG_TYPE ? "raw" : stringEncoding(v, ctx.db.stringForm(key, ctx.now));
  }
  return encodingName(type, ctx.db.collection(key, ctx.now)?.compact ?? true);
}

export const OBJECT_COMMANDS = define("generic", [
  {
    name: "object",
    arity: -2,
    flags: ["readonly"],
    keys: { first: 2, last: 2, step: 1 },
    since: "2.2.3",
    subcommands: subcommands([
      ["encoding", 3, 2, "RO"],
      ["freq", 3, 2, "RO"],
      ["help", 2],
      ["idletime", 3, 2, "RO"],
      ["refcount", 3, 2, "RO"],
    ]),
    summary: "A container for object introspection commands.",
    run: object,
    completeReply: (s, argv, reply) =>
      reply.t === "int" && lower(argv[1]!) === "idletime"
        ? int(Math.floor(s.server.keyAccess.idleMs(s.client.db, argv[2]!, s.now) / 1000))
        : reply,
  },
]);
