// ACL users on the session: the ACL command, AUTH/HELLO AUTH against the users, and the
// permission check every command passes (src/commands/session.ts). The users themselves, their
// rule language and the ACL LOG live in src/acl.
import {
  type AclCommand,
  AclRuleError,
  type AclSelector,
  type AclUser,
  CATEGORIES,
  type KeyUse,
  UnmatchedSelectorError,
} from "../acl/user.ts";
import { DEFAULT_USER, type DenialReason } from "../acl/registry.ts";
import {
  array,
  bulk,
  bulkArray,
  double,
  err,
  int,
  map,
  NULL_BULK,
  OK,
  type Reply,
  set,
  simple,
} from "../resp/reply.ts";
import { define, subcommands } from "./define.ts";
import { keyFlagsOf } from "./command-info.ts";
import { clientLine, commandKeys } from "./connection.ts";
import type { CommandSpec, SessionApi } from "./types.ts";
import { ascii, E, lower, parseInt64, str } from "./util.ts";

/** The data-type category of each command group. */
const GROUP_CATEGORY: Readonly<Record<string, string>> = {
  string: "string",
  bitmap: "bitmap",
  list: "list",
  hash: "hash",
  set: "set",
  sortedset: "sortedset",
  geo: "geo",
  hyperloglog: "hyperloglog",
  stream: "stream",
  pubsub: "pubsub",
  transactions: "transaction",
  connection: "connection",
  scripting: "scripting",
  generic: "keyspace",
};
/** Commands Redis puts in @dangerous without flagging them admin. */
const DANGEROUS = new Set(["flushall", "flushdb", "keys", "sort", "info", "client", "swapdb", "migrate", "restore"]);
/** Server commands Redis counts in @keyspace. */
const KEYSPACE = new Set(["dbsize", "flushdb", "flushall", "select", "swapdb", "move", "copy", "randomkey"]);
/** Subcommands of admin commands that Redis leaves out of @admin and @dangerous. */
const HARMLESS_SUBS = new Set(["acl|whoami", "acl|cat", "acl|genpass", "acl|help", "config|help", "client|id"]);

/** The ACL categories of a command, derived from its group and flags as Redis assigns them. */
export function categoriesOf(spec: CommandSpec): string[] {
  const cats = new Set<string>();
  const type =
    spec.group === "blocking" ? (spec.name.startsWith("bz") ? "sortedset" : "list") : GROUP_CATEGORY[spec.group];
  if (type) cats.add(type);
  if (KEYSPACE.has(spec.name)) cats.add("keyspace");
  if (spec.flags.includes("write")) cats.add("write");
  if (spec.flags.includes("readonly")) cats.add("read");
  if (spec.flags.includes("admin")) cats.add("admin").add("dangerous");
  if (DANGEROUS.has(spec.name)) cats.add("dangerous");
  if (spec.flags.includes("blocking")) cats.add("blocking");
  cats.add(spec.flags.includes("fast") ? "fast" : "slow");
  return CATEGORIES.filter((c) => cats.has(c));
}

/** Every command and subcommand of the table, as the ACL rules name them. */
export function aclCatalog(table: ReadonlyMap<string, CommandSpec>): AclCommand[] {
  const out: AclCommand[] = [];
  for (const spec of table.values()) {
    if (spec.name.startsWith("__")) continue;
    const cats = categoriesOf(spec);
    const subs = (spec.subcommands ?? []).map((s) => `${spec.name}|${s.name}`);
    out.push({ name: spec.name, categories: cats, subcommands: subs });
    for (const sub of subs) {
      const subCats = HARMLESS_SUBS.has(sub) ? cats.filter((c) => c !== "admin" && c !== "dangerous") : cats;
      out.push({ name: sub, categories: subCats, subcommands: [] });
    }
  }
  return out;
}

/** `name` or `name|sub` when the command has that subcommand. */
function fullName(spec: CommandSpec, argv: readonly Uint8Array[]): string {
  if (!spec.subcommands || argv.length < 2) return spec.name;
  const sub = lower(argv[1]!.subarray(0, 64));
  return spec.subcommands.some((s) => s.name === sub) ? `${spec.name}|${sub}` : spec.name;
}

const keyUse = (flags: readonly string[]): KeyUse => ({
  read: flags.includes("access"),
  write: flags.includes("insert") || flags.includes("delete") || flags.includes("update"),
});

/** Each key of the call with how it is used. */
function keysWithUse(spec: CommandSpec, argv: readonly Uint8Array[]): { at: number; key: Uint8Array; use: KeyUse }[] {
  const sub =
    spec.subcommands && argv.length > 1 ? spec.subcommands.find((s) => s.name === lower(argv[1]!)) : undefined;
  if (sub?.key)
    return [{ at: sub.key.at, key: argv[sub.key.at]!, use: keyUse(sub.key.flags.toLowerCase().split(" ")) }];
  if (spec.firstKey === 0 && !spec.keys) return [];
  const keys = commandKeys(spec, argv);
  if (keys.length === 0) return [];
  const [first, rest] = keyFlagsOf(spec, argv);
  return keys.map((key, i) => ({
    at: argv.indexOf(key),
    key,
    use: keyUse((i === 0 ? first : rest).map((f) => f.toLowerCase())),
  }));
}

/** Channel arguments of the pub/sub commands, and whether they are patterns. */
function channelsOf(name: string, argv: readonly Uint8Array[]): { at: number; pattern: boolean }[] {
  switch (name) {
    case "publish":
    case "spublish":
      return argv.length > 1 ? [{ at: 1, pattern: false }] : [];
    case "subscribe":
    case "ssubscribe":
    case "psubscribe":
      return argv.slice(1).map((_, i) => ({ at: i + 1, pattern: name === "psubscribe" }));
    default:
      return [];
  }
}

type Denial = { reason: Exclude<DenialReason, "auth">; at: number; object: string };

/** Which denial Redis reports when no selector allows a call: channel over key over command. */
const DENIAL_RANK = { command: 1, key: 2, channel: 4 } as const;

/** Why this one selector does not allow the call: the command, then the first key, then the first channel. */
function selectorDenial(sel: AclSelector, spec: CommandSpec, argv: readonly Uint8Array[]): Denial | undefined {
  if (sel.unrestricted()) return undefined;
  const full = fullName(spec, argv);
  if (!spec.flags.includes("noauth") && !sel.canRun(full)) return { reason: "command", at: 0, object: full };
  if (!sel.allKeys) {
    for (const k of keysWithUse(spec, argv)) {
      if (!sel.canAccessKey(k.key, k.use)) return { reason: "key", at: k.at, object: str(k.key) };
    }
  }
  if (!sel.allChannels) {
    for (const c of channelsOf(spec.name, argv)) {
      if (!sel.canAccessChannel(argv[c.at]!, c.pattern))
        return { reason: "channel", at: c.at, object: str(argv[c.at]!) };
    }
  }
  return undefined;
}

/**
 * Why `user` may not run this call, or undefined when its own rules or any one of its selectors
 * allow all of it (Redis's ACLCheckAllUserCommandPerm: the reported denial is the highest ranked,
 * then the one at the last argument).
 */
function denial(user: AclUser, spec: CommandSpec, argv: readonly Uint8Array[]): Denial | undefined {
  // Checked on every command: the root selector first, with no array built for a user without selectors.
  let worst = selectorDenial(user, spec, argv);
  if (!worst) return undefined;
  for (const sel of user.selectors) {
    const d = selectorDenial(sel, spec, argv);
    if (!d) return undefined;
    const rank = DENIAL_RANK[d.reason];
    const worstRank = DENIAL_RANK[worst.reason];
    if (rank > worstRank || (rank === worstRank && d.at > worst.at)) worst = d;
  }
  return worst;
}

/**
 * The session's check before a command runs or is queued: -NOPERM (logged in ACL LOG) when the
 * connection's user may not run it, on these keys or channels.
 */
export function aclRefusal(
  s: SessionApi,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
  inMulti: boolean,
): Reply | undefined {
  const acl = s.security.acl;
  // A deleted user's connections are closed in Redis; here they lose every permission at once.
  const user = acl.get(s.client.user);
  if (user?.unrestricted()) return undefined;
  // AUTH and the like stay open, so such a connection can become another user.
  const d = user
    ? denial(user, spec, argv)
    : spec.flags.includes("noauth")
      ? undefined
      : { reason: "command" as const, at: 0, object: fullName(spec, argv) };
  if (!d) return undefined;
  acl.record({
    reason: d.reason,
    context: inMulti ? "multi" : "toplevel",
    object: d.object,
    username: s.client.user,
    at: s.now,
    clientInfo: clientLine(s.client, s.now),
  });
  s.security.refused({ reason: d.reason, username: s.client.user, object: d.object, addr: s.client.addr });
  return d.reason === "command"
    ? err(`NOPERM this user has no permissions to run the '${d.object}' command`)
    : err(`NOPERM this user has no permissions to access one of the ${d.reason}s used as arguments`);
}

/**
 * The check of an HTTP admin endpoint (`POST /cluster/join`, `GET /backup` …) for a session signed
 * in as an ACL user: it needs every @admin command, and a backup reads on every key too. -NOPERM,
 * logged and kept in ACL LOG as a refused command is, or undefined when allowed.
 */
export function httpAdminRefusal(s: SessionApi, endpoint: string, readsEveryKey: boolean): Reply | undefined {
  const user = s.security.acl.get(s.client.user);
  if (user?.canRunCategory("admin") && (!readsEveryKey || user.readsEveryKey())) return undefined;
  s.security.acl.record({
    reason: "command",
    context: "toplevel",
    object: endpoint,
    username: s.client.user,
    at: s.now,
    clientInfo: clientLine(s.client, s.now),
  });
  s.security.refused({ reason: "command", username: s.client.user, object: endpoint, addr: s.client.addr });
  const needs = readsEveryKey ? "every @admin command and reads on every key (%R~*)" : "every @admin command";
  return err(`NOPERM this user has no permissions to use ${endpoint}: it needs ${needs}`);
}

const WRONGPASS = err("WRONGPASS invalid username-password pair or user is disabled.");

/** The client's IP without the port: failed AUTHs are counted per source. */
const sourceOf = (addr: string) => addr.replace(/:\d+$/, "");

/**
 * Checks a user name and password (AUTH, HELLO AUTH) and makes the connection that user. A source
 * with recent failures waits before its attempt is checked (src/acl/registry.ts, authDelay);
 * `then` runs on success, and its reply is the command's.
 */
export function authenticate(
  s: SessionApi,
  command: string,
  username: string,
  password: Uint8Array,
  then: () => Reply,
): Reply | Promise<Reply> {
  const acl = s.security.acl;
  const source = sourceOf(s.client.addr);
  const delay = acl.authDelay(source, s.now);
  const check = (): Reply => {
    const ok = acl.authenticate(username, password);
    acl.authResult(source, !ok, s.now, delay > 0);
    if (ok) {
      s.client.authenticated = true;
      s.client.user = username;
      return then();
    }
    acl.record({
      reason: "auth",
      context: "toplevel",
      object: command,
      username,
      at: s.now,
      clientInfo: clientLine(s.client, s.now),
    });
    s.security.refused({ reason: "auth", username, object: command, addr: s.client.addr });
    return WRONGPASS;
  };
  return delay > 0 ? s.security.wait(delay).then(check) : check();
}

/** The default user has no password: AUTH <password> is a configuration mistake (Redis's wording). */
export function defaultUserHasNoPassword(s: SessionApi): boolean {
  return s.security.acl.get(DEFAULT_USER)?.nopass === true;
}

const GENPASS_MAX_BITS = 4096;

function getUser(s: SessionApi, name: string): Reply {
  const u = s.security.acl.get(name);
  if (!u) return NULL_BULK;
  return map([
    [bulk("flags"), set(u.flags().map((f) => bulk(f)))],
    [bulk("passwords"), bulkArray(u.passwords)],
    [bulk("commands"), bulk(u.commandRules())],
    [bulk("keys"), bulk(u.keyRules())],
    [bulk("channels"), bulk(u.channelRules())],
    [
      bulk("selectors"),
      array(
        u.selectors.map((sel) =>
          map([
            [bulk("commands"), bulk(sel.commandRules())],
            [bulk("keys"), bulk(sel.keyRules())],
            [bulk("channels"), bulk(sel.channelRules())],
          ]),
        ),
      ),
    ],
  ]);
}

function log(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  let count = 10;
  if (argv.length === 3) {
    if (lower(argv[2]!) === "reset") {
      s.security.acl.resetLog();
      return OK;
    }
    const n = parseInt64(argv[2]!);
    if (n === undefined) return E.notInt;
    count = n < 0n ? 0 : Number(n);
  }
  return array(
    s.security.acl.logEntries(count).map((e) =>
      map([
        [bulk("count"), int(e.count)],
        [bulk("reason"), bulk(e.reason)],
        [bulk("context"), bulk(e.context)],
        [bulk("object"), bulk(e.object)],
        [bulk("username"), bulk(e.username)],
        [bulk("age-seconds"), double((s.now - e.at) / 1000)],
        [bulk("client-info"), bulk(e.clientInfo)],
      ]),
    ),
  );
}

function dryrun(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const name = str(argv[2]!);
  const u = s.security.acl.get(name);
  if (!u) return err(`ERR User '${name}' not found`);
  const call = argv.slice(3);
  const spec = s.table.get(lower(call[0]!));
  if (!spec || spec.name.startsWith("__")) return err(`ERR Command '${str(call[0]!)}' not found`);
  if (spec.arity > 0 ? call.length !== spec.arity : call.length < -spec.arity) {
    return err(`ERR wrong number of arguments for '${fullName(spec, call)}' command`);
  }
  const d = denial(u, spec, call);
  if (!d) return OK;
  return bulk(
    d.reason === "command"
      ? `This user has no permissions to run the '${d.object}' command`
      : `This user has no permissions to access the '${d.object}' ${d.reason}`,
  );
}

const HELP = [
  "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CAT [<category>]",
  "    List all commands that belong to <category>, or all command categories",
  "    when no category is specified.",
  "DELUSER <username> [<username> ...]",
  "    Delete a list of users.",
  "DRYRUN <username> <command> [<arg> ...]",
  "    Returns whether the user can execute the given command without executing the command.",
  "GETUSER <username>",
  "    Get the user's details.",
  "GENPASS [<bits>]",
  "    Generate a secure 256-bit user password. The optional `bits` argument can",
  "    be used to specify a different size.",
  "LIST",
  "    Show users details in config file format.",
  "LOAD",
  "    Reload users from the ACL file.",
  "LOG [<count> | RESET]",
  "    Show the ACL log entries.",
  "SAVE",
  "    Save the current config to the ACL file.",
  "SETUSER <username> <attribute> [<attribute> ...]",
  "    Create or modify a user with the specified attributes.",
  "USERS",
  "    List all the registered usernames.",
  "WHOAMI",
  "    Return the current connection username.",
  "HELP",
  "    Prints this help.",
];

function acl(s: SessionApi, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
  const sub = lower(argv[1]!);
  const n = argv.length;
  const registry = s.security.acl;
  if (sub === "setuser" && n >= 3) {
    const name = str(argv[2]!);
    if (/[\s\0]/.test(name)) return err("ERR Usernames can't contain spaces or null characters");
    try {
      return s.security.changeUsers(() => registry.setUser(name, argv.slice(3).map(str)));
    } catch (e) {
      if (e instanceof AclRuleError || e instanceof UnmatchedSelectorError) return err(`ERR ${e.message}`);
      throw e;
    }
  }
  if (sub === "deluser" && n >= 3) {
    const names = argv.slice(2).map(str);
    if (names.includes(DEFAULT_USER)) return err("ERR The 'default' user cannot be removed");
    const existing = names.filter((name) => registry.get(name) !== undefined).length;
    if (existing === 0) return int(0);
    const r = s.security.changeUsers(() => registry.delUsers(names));
    const count = (reply: Reply) => (reply.t === "error" ? reply : int(existing));
    return r instanceof Promise ? r.then(count) : count(r);
  }
  if (sub === "getuser" && n === 3) return getUser(s, str(argv[2]!));
  if (sub === "list" && n === 2) return bulkArray(registry.serialize());
  if (sub === "users" && n === 2) return bulkArray(registry.list().map((u) => u.name));
  if (sub === "whoami" && n === 2) return bulk(s.client.user);
  if ((sub === "load" || sub === "save") && n === 2) return sub === "load" ? s.security.load() : s.security.save();
  if (sub === "cat" && n === 2) return bulkArray([...CATEGORIES]);
  if (sub === "cat" && n === 3) {
    const cat = lower(argv[2]!);
    if (!(CATEGORIES as readonly string[]).includes(cat)) return err(`ERR Unknown category '${str(argv[2]!)}'`);
    const names = aclCatalog(s.table).filter((c) => c.categories.includes(cat) && !c.name.includes("|"));
    return bulkArray(names.map((c) => c.name));
  }
  if (sub === "genpass" && (n === 2 || n === 3)) {
    const bits = n === 3 ? parseInt64(argv[2]!) : 256n;
    if (bits === undefined) return E.notInt;
    if (bits <= 0n || bits > BigInt(GENPASS_MAX_BITS)) {
      return err(
        `ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to ${GENPASS_MAX_BITS}`,
      );
    }
    const chars = Math.floor((Number(bits) + 3) / 4);
    const hex = Array.from(s.security.randomBytes(Math.ceil(chars / 2)), (b) => b.toString(16).padStart(2, "0"));
    return bulk(hex.join("").slice(0, chars));
  }
  if (sub === "log" && (n === 2 || n === 3)) return log(s, argv);
  if (sub === "dryrun" && n >= 4) return dryrun(s, argv);
  if (sub === "help" && n === 2) return array(HELP.map((l) => simple(l)));
  return err(`ERR unknown subcommand '${ascii(argv[1]!.subarray(0, 128))}'. Try ACL HELP.`);
}

export const ACL_COMMANDS = define("server", [
  {
    name: "acl",
    arity: -2,
    flags: ["admin"],
    since: "6.0.0",
    summary: "Manages the ACL users: create, change, list and delete them, and read the ACL log.",
    subcommands: subcommands([
      ["cat", -2],
      ["deluser", -3],
      ["dryrun", -4],
      ["genpass", -2],
      ["getuser", 3],
      ["help", 2],
      ["list", 2],
      ["load", 2],
      ["log", -2],
      ["save", 2],
      ["setuser", -3],
      ["users", 2],
      ["whoami", 2],
    ]),
    exec: acl,
  },
]);
