// DEBUG: the subcommands that Redis's test suite and client test suites send to a server they did
// not start. Knobs of Redis internals FlyDB does not have (active expiry switch, quicklist node
// size, replication ids) are accepted and change nothing; RELOAD has nothing to reload, as every
// acknowledged write is already in raft.db and applied to data.db. Any other subcommand answers
// Redis's error for an unknown one.
import { array, bulk, err, OK, simple, type Reply } from "../resp/reply.ts";
import { define } from "./define.ts";
import { readValue } from "./dump.ts";
import { dumpPayload } from "../rdb/dump.ts";
import { encodingOf } from "./object.ts";
import type { CommandContext, SessionApi } from "./types.ts";
import { E, parseFloatArg, lower, str, utf8 } from "./util.ts";

/** Internal read behind DEBUG OBJECT and DEBUG LISTPACK: [encoding, serialized length] or an error. */
export const DEBUG_OBJECT_READ = "__debugobject";

/** A DUMP payload is the RDB type byte, the value, the RDB version (2 bytes) and a CRC64 (8 bytes). */
const PAYLOAD_OVERHEAD = 11;

function objectInfo(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const key = argv[1]!;
  const meta = ctx.db.meta(key, ctx.now);
  const value = readValue(ctx, key);
  if (!meta || !value) return E.noSuchKey;
  return array([bulk(encodingOf(ctx, key, meta.type)), bulk(String(dumpPayload(value).length - PAYLOAD_OVERHEAD))]);
}

/** Redis's memtoull range for QUICKLIST-PACKED-THRESHOLD: a byte count, optionally with a unit, below 4 GB. */
function validThreshold(b: Uint8Array): boolean {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(str(b));
  if (!m) return false;
  const units: Record<string, number> = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(m[1]) * units[(m[2] ?? "b").toLowerCase()]! < 2 ** 32;
}

const HELP = [
  "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CHANGE-REPL-ID",
  "    Accepted; FlyDB has no Redis replication ids.",
  "JMAP",
  "    Accepted; does nothing.",
  "LISTPACK <key>",
  "    Whether the value at <key> is listpack encoded (nothing is printed).",
  "OBJECT <key>",
  "    Show low level info about `key` and associated value.",
  "QUICKLIST-PACKED-THRESHOLD <size>",
  "    Accepted; FlyDB has no quicklist nodes.",
  "RELOAD [option ...]",
  "    Accepted; every acknowledged write is already durable and applied.",
  "SET-ACTIVE-EXPIRE <0|1>",
  "    Accepted; FlyDB's expiry sweep always runs.",
  "SLEEP <seconds>",
  "    Delay this connection's reply for <seconds>. Decimals allowed.",
  "HELP",
  "    Prints this help.",
];

const text = (r: Reply): string => (r.t !== "bulk" ? "" : typeof r.v === "string" ? r.v : str(r.v));

async function debug(s: SessionApi, argv: readonly Uint8Array[]): Promise<Reply> {
  const sub = lower(argv[1]!);
  const n = argv.length;
  switch (sub) {
    case "help":
      if (n === 2) return array(HELP.map((l) => simple(l)));
      break;
    case "sleep":
      if (n === 3) {
        // strtod as Redis: anything unparsable sleeps 0 seconds.
        const seconds = parseFloatArg(argv[2]!) ?? 0;
        if (seconds > 0) await s.server.sleep(seconds * 1000);
        return OK;
      }
      break;
    case "object":
    case "listpack":
      if (n === 3) {
        const info = await s.readData([utf8(DEBUG_OBJECT_READ), argv[2]!]);
        if (info.t !== "array") return info;
        const [encoding, length] = info.v.map(text);
        if (sub === "listpack") {
          if (encoding !== "listpack") return err("ERR Not a listpack encoded object.");
          return simple("Listpack structure printed on stdout");
        }
        const line = `Value at:0x0 refcount:1 encoding:${encoding} serializedlength:${length} lru:0 lru_seconds_idle:0`;
        return simple(line);
      }
      break;
    case "reload":
      return OK;
    case "set-active-expire":
      if (n === 3) return OK;
      break;
    case "quicklist-packed-threshold":
      if (n === 3) {
        if (validThreshold(argv[2]!)) return OK;
        return err("ERR argument must be a memory value bigger than 1 and smaller than 4gb");
      }
      break;
    case "jmap":
    case "change-repl-id":
      if (n === 2) return OK;
      break;
  }
  return err(`ERR unknown subcommand or wrong number of arguments for '${str(argv[1]!)}'. Try DEBUG HELP.`);
}

export const DEBUG_COMMANDS = define("server", [
  {
    name: DEBUG_OBJECT_READ,
    arity: 2,
    flags: ["readonly"],
    keys: { first: 1, last: 1, step: 1 },
    since: "0.1.0",
    summary: "Internal: the encoding and serialized length of a key, for DEBUG OBJECT.",
    run: objectInfo,
  },
  {
    name: "debug",
    arity: -2,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "The DEBUG subcommands test suites use against a running server (see DEBUG HELP).",
    exec: debug,
  },
]);
