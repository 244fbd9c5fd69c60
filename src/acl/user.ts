// One ACL user as Redis 7 has it (src/acl.c at 7.0.15): enabled or not, password hashes, key
// patterns with read/write flags, channel patterns, and the commands it may run. Rules are
// applied as ACL SETUSER applies them; the user describes itself back in the same rule language
// (ACL LIST, ACL GETUSER, the aclfile). Pure: hashing and glob matching come from the caller.

/** Redis's categories, in ACL CAT's order. */
export const CATEGORIES = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
] as const;

/** A command as the ACL sees it: its full name (`config|get` for a subcommand) and categories. */
export interface AclCommand {
  readonly name: string;
  readonly categories: readonly string[];
  /** Full names of its subcommands; a rule on the container applies to each of them. */
  readonly subcommands: readonly string[];
}

/** What the pure core needs from its host. */
export interface AclDeps {
  /** Every command, containers first then their subcommands listed in `subcommands`. */
  readonly commands: readonly AclCommand[];
  /** Lower-case hex SHA-256 of the bytes, as Redis stores passwords. */
  sha256hex(data: Uint8Array): string;
  /** Redis's glob (stringmatchlen). */
  glob(pattern: Uint8Array, s: Uint8Array): boolean;
}

export interface KeyPattern {
  readonly pattern: string;
  readonly read: boolean;
  readonly write: boolean;
}

/** How the call uses a key, from the command's key spec (Redis: ACCESS → read; INSERT/DELETE/UPDATE → write). */
export interface KeyUse {
  readonly read: boolean;
  readonly write: boolean;
}

/** An error ACL SETUSER reports as `Error in ACL SETUSER modifier '<op>': <message>`. */
export class AclRuleError extends Error {
  constructor(
    readonly op: string,
    readonly reason: string,
  ) {
    super(`Error in ACL SETUSER modifier '${op}': ${reason}`);
  }
}

const SYNTAX = "Syntax error";
const UNKNOWN = "Unknown command or category name in ACL";
const KEY_AFTER_ALL =
  "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const CHANNEL_AFTER_ALL =
  "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist";
const BAD_HASH = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";

const HEX64 = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();
const hasSpace = (s: string) => /[\s\0]/.test(s);

/**
 * What one selector allows: commands, key patterns (read/write) and channel patterns. A user is
 * its root selector plus the selectors of `(…)` rules (Redis 7); a call is allowed when any one of
 * them allows all of it.
 */
export class AclSelector {
  allKeys = false;
  keys: KeyPattern[] = [];
  allChannels = false;
  channels: string[] = [];
  /** Started from +@all (future commands allowed) rather than -@all. */
  allCommands = false;
  /** Rules after the +@all/-@all base, in the order given, the last one per target kept. */
  private rules: string[] = [];
  /** Full names of the commands allowed. */
  private allowed = new Set<string>();

  constructor(protected readonly deps: AclDeps) {}

  /** Copies the selector's part of `from` into this one. */
  protected copySelector(from: AclSelector): this {
    this.allKeys = from.allKeys;
    this.keys = from.keys.map((k) => ({ ...k }));
    this.allChannels = from.allChannels;
    this.channels = [...from.channels];
    this.allCommands = from.allCommands;
    this.rules = [...from.rules];
    this.allowed = new Set(from.allowed);
    return this;
  }

  cloneSelector(): AclSelector {
    return new AclSelector(this.deps).copySelector(this);
  }

  /** Applies a rule a selector takes (keys, channels, commands); false for any other rule. */
  applySelectorRule(op: string): boolean {
    switch (op.toLowerCase()) {
      case "allkeys":
      case "~*":
        this.allKeys = true;
        this.keys = [];
        return true;
      case "resetkeys":
        this.allKeys = false;
        this.keys = [];
        return true;
      case "allchannels":
      case "&*":
        this.allChannels = true;
        this.channels = [];
        return true;
      case "resetchannels":
        this.allChannels = false;
        this.channels = [];
        return true;
      case "allcommands":
      case "+@all":
        this.setBase(true);
        return true;
      case "nocommands":
      case "-@all":
        this.setBase(false);
        return true;
    }
    const c = op[0];
    if (c === "~" || c === "%") this.keyPattern(op);
    else if (c === "&") this.channelPattern(op);
    else if (c === "+" || c === "-") this.commandRule(op, c === "+");
    else return false;
    return true;
  }

  private channelPattern(op: string): void {
    if (this.allChannels) throw new AclRuleError(op, CHANNEL_AFTER_ALL);
    const pattern = op.slice(1);
    if (hasSpace(pattern)) throw new AclRuleError(op, SYNTAX);
    if (!this.channels.includes(pattern)) this.channels.push(pattern);
  }

  private keyPattern(op: string): void {
    if (this.allKeys) throw new AclRuleError(op, KEY_AFTER_ALL);
    let read = true;
    let write = true;
    let at = 1;
    if (op[0] === "%") {
      read = write = false;
      for (; at < op.length; at++) {
        const f = op[at]!.toUpperCase();
        if (f === "R" && !read) read = true;
        else if (f === "W" && !write) write = true;
        else if (op[at] === "~") {
          at++;
          break;
        } else throw new AclRuleError(op, SYNTAX);
      }
    }
    const pattern = op.slice(at);
    if (hasSpace(pattern)) throw new AclRuleError(op, SYNTAX);
    const same = this.keys.findIndex((k) => k.pattern === pattern);
    if (same < 0) this.keys.push({ pattern, read, write });
    else this.keys[same] = { pattern, read: read || this.keys[same]!.read, write: write || this.keys[same]!.write };
  }

  private setBase(all: boolean): void {
    this.allCommands = all;
    this.rules = [];
    this.allowed = new Set(all ? this.deps.commands.flatMap((c) => [c.name, ...c.subcommands]) : []);
  }

  private commandRule(op: string, allow: boolean): void {
    const target = op.slice(1).toLowerCase();
    let names: string[];
    if (target.startsWith("@")) {
      const cat = target.slice(1);
      if (!(CATEGORIES as readonly string[]).includes(cat)) throw new AclRuleError(op, UNKNOWN);
      names = this.deps.commands.filter((c) => c.categories.includes(cat)).map((c) => c.name);
    } else {
      const cmd = this.deps.commands.find((c) => c.name === target);
      // Redis 7.0's first-argument rules (+select|0) are deprecated there and not supported here.
      if (!cmd) throw new AclRuleError(op, UNKNOWN);
      names = [cmd.name, ...cmd.subcommands];
    }
    for (const n of names) {
      if (allow) this.allowed.add(n);
      else this.allowed.delete(n);
    }
    // The same target later wins: drop its earlier mention so the description stays short.
    this.rules = this.rules.filter((r) => r.slice(1) !== target);
    this.rules.push(`${allow ? "+" : "-"}${target}`);
  }

  /** The command rules: `+@all`/`-@all` then the rules given since, as ACL GETUSER's "commands". */
  commandRules(): string {
    return [this.allCommands ? "+@all" : "-@all", ...this.rules].join(" ");
  }

  /** Key patterns as ACL GETUSER's "keys". */
  keyRules(): string {
    if (this.allKeys) return "~*";
    return this.keys.map((k) => `${k.read && k.write ? "~" : k.read ? "%R~" : "%W~"}${k.pattern}`).join(" ");
  }

  /** Channel patterns as ACL GETUSER's "channels". */
  channelRules(): string {
    return this.allChannels ? "&*" : this.channels.map((c) => `&${c}`).join(" ");
  }

  /** Keys, channels and commands in the rule language, as ACL LIST shows them. */
  describeSelector(): string {
    const keys = this.keyRules();
    const channels = this.allChannels ? "&*" : ["resetchannels", ...this.channels.map((c) => `&${c}`)].join(" ");
    return [...(keys === "" ? [] : [keys]), channels, this.commandRules()].join(" ");
  }

  /** Whether the full name (`get`, `config|get`) may run. */
  canRun(fullName: string): boolean {
    return this.allowed.has(fullName);
  }

  /** Whether every command of the category may run (what the HTTP admin endpoints ask of @admin). */
  canRunCategory(category: string): boolean {
    return this.deps.commands.every((c) => !c.categories.includes(category) || this.allowed.has(c.name));
  }

  /** Whether it may read every key (`~*`, `allkeys` or `%R~*`): what a whole backup reads. */
  readsEveryKey(): boolean {
    return this.allKeys || this.keys.some((k) => k.pattern === "*" && k.read);
  }

  canAccessKey(key: Uint8Array, use: KeyUse): boolean {
    if (this.allKeys) return true;
    return this.keys.some(
      (k) => (!use.read || k.read) && (!use.write || k.write) && this.deps.glob(encoder.encode(k.pattern), key),
    );
  }

  /**
   * A channel (PUBLISH, SUBSCRIBE) must match one of the patterns; a pattern subscribed to
   * (PSUBSCRIBE) must equal one of them literally, as in Redis.
   */
  canAccessChannel(channel: Uint8Array, isPattern: boolean): boolean {
    if (this.allChannels) return true;
    if (isPattern) {
      const text = new TextDecoder().decode(channel);
      return this.channels.includes(text);
    }
    return this.channels.some((c) => this.deps.glob(encoder.encode(c), channel));
  }

  /** Can do everything: the session skips key and channel checks. */
  unrestricted(): boolean {
    return this.allKeys && this.allChannels && this.allCommands && this.rules.length === 0;
  }
}

/** `(…)` rules that a client sent as several arguments (`(~a*` `+get)`) joined into one each, as Redis. */
export function mergeSelectorArgs(rules: readonly string[]): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const r of rules) {
    if (open === undefined && r.startsWith("(") && !r.endsWith(")")) open = r;
    else if (open !== undefined) {
      open = `${open} ${r}`;
      if (r.endsWith(")")) {
        out.push(open);
        open = undefined;
      }
    } else out.push(r);
  }
  if (open !== undefined) {
    throw new UnmatchedSelectorError(`Unmatched parenthesis in acl selector starting at '${open.split(" ")[0]}'.`);
  }
  return out;
}

/** A `(` rule with no closing `)` (Redis's wording in the message). */
export class UnmatchedSelectorError extends Error {}

export class AclUser extends AclSelector {
  enabled = false;
  nopass = false;
  /** RESTORE payload checks (Redis's sanitize-payload flags); set by `reset`, shown, not enforced. */
  sanitize: "" | "sanitize-payload" | "skip-sanitize-payload" = "";
  passwords: string[] = [];
  /** The selectors of `(…)` rules, after the user's own (root) one, in the order added. */
  selectors: AclSelector[] = [];

  constructor(
    readonly name: string,
    deps: AclDeps,
  ) {
    super(deps);
  }

  clone(name = this.name): AclUser {
    const u = new AclUser(name, this.deps).copySelector(this);
    u.enabled = this.enabled;
    u.nopass = this.nopass;
    u.sanitize = this.sanitize;
    u.passwords = [...this.passwords];
    u.selectors = this.selectors.map((s) => s.cloneSelector());
    return u;
  }

  /** Applies one rule; throws AclRuleError (and may have half-applied it: apply rules to a clone). */
  apply(op: string): void {
    if (op === "") return;
    const l = op.toLowerCase();
    switch (l) {
      case "on":
        this.enabled = true;
        return;
      case "off":
        this.enabled = false;
        return;
      case "nopass":
        this.nopass = true;
        this.passwords = [];
        return;
      case "resetpass":
        this.nopass = false;
        this.passwords = [];
        return;
      case "clearselectors":
        this.selectors = [];
        return;
      case "reset":
        for (const r of [
          "resetpass",
          "resetkeys",
          "resetchannels",
          "off",
          "clearselectors",
          "sanitize-payload",
          "-@all",
        ])
          this.apply(r);
        return;
      case "sanitize-payload":
      case "skip-sanitize-payload":
        this.sanitize = l;
        return;
    }
    const c = op[0];
    if (c === ">" || c === "<" || c === "#" || c === "!") this.password(op);
    else if (c === "(" && op.endsWith(")")) this.selectors.push(this.selector(op));
    else if (!this.applySelectorRule(op)) throw new AclRuleError(op, SYNTAX);
  }

  /** A `(…)` rule: a new selector from the keys, channels and commands rules inside. */
  private selector(op: string): AclSelector {
    const s = new AclSelector(this.deps);
    for (const rule of op.slice(1, -1).split(" ")) {
      if (rule === "") continue;
      try {
        if (!s.applySelectorRule(rule)) throw new AclRuleError(op, SYNTAX);
      } catch (e) {
        // Redis names the whole selector as the bad modifier.
        if (e instanceof AclRuleError) throw new AclRuleError(op, e.reason);
        throw e;
      }
    }
    return s;
  }

  private password(op: string): void {
    const hashed = op[0] === ">" || op[0] === "<";
    const hash = hashed ? this.deps.sha256hex(encoder.encode(op.slice(1))) : op.slice(1);
    if (!hashed && !HEX64.test(hash)) throw new AclRuleError(op, BAD_HASH);
    if (op[0] === ">" || op[0] === "#") {
      if (!this.passwords.includes(hash)) this.passwords.push(hash);
      this.nopass = false;
      return;
    }
    const at = this.passwords.indexOf(hash);
    if (at < 0) throw new AclRuleError(op, NO_SUCH_PASSWORD);
    this.passwords.splice(at, 1);
  }

  flags(): string[] {
    return [this.enabled ? "on" : "off", ...(this.nopass ? ["nopass"] : []), ...(this.sanitize ? [this.sanitize] : [])];
  }

  /** The user as one aclfile / ACL LIST line: `user <name> <rules…>`, which ACL SETUSER reads back. */
  describe(): string {
    const parts = [`user ${this.name}`, ...this.flags(), ...this.passwords.map((p) => `#${p}`)];
    parts.push(this.describeSelector(), ...this.selectors.map((s) => `(${s.describeSelector()})`));
    return parts.join(" ");
  }

  /** Constant-time over the stored hashes: true when `password` is one of them (or the user has nopass). */
  checkPassword(password: Uint8Array): boolean {
    return this.nopass || this.hasPasswordHash(this.deps.sha256hex(password));
  }

  /**
   * Constant-time over the stored hashes: true when `h` (a password's sha256 hex) is one of them,
   * nopass or not. Takes the hash so a token checked against every user is hashed once.
   */
  hasPasswordHash(h: string): boolean {
    let ok = false;
    for (const p of this.passwords) ok = sameText(p, h) || ok;
    return ok;
  }
}

/** Compares two equal-length hex strings without an early exit. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
