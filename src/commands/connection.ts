// Connection and server commands: they act on the session and the server, never on the keyspace
// through the log, so they run where the client is connected.
import { array, bulk, bulkArray, err, int, map, OK, simple, verbatim, EMPTY_ARRAY, type Reply } from "../resp/reply.ts";
import { define } from "./define.ts";
import type { ClientState, CommandSpec, SessionApi } from "./types.ts";
import { E, globMatch, lower, parseIntArg, str, utf8 } from "./util.ts";

/** Compatibility level reported to clients that look at the Redis version. */
export const REDIS_COMPAT_VERSION = "7.0.0";

const WRONGPASS = err("WRONGPASS invalid username-password pair or user is disabled.");

function checkPassword(s: SessionApi, user: string | undefined, pass: Uint8Array): Reply | undefined {
  if (s.requirepass === "") {
    return user === undefined
      ? err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
      : user === "default" ? undefined : WRONGPASS;
  }
  if ((user !== undefined && user !== "default") || str(pass) !== s.requirepass) return WRONGPASS;
  return undefined;
}

function hello(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  let proto = s.client.protocol;
  let i = 1;
  if (argv.length > 1) {
    const v = parseIntArg(argv[1]!);
    if (v === undefined) return err("ERR Protocol version is not an integer or out of range");
    if (v !== 2 && v !== 3) return err("NOPROTO unsupported protocol version");
    proto = v;
    i = 2;
  }
  let name: string | undefined;
  for (; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "auth" && i + 2 < argv.length) {
      const failed = checkPassword(s, str(argv[i + 1]!), argv[i + 2]!);
      if (failed) return failed;
      s.client.authenticated = true;
      i += 2;
    } else if (opt === "setname" && i + 1 < argv.length) {
      const bad = invalidName(argv[++i]!);
      if (bad) return bad;
      name = str(argv[i]!);
    } else {
      return err(`ERR Syntax error in HELLO option '${str(argv[i]!)}'`);
    }
  }
  if (s.requirepass !== "" && !s.client.authenticated) {
    return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
  }
  if (name !== undefined) s.client.name = name;
  s.client.protocol = proto;
  return map([
    [bulk("server"), bulk("redis")],
    [bulk("version"), bulk(REDIS_COMPAT_VERSION)],
    [bulk("proto"), int(proto)],
    [bulk("id"), int(s.client.id)],
    [bulk("mode"), bulk("standalone")],
    [bulk("role"), bulk("master")],
    [bulk("modules"), EMPTY_ARRAY],
    [bulk("flydb_version"), bulk(s.server.version)],
  ]);
}

function invalidName(b: Uint8Array): Reply | undefined {
  for (const c of b) if (c <= 0x20 || c > 0x7e) return err("ERR Client names cannot contain spaces, newlines or special characters.");
  return undefined;
}

function clientLine(c: ClientState, now: number): string {
  const age = Math.floor((now - c.createdAt) / 1000);
  const idle = Math.floor((now - c.lastActiveAt) / 1000);
  return `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=-1 name=${c.name} age=${age} idle=${idle} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=${c.lastCommand} user=default redir=-1 resp=${c.protocol} lib-name=${c.libName} lib-ver=${c.libVer}`;
}

function client(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const arity = (n: number) => (n > 0 ? argv.length !== n : argv.length < -n) ? E.arity(`client|${sub}`) : undefined;
  switch (sub) {
    case "id":
      return arity(2) ?? int(s.client.id);
    case "getname":
      return arity(2) ?? (s.client.name === "" ? { t: "nullbulk" } : bulk(s.client.name));
    case "setname": {
      const bad = arity(3) ?? invalidName(argv[2]!);
      if (bad) return bad;
      s.client.name = str(argv[2]!);
      return OK;
    }
    case "setinfo": {
      const bad = arity(4);
      if (bad) return bad;
      const attr = lower(argv[2]!);
      if (attr !== "lib-name" && attr !== "lib-ver") return err(`ERR Unrecognized option '${str(argv[2]!)}'`);
      const invalid = invalidName(argv[3]!);
      if (invalid && argv[3]!.length > 0) return err(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
      if (attr === "lib-name") s.client.libName = str(argv[3]!);
      else s.client.libVer = str(argv[3]!);
      return OK;
    }
    case "list": {
      let ids: Set<number> | undefined;
      if (argv.length > 2) {
        if (lower(argv[2]!) === "type" && argv.length === 4) {
          const t = lower(argv[3]!);
          if (!["normal", "master", "replica", "pubsub"].includes(t)) return err(`ERR Unknown client type '${str(argv[3]!)}'`);
          if (t !== "normal") return verbatim("");
        } else if (lower(argv[2]!) === "id" && argv.length > 3) {
          ids = new Set();
          for (const a of argv.slice(3)) {
            const id = parseIntArg(a);
            if (id === undefined || id <= 0) return err(`ERR Invalid client ID`);
            ids.add(id);
          }
        } else return E.syntax;
      }
      const lines = s.clients().filter((c) => !ids || ids.has(c.id)).map((c) => clientLine(c, s.now) + "\n");
      return verbatim(lines.join(""));
    }
    case "info":
      return arity(2) ?? verbatim(clientLine(s.client, s.now) + "\n");
    case "kill": {
      if (argv.length === 3) {
        const target = s.clients().find((c) => c.addr === str(argv[2]!));
        if (!target || !s.kill(target.id)) return err("ERR No such client");
        return OK;
      }
      if (argv.length < 4 || argv.length % 2 !== 0) return E.syntax;
      let killed = 0;
      const filters: [string, string][] = [];
      for (let i = 2; i < argv.length; i += 2) filters.push([lower(argv[i]!), str(argv[i + 1]!)]);
      let skipMe = true;
      for (const [k, v] of filters) {
        if (k === "id" && (parseIntArg(utf8(v)) ?? 0) <= 0) return err("ERR client-id should be greater than 0");
        if (k === "skipme") {
          if (v !== "yes" && v !== "no") return E.syntax;
          skipMe = v === "yes";
        } else if (!["id", "addr", "laddr", "user", "type"].includes(k)) return E.syntax;
      }
      for (const c of s.clients()) {
        const match = filters.every(([k, v]) =>
          k === "skipme" ? true : k === "id" ? String(c.id) === v : k === "addr" ? c.addr === v : k === "laddr" ? c.laddr === v : k === "user" ? v === "default" : v === "normal",
        );
        if (!match || (skipMe && c.id === s.client.id)) continue;
        if (c.id === s.client.id) s.closeAfterReply();
        else s.kill(c.id);
        killed++;
      }
      return int(killed);
    }
    case "no-evict":
    case "no-touch":
      return arity(3) ?? (["on", "off"].includes(lower(argv[2]!)) ? OK : E.syntax);
    case "help":
      return array(["CLIENT <subcommand>: ID, GETNAME, SETNAME <name>, SETINFO <LIB-NAME|LIB-VER> <value>, LIST [TYPE t|ID id...], INFO, KILL <addr>|<filter> <value>..."].map((x) => simple(x)));
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try CLIENT HELP.`);
  }
}

function commandInfo(c: CommandSpec): Reply {
  return array([
    bulk(c.name),
    int(c.arity),
    { t: "set", v: c.flags.filter((f) => f !== "connection" && f !== "random").map((f) => simple(f)) },
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

function command(s: SessionApi, argv: readonly Uint8Array[]): Reply {
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
    case "getkeys": {
      if (argv.length < 3) return E.arity("command|getkeys");
      const target = s.table.get(lower(argv[2]!));
      if (!target) return err("ERR Invalid command specified");
      return bulkArray(commandKeys(target, argv.slice(2)));
    }
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try COMMAND HELP.`);
  }
}

/** The keys of a call, from the table's key positions (routing uses this too). */
export function commandKeys(spec: CommandSpec, argv: readonly Uint8Array[]): Uint8Array[] {
  if (spec.keys) return spec.keys(argv);
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
  const keys: Uint8Array[] = [];
  for (let i = spec.firstKey; i <= last && i < argv.length; i += spec.step) keys.push(argv[i]!);
  return keys;
}

/** Redis names some settings differently; clients and redis-benchmark ask for these. */
const REDIS_CONFIG: Record<string, (s: SessionApi) => string> = {
  save: () => "",
  appendonly: () => "yes",
  appendfsync: (s) => s.server.configValue("fsync") ?? "always",
  databases: () => "1",
  port: (s) => String(s.server.port),
  maxmemory: () => "0",
  "maxmemory-policy": () => "noeviction",
  timeout: () => "0",
  "proto-max-bulk-len": (s) => s.server.configValue("proto_max_bulk_len") ?? "",
  maxclients: (s) => s.server.configValue("maxclients") ?? "",
  "cluster-enabled": () => "no",
};

function config(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  if (sub === "get") {
    if (argv.length < 3) return E.arity("config|get");
    const pairs: [string, string][] = [];
    const seen = new Set<string>();
    const all: [string, () => string][] = [
      ...Object.entries(REDIS_CONFIG).map(([k, f]) => [k, () => f(s)] as [string, () => string]),
      ...s.server.configNames().map((k) => [k, () => s.server.configValue(k) ?? ""] as [string, () => string]),
    ];
    for (const pattern of argv.slice(2)) {
      for (const [name, value] of all) {
        if (!seen.has(name) && globMatch(pattern, utf8(name), true)) {
          seen.add(name);
          pairs.push([name, value()]);
        }
      }
    }
    return map(pairs.map(([k, v]) => [bulk(k), bulk(v)] as const));
  }
  if (sub === "set") return err("ERR CONFIG SET is not supported: FlyDB reads its configuration at start-up (flydb.toml, FLYDB_* variables, flags)");
  if (sub === "resetstat") return OK;
  if (sub === "rewrite") return err("ERR CONFIG REWRITE is not supported: edit flydb.toml");
  return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try CONFIG HELP.`);
}

export const CONNECTION_COMMANDS = define("connection", [
  {
    name: "ping", arity: -1, flags: ["fast"], since: "1.0.0", summary: "Returns the server's liveliness response.",
    exec: (_s, argv) => {
      if (argv.length > 2) return E.arity("ping");
      return argv.length === 2 ? bulk(argv[1]!) : simple("PONG");
    },
  },
  {
    name: "echo", arity: 2, flags: ["fast"], since: "1.0.0", summary: "Returns the given string.",
    exec: (_s, argv) => bulk(argv[1]!),
  },
  {
    name: "auth", arity: -2, flags: ["noauth", "fast"], since: "1.0.0", summary: "Authenticates the connection.",
    exec: (s, argv) => {
      if (argv.length > 3) return E.syntax;
      const failed = argv.length === 3
        ? checkPassword(s, str(argv[1]!), argv[2]!)
        : checkPassword(s, undefined, argv[1]!);
      if (failed) return failed;
      s.client.authenticated = true;
      return OK;
    },
  },
  {
    name: "hello", arity: -1, flags: ["noauth", "fast"], since: "6.0.0",
    summary: "Handshakes with the server: protocol version, authentication, client name.", exec: hello,
  },
  {
    name: "select", arity: 2, flags: ["fast"], since: "1.0.0",
    summary: "Changes the selected database (FlyDB has only database 0).",
    exec: (_s, argv) => {
      const db = parseIntArg(argv[1]!);
      if (db === undefined) return E.notInt;
      return db === 0 ? OK : E.dbIndex;
    },
  },
  {
    name: "quit", arity: -1, flags: ["noauth", "fast"], since: "1.0.0", summary: "Closes the connection.",
    exec: (s) => {
      s.closeAfterReply();
      return OK;
    },
  },
  {
    name: "reset", arity: 1, flags: ["noauth", "fast"], since: "6.2.0", summary: "Resets the connection.",
    exec: (s) => {
      s.resetState();
      for (const kind of ["channel", "pattern", "shard"] as const) {
        for (const name of s.pubsub?.subscriptions(kind) ?? []) s.pubsub!.unsubscribe(kind, name);
      }
      s.client.protocol = 2;
      s.client.name = "";
      s.client.authenticated = s.requirepass === "";
      return simple("RESET");
    },
  },
  {
    name: "client", arity: -2, flags: [], since: "2.4.0",
    summary: "Client connection commands: ID, SETNAME, GETNAME, LIST, INFO, SETINFO, KILL.", exec: client,
  },
]);

export const SERVER_COMMANDS = define("server", [
  {
    name: "command", arity: -1, flags: [], since: "2.8.13", summary: "Returns detailed information about all commands.",
    exec: command,
  },
  {
    name: "config", arity: -2, flags: ["admin"], since: "2.0.0",
    summary: "Configuration: CONFIG GET (read-only at run time).", exec: config,
  },
  {
    name: "info", arity: -1, flags: [], since: "1.0.0", summary: "Returns information and statistics about the server.",
    exec: (s, argv) => {
      const section = argv.length > 1 ? lower(argv[1]!) : undefined;
      const text = s.server.info(section, s.now);
      return typeof text === "string" ? verbatim(text) : text.then((t) => (typeof t === "string" ? verbatim(t) : t));
    },
    // Only the keyspace section needs every partition: its key and expiry totals (__dbsizepart takes no section).
    cluster: {
      request: "all_shards",
      via: "__dbsizepart",
      response: { special: "keyspace_totals" },
      partArgs: () => [],
    },
  },
  {
    name: "time", arity: 1, flags: ["fast", "random"], since: "2.6.0", summary: "Returns the server time.",
    exec: (s) => {
      const us = Math.floor(s.now * 1000);
      return array([bulk(String(Math.floor(us / 1e6))), bulk(String(us % 1e6))]);
    },
  },
]);
