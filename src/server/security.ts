// The node's side of ACL users (src/acl, src/commands/acl.ts): hashing, randomness, timers,
// logging of refusals, and where the users are kept — the aclfile when one is configured (ACL
// SAVE/LOAD, as Redis), else `<data_dir>/users.acl`, rewritten (0600) after every change.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AclRegistry } from "../acl/registry.ts";
import type { AclCommand } from "../acl/user.ts";
import { globMatch } from "../commands/util.ts";
import { err, OK, type Reply } from "../resp/reply.ts";
import type { SecurityApi } from "../commands/types.ts";
import type { Logger } from "../log.ts";

export interface SecurityOptions {
  readonly commands: readonly AclCommand[];
  readonly requirepass: string;
  /** Redis's aclfile: users are loaded from it at start and by ACL LOAD, written by ACL SAVE. */
  readonly aclfile: string;
  /** Where users are kept without an aclfile; absent: in memory only. */
  readonly dataDir?: string;
  readonly log: Logger;
}

/** At most one log line per source and reason in this window; the others are counted in it. */
const LOG_EVERY_MS = 10_000;

const sha256hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export function createSecurity(opts: SecurityOptions): SecurityApi & { setRequirepass(p: string): void } {
  const acl = new AclRegistry(
    { commands: opts.commands, sha256hex, glob: (p, s) => globMatch(p, s) },
    opts.requirepass,
  );
  let requirepass = opts.requirepass;
  const file = opts.aclfile !== "" ? opts.aclfile : opts.dataDir ? join(opts.dataDir, "users.acl") : "";
  const readFile = () => acl.load(readFileSync(file, "utf8").split("\n"), requirepass);
  const writeFile = () => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${acl.serialize().join("\n")}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  };
  if (file !== "" && existsSync(file)) readFile();
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return {
    acl,
    setRequirepass(p) {
      requirepass = p;
      acl.setRequirepass(p);
    },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    refused(e) {
      const key = `${e.addr.replace(/:\d+$/, "")} ${e.reason}`;
      const now = Date.now();
      const last = lastLogged.get(key);
      if (last && now - last.at < LOG_EVERY_MS) {
        last.suppressed++;
        return;
      }
      if (lastLogged.size > 10_000) lastLogged.clear();
      lastLogged.set(key, { at: now, suppressed: 0 });
      const what = e.reason === "auth" ? "authentication failed" : `permission denied (${e.reason})`;
      opts.log.warn(what, {
        user: e.username,
        object: e.object,
        client: e.addr,
        ...(last?.suppressed ? { similar_since_last: last.suppressed } : {}),
      });
    },
    changeUsers(apply): Reply {
      apply();
      // With an aclfile, Redis keeps changes in memory until ACL SAVE; without one FlyDB keeps them itself.
      if (opts.aclfile === "" && file !== "") {
        try {
          writeFile();
        } catch (e) {
          return err(`ERR the users changed in memory but could not be saved to ${file}: ${(e as Error).message}`);
        }
      }
      return OK;
    },
    load() {
      if (opts.aclfile === "") return NO_ACLFILE;
      try {
        readFile();
        return OK;
      } catch (e) {
        return err(`ERR ${opts.aclfile}: ${(e as Error).message}`);
      }
    },
    save() {
      if (opts.aclfile === "") return NO_ACLFILE;
      try {
        writeFile();
        return OK;
      } catch (e) {
        opts.log.warn("ACL SAVE failed", { file, error: (e as Error).message });
        return err("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
      }
    },
  };
}

const NO_ACLFILE = err(
  "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
);
