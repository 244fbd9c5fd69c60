// Connection commands: they act on the session (authentication, protocol, name, other clients),
// never on the keyspace through the log, so they run where the client is connected.
import { array, bulk, err, int, map, OK, set, simple, verbatim, EMPTY_ARRAY, type Reply } from "../resp/reply.ts";
import { define, subcommands } from "./define.ts";
import type { ClientState, CommandSpec, SessionApi, TrackingApi } from "./types.ts";
import { E, lower, parseInt64, parseIntArg, str, utf8 } from "./util.ts";
import { parseDbIndex } from "./databases.ts";
import { clientPauseCommand } from "./pause.ts";
import { authenticate, defaultUserHasNoPassword } from "./acl.ts";
import { DEFAULT_USER } from "../acl/registry.ts";
import { clientRouting } from "./client-routing.ts";

/** Compatibility level reported to clients that look at the Redis version. */
export const REDIS_COMPAT_VERSION = "7.0.0";

/** Whether a new or RESET connection is authenticated at once: the default user is on and has no password. */
export function defaultUserOpen(s: SessionApi): boolean {
  const u = s.security.acl.get(DEFAULT_USER);
  return u?.enabled === true && u.nopass;
}

function hello(s: SessionApi, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
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
  let auth: { user: string; pass: Uint8Array } | undefined;
  for (; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    if (opt === "auth" && i + 2 < argv.length) {
      auth = { user: str(argv[i + 1]!), pass: argv[i + 2]! };
      i += 2;
    } else if (opt === "setname" && i + 1 < argv.length) {
      const bad = invalidName(argv[++i]!);
      if (bad) return bad;
      name = str(argv[i]!);
    } else {
      return err(`ERR Syntax error in HELLO option '${str(argv[i]!)}'`);
    }
  }
  const finish = (): Reply => {
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
  };
  if (auth) return authenticate(s, str(argv[0]!), auth.user, auth.pass, finish);
  if (!s.client.authenticated) {
    return err(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    );
  }
  return finish();
}

function invalidName(b: Uint8Array): Reply | undefined {
  for (const c of b)
    if (c <= 0x20 || c > 0x7e) return err("ERR Client names cannot contain spaces, newlines or special characters.");
  return undefined;
}

/**
 * One CLIENT LIST/INFO line in Redis 7.0's field order. FlyDB does not account buffers per client:
 * those fields are 0, except `qbuf` of the calling client, which (as in Redis) holds the command
 * being run: `running` is its argv.
 */
export function clientLine(c: ClientState, now: number, running?: readonly Uint8Array[]): string {
  const age = Math.floor((now - c.createdAt) / 1000);
  const idle = Math.floor((now - c.lastActiveAt) / 1000);
  const [sub, psub, ssub] = (["channel", "pattern", "shard"] as const).map((k) => c.subscriptionCount?.(k) ?? 0);
  const state = c.sessionState?.();
  // Redis's letters in its order (networking.c, 7.0): P pub/sub, x in MULTI, b blocked, t tracking,
  // B its broadcast mode; N when none applies.
  const letters =
    (sub! + psub! + ssub! > 0 ? "P" : "") +
    (state && state.multi >= 0 ? "x" : "") +
    (state?.blocked ? "b" : "") +
    (state?.tracking ? `t${state.tracking.bcast ? "B" : ""}` : "");
  const flags = letters || "N";
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=-1 name=${c.name} age=${age} idle=${idle} flags=${flags} ` +
    `db=${c.db} sub=${sub} psub=${psub} ssub=${ssub} multi=${state?.multi ?? -1} qbuf=${running ? respLength(running) : 0} ` +
    "qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r " +
    `cmd=${c.lastCommand} user=${c.user} redir=-1 ` +
    `resp=${c.protocol} lib-name=${c.libName} lib-ver=${c.libVer}`
  );
}

/** The bytes of `argv` as a RESP array of bulk strings. */
function respLength(argv: readonly Uint8Array[]): number {
  let n = `*${argv.length}\r\n`.length;
  for (const a of argv) n += `$${a.length}\r\n`.length + a.length + 2;
  return n;
}

function client(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const sub = lower(argv[1]!);
  const arity = (n: number) => ((n > 0 ? argv.length !== n : argv.length < -n) ? E.arity(`client|${sub}`) : undefined);
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
      if (invalid && argv[3]!.length > 0)
        return err(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
      if (attr === "lib-name") s.client.libName = str(argv[3]!);
      else s.client.libVer = str(argv[3]!);
      return OK;
    }
    case "list": {
      let ids: Set<number> | undefined;
      if (argv.length > 2) {
        if (lower(argv[2]!) === "type" && argv.length === 4) {
          const t = lower(argv[3]!);
          if (!["normal", "master", "replica", "pubsub"].includes(t))
            return err(`ERR Unknown client type '${str(argv[3]!)}'`);
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
      const lines = s
        .clients()
        .filter((c) => !ids || ids.has(c.id))
        .map((c) => `${clientLine(c, s.now, c === s.client ? argv : undefined)}\n`);
      return verbatim(lines.join(""));
    }
    case "pause":
    case "unpause":
      return clientPauseCommand(s, argv);
    case "info":
      return arity(2) ?? verbatim(`${clientLine(s.client, s.now, argv)}\n`);
    case "kill": {
      const bad = arity(-3);
      if (bad) return bad;
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
        } else if (k === "type" && !["normal", "master", "replica", "slave", "pubsub"].includes(v.toLowerCase())) {
          return err(`ERR Unknown client type '${v}'`);
        } else if (k === "user" && !s.security.acl.get(v)) {
          return err(`ERR No such user '${v}'`);
        } else if (!["id", "addr", "laddr", "user", "type"].includes(k)) return E.syntax;
      }
      for (const c of s.clients()) {
        const match = filters.every(([k, v]) =>
          k === "skipme"
            ? true
            : k === "id"
              ? String(c.id) === v
              : k === "addr"
                ? c.addr === v
                : k === "laddr"
                  ? c.laddr === v
                  : k === "user"
                    ? v === "default"
                    : v === "normal",
        );
        if (!match || (skipMe && c.id === s.client.id)) continue;
        if (c.id === s.client.id) s.closeAfterReply();
        else s.kill(c.id);
        killed++;
      }
      return int(killed);
    }
    case "unblock": {
      if (argv.length !== 3 && argv.length !== 4) return E.syntax;
      const id = parseInt64(argv[2]!);
      if (id === undefined) return E.notInt;
      const mode = argv.length === 4 ? lower(argv[3]!) : "timeout";
      if (mode !== "timeout" && mode !== "error") return err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
      return int(s.unblock(Number(id), mode === "error") ? 1 : 0);
    }
    case "tracking":
      return clientTracking(s, argv);
    case "routing":
      return clientRouting(s, argv);
    case "caching": {
      const bad = arity(3);
      if (bad) return bad;
      const opt = lower(argv[2]!);
      if (opt !== "yes" && opt !== "no") return E.syntax;
      const refused = tracking(s).caching(opt === "yes");
      return refused ? err(refused) : OK;
    }
    case "getredir":
      return arity(2) ?? int(tracking(s).info().redirect);
    case "trackinginfo": {
      const bad = arity(2);
      if (bad) return bad;
      const i = tracking(s).info();
      return map([
        [bulk("flags"), set(i.flags.map((f) => bulk(f)))],
        [bulk("redirect"), int(i.redirect)],
        [bulk("prefixes"), array(i.prefixes.map((p) => bulk(p)))],
      ]);
    }
    case "reply": {
      const bad = arity(3);
      if (bad) return bad;
      const mode = lower(argv[2]!);
      if (mode !== "on" && mode !== "off" && mode !== "skip") return E.syntax;
      s.replyMode(mode);
      return OK;
    }
    case "no-evict":
    case "no-touch":
      return arity(3) ?? (["on", "off"].includes(lower(argv[2]!)) ? OK : E.syntax);
    case "help":
      return array(
        [
          "CLIENT <subcommand>: ID, GETNAME, SETNAME <name>, SETINFO <LIB-NAME|LIB-VER> <value>, LIST [TYPE t|ID id...], INFO, KILL <addr>|<filter> <value>...",
        ].map((x) => simple(x)),
      );
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try CLIENT HELP.`);
  }
}

/** Connections that cannot be pushed to (HTTP) track nothing: they see tracking as always off. */
const NO_TRACKING: TrackingApi = {
  enable: () => "ERR client tracking needs a RESP connection",
  disable: () => {},
  caching: () =>
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
  info: () => ({ flags: ["off"], redirect: -1, prefixes: [] }),
  readKeys: () => {},
  commandDone: () => {},
  options: () => undefined,
  flushed: () => {},
};

const tracking = (s: SessionApi): TrackingApi => s.pubsub?.tracking ?? NO_TRACKING;

/** CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]. */
function clientTracking(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  if (argv.length < 3) return E.arity("client|tracking");
  let redirect: number | undefined;
  const prefixes: Uint8Array[] = [];
  const flags = new Set<string>();
  for (let i = 3; i < argv.length; i++) {
    const opt = lower(argv[i]!);
    const more = i + 1 < argv.length;
    if (opt === "redirect" && more) {
      if (redirect !== undefined) return err("ERR A client can only redirect to a single other client");
      const id = parseInt64(argv[++i]!);
      if (id === undefined) return E.notInt;
      redirect = Number(id);
    } else if (opt === "prefix" && more) prefixes.push(argv[++i]!);
    else if (["bcast", "optin", "optout", "noloop"].includes(opt)) flags.add(opt);
    else return E.syntax;
  }
  const mode = lower(argv[2]!);
  if (mode === "off") {
    tracking(s).disable();
    return OK;
  }
  if (mode !== "on") return E.syntax;
  const refused = tracking(s).enable({
    ...(redirect !== undefined ? { redirect } : {}),
    prefixes,
    bcast: flags.has("bcast"),
    optin: flags.has("optin"),
    optout: flags.has("optout"),
    noloop: flags.has("noloop"),
  });
  return refused ? err(refused) : OK;
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

export const CONNECTION_COMMANDS = define("connection", [
  {
    name: "ping",
    arity: -1,
    flags: ["fast"],
    since: "1.0.0",
    summary: "Returns the server's liveliness response.",
    exec: (_s, argv) => {
      if (argv.length > 2) return E.arity("ping");
      return argv.length === 2 ? bulk(argv[1]!) : simple("PONG");
    },
  },
  {
    name: "echo",
    arity: 2,
    flags: ["fast"],
    since: "1.0.0",
    summary: "Returns the given string.",
    exec: (_s, argv) => bulk(argv[1]!),
  },
  {
    name: "auth",
    arity: -2,
    flags: ["noauth", "fast"],
    since: "1.0.0",
    summary: "Authenticates the connection.",
    exec: (s, argv) => {
      if (argv.length > 3) return E.syntax;
      if (argv.length === 2 && defaultUserHasNoPassword(s)) {
        return err(
          "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
      }
      const user = argv.length === 3 ? str(argv[1]!) : DEFAULT_USER;
      return authenticate(s, str(argv[0]!), user, argv[argv.length - 1]!, () => OK);
    },
  },
  {
    name: "hello",
    arity: -1,
    flags: ["noauth", "fast"],
    since: "6.0.0",
    summary: "Handshakes with the server: protocol version, authentication, client name.",
    exec: hello,
  },
  {
    name: "select",
    arity: 2,
    flags: ["fast"],
    since: "1.0.0",
    summary: "Changes the selected database.",
    exec: (s, argv) => {
      const db = parseDbIndex(argv[1]!);
      if (typeof db !== "number") return db;
      if (db < 0 || db >= Number(s.server.configValue("databases") ?? 1)) return E.dbIndex;
      s.client.db = db;
      return OK;
    },
  },
  {
    name: "quit",
    arity: -1,
    flags: ["noauth", "fast"],
    since: "1.0.0",
    summary: "Closes the connection.",
    exec: (s) => {
      s.closeAfterReply();
      return OK;
    },
  },
  {
    name: "reset",
    arity: 1,
    flags: ["noauth", "fast"],
    since: "6.2.0",
    summary: "Resets the connection.",
    exec: (s) => {
      s.resetState();
      for (const kind of ["channel", "pattern", "shard"] as const) {
        for (const name of s.pubsub?.subscriptions(kind) ?? []) s.pubsub!.unsubscribe(kind, name);
      }
      s.pubsub?.tracking?.disable();
      s.client.db = 0;
      s.client.protocol = 2;
      s.client.name = "";
      delete s.client.routing;
      s.client.user = DEFAULT_USER;
      s.client.authenticated = defaultUserOpen(s);
      return simple("RESET");
    },
  },
  {
    name: "monitor",
    arity: 1,
    flags: ["admin"],
    since: "1.0.0",
    summary: "Listens for all requests received by the server in real time.",
    exec: (s) => {
      if (!s.pubsub?.monitor) return err("ERR MONITOR needs a RESP connection");
      s.pubsub.monitor();
      return OK;
    },
  },
  {
    name: "client",
    arity: -2,
    flags: [],
    since: "2.4.0",
    subcommands: subcommands([
      ["getname", 2],
      ["help", 2],
      ["id", 2],
      ["info", 2],
      ["kill", -3],
      ["list", -2],
      ["no-evict", 3],
      ["setname", 3],
      ["tracking", -3],
      ["caching", 3],
      ["getredir", 2],
      ["trackinginfo", 2],
      ["reply", 3],
      ["pause", -3],
      ["unpause", 2],
      ["routing", -2],
    ]),
    summary:
      "Client connection commands: ID, SETNAME, GETNAME, LIST, INFO, SETINFO, KILL, TRACKING, CACHING, REPLY, PAUSE, UNPAUSE, ROUTING.",
    exec: client,
  },
]);
