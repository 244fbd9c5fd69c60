// The node's side of ACL users (src/acl, src/commands/acl.ts): hashing, randomness, timers,
// logging of refusals, and where the users are kept. Standalone: the aclfile when one is
// configured (ACL SAVE/LOAD, as Redis), else `<data_dir>/users.acl`, rewritten (0600) after every
// change. In a cluster: the metadata group (MetaState.aclUsers), so a change made on any node
// holds on all of them; only `default` (requirepass) stays per node.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AclRegistry } from "../acl/registry.ts";
import type { AclCommand } from "../acl/user.ts";
import { globMatch } from "../commands/util.ts";
import { err, OK, type Reply } from "../resp/reply.ts";
import type { SecurityApi } from "../commands/types.ts";
import type { Logger } from "../log.ts";
import { ACL_VERSION_CHANGED, type MetaState } from "../cluster/core/meta.ts";

/** What the users need of a cluster node (src/cluster/cluster-node.ts). */
export interface AclCluster {
  meta(): MetaState;
  setAclUsers(users: readonly string[], ifVersion: number): Promise<Reply>;
}

/** How often a cluster node looks for users changed elsewhere (a change is seen within this, plus its commit). */
const CLUSTER_POLL_MS = 200;
/** Tries of a change that keeps meeting concurrent ones. */
const CLUSTER_TRIES = 10;

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

export interface NodeSecurity extends SecurityApi {
  setRequirepass(p: string): void;
  /** From now on the users are the cluster's; returns the stop of its polling. */
  attachCluster(cluster: AclCluster): () => void;
}

export function createSecurity(opts: SecurityOptions): NodeSecurity {
  const acl = new AclRegistry(
    { commands: opts.commands, sha256hex, glob: (p, s) => globMatch(p, s) },
    opts.requirepass,
  );
  const file = opts.aclfile !== "" ? opts.aclfile : opts.dataDir ? join(opts.dataDir, "users.acl") : "";
  const readFile = () => acl.load(readFileSync(file, "utf8").split("\n"));
  const writeFile = () => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${acl.serialize().join("\n")}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  };
  if (file !== "" && existsSync(file)) readFile();
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  let cluster: AclCluster | undefined;
  /** The metadata's user list last loaded (compared by reference: MetaState is replaced on change). */
  let loaded: readonly string[] | undefined;
  const syncFromCluster = (c: AclCluster) => {
    // Until the cluster has users of its own, the node keeps its (an aclfile's): the first change seeds them.
    const users = c.meta().aclUsers;
    if (users === undefined || users === loaded) return;
    try {
      acl.load(users);
      loaded = users;
    } catch (e) {
      opts.log.error("the cluster's ACL users could not be loaded", { error: (e as Error).message });
    }
  };
  /** Changes of this node waiting for the one before to be committed: one at a time per node. */
  let queue: Promise<unknown> = Promise.resolve();
  /**
   * Proposes the users `change` makes of the cluster's current ones, redone on a concurrent change
   * made elsewhere. Until it is committed this node's users are the cluster's plus this change.
   */
  const changeClusterUsers = async (c: AclCluster, change: () => void): Promise<Reply> => {
    for (let tries = 1; ; tries++) {
      syncFromCluster(c);
      const before = acl.snapshot();
      try {
        change();
      } catch (e) {
        return err(`ERR ${(e as Error).message}`);
      }
      const r = await c.setAclUsers(acl.serialize(false), c.meta().aclVersion ?? 0);
      if (r.t !== "error") return OK;
      // Back to what the cluster says before trying again.
      acl.restore(before);
      loaded = undefined;
      syncFromCluster(c);
      if (!r.v.includes(ACL_VERSION_CHANGED) || tries === CLUSTER_TRIES) return r;
      await new Promise((resolve) => setTimeout(resolve, 20 * tries + Math.random() * 50));
    }
  };
  return {
    acl,
    setRequirepass: (p) => acl.setRequirepass(p),
    attachCluster(c) {
      cluster = c;
      const timer = setInterval(() => syncFromCluster(c), CLUSTER_POLL_MS);
      timer.unref();
      syncFromCluster(c);
      return () => clearInterval(timer);
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
    changeUsers(apply): Reply | Promise<Reply> {
      if (cluster) {
        const c = cluster;
        // Checked now, so a bad rule is refused at once; made (and proposed) in turn.
        const before = acl.snapshot();
        apply();
        acl.restore(before);
        const done = queue.then(() => changeClusterUsers(c, apply));
        queue = done;
        return done;
      }
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
