// The node's ACL users (ACL SETUSER/DELUSER/LIST, AUTH) and what refused clients leave behind:
// ACL LOG entries and a per-source delay after failed AUTHs. Pure: the caller passes `now`.
import { type AclDeps, AclRuleError, AclUser, mergeSelectorArgs, UnmatchedSelectorError } from "./user.ts";

export const DEFAULT_USER = "default";

/** Why a command or AUTH was refused, as ACL LOG's "reason". */
export type DenialReason = "command" | "key" | "channel" | "auth";

export interface AclLogEntry {
  count: number;
  readonly reason: DenialReason;
  readonly context: "toplevel" | "multi";
  /** The command, key, channel, or for auth the command name (AUTH/HELLO). */
  readonly object: string;
  readonly username: string;
  /** Milliseconds: when it last happened. */
  at: number;
  /** CLIENT LIST's line of the client it last happened to. */
  clientInfo: string;
}

/** Entries that differ only in time within this window are counted together (Redis: 60 s). */
const GROUPING_MS = 60_000;
/** Redis's acllog-max-len default. */
const LOG_MAX = 128;
/** Failed AUTHs from one source before each further attempt is delayed. */
const FREE_FAILURES = 3;
const DELAY_STEP_MS = 100;
const DELAY_MAX_MS = 2000;
/** A source with no failure for this long starts over. */
const FORGET_FAILURES_MS = 10 * 60_000;

export class AclRegistry {
  private readonly users = new Map<string, AclUser>();
  private readonly log: AclLogEntry[] = [];
  /** Per source: failures counted, the last one, when the queue of delayed attempts ends, attempts queued. */
  private readonly failures = new Map<string, { count: number; last: number; nextAt: number; queued: number }>();
  /** Bumped on every change of the users, so copies elsewhere can tell they are stale. */
  version = 0;

  constructor(
    private readonly deps: AclDeps,
    requirepass: string,
  ) {
    this.users.set(DEFAULT_USER, this.defaultUser(requirepass));
  }

  private defaultUser(requirepass: string): AclUser {
    const u = new AclUser(DEFAULT_USER, this.deps);
    for (const r of ["on", "~*", "&*", "+@all"]) u.apply(r);
    this.setPass(u, requirepass);
    return u;
  }

  private setPass(u: AclUser, requirepass: string): void {
    u.apply("resetpass");
    u.apply(requirepass === "" ? "nopass" : `>${requirepass}`);
  }

  /** `requirepass` is the default user's only password (CONFIG SET requirepass, as Redis). */
  setRequirepass(requirepass: string): void {
    const u = this.users.get(DEFAULT_USER)!.clone();
    this.setPass(u, requirepass);
    this.users.set(DEFAULT_USER, u);
    this.version++;
  }

  get(name: string): AclUser | undefined {
    return this.users.get(name);
  }

  /** Sorted by name, as Redis's rax lists them. */
  list(): AclUser[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * All rules or none: throws AclRuleError naming the first bad one, or UnmatchedSelectorError. A
   * `(…)` selector may come as one rule or spread over several (`(~a*`, `+get)`).
   */
  setUser(name: string, rules: readonly string[]): void {
    const next = this.users.get(name)?.clone() ?? new AclUser(name, this.deps);
    for (const r of mergeSelectorArgs(rules)) next.apply(r);
    this.users.set(name, next);
    this.version++;
  }

  /** The users as they are now (users are replaced on change, never changed in place). */
  snapshot(): ReadonlyMap<string, AclUser> {
    return new Map(this.users);
  }

  restore(snapshot: ReadonlyMap<string, AclUser>): void {
    this.users.clear();
    for (const [n, u] of snapshot) this.users.set(n, u);
    this.version++;
  }

  /** Deletes the named users that exist; returns how many. The default user cannot be deleted. */
  delUsers(names: readonly string[]): number {
    let n = 0;
    for (const name of names) if (name !== DEFAULT_USER && this.users.delete(name)) n++;
    if (n > 0) this.version++;
    return n;
  }

  /** Every user as aclfile lines (ACL SAVE); without `default` for what a cluster replicates. */
  serialize(withDefault = true): string[] {
    return this.list()
      .filter((u) => withDefault || u.name !== DEFAULT_USER)
      .map((u) => u.describe());
  }

  /**
   * Replaces every user by the ones `lines` describe (ACL LOAD, aclfile at start, a replicated copy).
   * All or nothing; the default user stays as it is when the lines do not name it. Throws an Error
   * naming the line.
   */
  load(lines: readonly string[]): void {
    const users = new Map<string, AclUser>();
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const [word, name, ...rules] = line.split(/\s+/);
      if (word !== "user" || name === undefined) throw new Error(`line ${i + 1}: should start with user keyword`);
      if (users.has(name)) throw new Error(`line ${i + 1}: Duplicate user '${name}' found`);
      const u = new AclUser(name, this.deps);
      try {
        for (const r of mergeSelectorArgs(rules)) u.apply(r);
      } catch (e) {
        if (e instanceof AclRuleError) throw new Error(`line ${i + 1}: ${e.reason}. Invalid rule '${e.op}'`);
        if (e instanceof UnmatchedSelectorError) throw new Error(`line ${i + 1}: ${e.message}`);
        throw e;
      }
      users.set(name, u);
    });
    if (!users.has(DEFAULT_USER)) users.set(DEFAULT_USER, this.users.get(DEFAULT_USER)!);
    this.users.clear();
    for (const [n, u] of users) this.users.set(n, u);
    this.version++;
  }

  /** Checks a user name and password (AUTH, HELLO AUTH); a disabled or unknown user never passes. */
  authenticate(name: string, password: Uint8Array): boolean {
    const u = this.users.get(name);
    return u?.enabled === true && u.checkPassword(password);
  }

  /**
   * The enabled users that have `password` among their own (an HTTP bearer token is a user's
   * password); a nopass user has no token, since every token would match it.
   */
  usersWithPassword(password: Uint8Array): string[] {
    const h = this.deps.sha256hex(password);
    return [...this.users.values()].filter((u) => u.enabled && u.hasPasswordHash(h)).map((u) => u.name);
  }

  /** Records a denial, counted with a like one of the last minute (ACL LOG). */
  record(entry: Omit<AclLogEntry, "count">): void {
    const same = this.log
      .slice(0, 10)
      .findIndex(
        (e) =>
          e.reason === entry.reason &&
          e.context === entry.context &&
          e.object === entry.object &&
          e.username === entry.username &&
          Math.abs(entry.at - e.at) <= GROUPING_MS,
      );
    if (same >= 0) {
      const e = this.log.splice(same, 1)[0]!;
      e.count++;
      e.at = entry.at;
      e.clientInfo = entry.clientInfo;
      this.log.unshift(e);
      return;
    }
    this.log.unshift({ ...entry, count: 1 });
    if (this.log.length > LOG_MAX) this.log.pop();
  }

  /** Newest first. */
  logEntries(count: number): readonly AclLogEntry[] {
    return this.log.slice(0, count);
  }

  resetLog(): void {
    this.log.length = 0;
  }

  /**
   * How long an AUTH from `source` must wait before it is checked: nothing for the first few
   * failures, then a growing delay; attempts from one source queue behind each other, so parallel
   * connections do not multiply the rate.
   */
  authDelay(source: string, now: number): number {
    const f = this.failures.get(source);
    if (!f || now - f.last > FORGET_FAILURES_MS || f.count < FREE_FAILURES) return 0;
    // Attempts already queued count as failures to come: a pipeline of guesses grows the delay as it goes.
    const step = Math.min(DELAY_MAX_MS, DELAY_STEP_MS * (f.count + f.queued - FREE_FAILURES + 1));
    f.nextAt = Math.max(now, f.nextAt) + step;
    f.queued++;
    return f.nextAt - now;
  }

  /**
   * Counts a failed (true) or successful (false) AUTH from `source`, `delayed` when authDelay made
   * it wait; returns the failures counted so far.
   */
  authResult(source: string, failed: boolean, now: number, delayed: boolean): number {
    const f = this.failures.get(source);
    if (f && delayed) f.queued = Math.max(0, f.queued - 1);
    if (!failed) {
      if (f && f.queued === 0) this.failures.delete(source);
      else if (f) f.count = 0;
      return 0;
    }
    if (!f || now - f.last > FORGET_FAILURES_MS) {
      this.failures.set(source, { count: 1, last: now, nextAt: now, queued: f?.queued ?? 0 });
      return 1;
    }
    f.count++;
    f.last = now;
    if (this.failures.size > 10_000) this.forgetOld(now);
    return f.count;
  }

  private forgetOld(now: number): void {
    for (const [k, f] of this.failures) if (now - f.last > FORGET_FAILURES_MS) this.failures.delete(k);
  }
}
