// The HTTP API as small Hono handlers over a NodeStatus the node provides; the app itself holds
// no state, so the same handlers serve a standalone node and a cluster member.
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import type { NodeMetrics } from "./metrics.ts";
import type { Reply } from "../resp/reply.ts";
import { RemoveRefused, type RemoveReport } from "../cluster/remove.ts";
import { UNKNOWN_OUTCOME } from "../cluster/core/write-outcome.ts";
import { parseHostPort } from "../net/hostport.ts";
import { consoleApp, type ConsoleSource } from "./console.ts";
import { backupRoutes } from "./backup.ts";
import type { BackupSource } from "../cluster/backup-source.ts";

/** What the cluster endpoints need; absent on a standalone node. */
export interface ClusterAdmin {
  /** GET /cluster/partitions. */
  partitions(): Promise<object>;
  /** POST /cluster/join: push-pull with these gossip addresses. */
  join(peers: readonly string[]): void;
  /** POST /cluster/leave: drain, then (when drained) leave and stop. */
  leave(timeoutMs: number): Promise<{ readonly drained: boolean } & object>;
  /**
   * POST /cluster/remove: removes another member (dead, or wiped) and waits until no group
   * counts its vote; throws RemoveRefused when the node is this one or alive.
   */
  remove(node: string, timeoutMs: number): Promise<RemoveReport>;
}

export interface NodeStatus {
  /** Liveness: the process is up and its event loop answers. */
  live(): boolean;
  /** Readiness with the reason when not ready. */
  ready(): { ready: boolean; reason?: string };
  /** The /cluster/status document: the node alone, or with members and partitions in a cluster. */
  status(): Promise<object>;
  readonly metrics: NodeMetrics;
  readonly httpAuthToken: string;
  /** "standalone", or "cluster" with the admin once the cluster node is up (undefined while it starts). */
  readonly mode: "standalone" | "cluster";
  cluster(): ClusterAdmin | undefined;
  /** What GET /backup reads; undefined while the data plane opens. */
  backup(): BackupSource | undefined;
  /**
   * Runs a data command through a session, exactly as a RESP client's (for /kv); with `as`, the
   * session first authenticates as that ACL user (AUTH, with its delay after failures).
   */
  command(argv: readonly Uint8Array[], as?: Caller): Promise<Reply>;
  /**
   * Authenticates `as` and checks that the user may use an admin endpoint (a backup reads every
   * key too): undefined when allowed, else the WRONGPASS or NOPERM error.
   */
  adminRefusal(as: Caller, endpoint: string, readsEveryKey: boolean): Promise<Reply | undefined>;
  /** What the web console at /ui shows beyond the endpoints above. */
  readonly console: ConsoleSource;
}

/**
 * An ACL user calling over HTTP: HTTP Basic credentials, or a bearer token that is one of the
 * user's passwords (the node finds the user).
 */
export type Caller = { readonly user: string; readonly password: string } | { readonly token: string };

/**
 * Who the request says it is: "operator" for `Bearer <http_auth_token>` (the default user, every
 * endpoint), an ACL user's Basic credentials or bearer token, or undefined without credentials.
 */
export function callerOf(c: Context, httpAuthToken: string): "operator" | Caller | undefined {
  const header = c.req.header("authorization") ?? "";
  if (header.startsWith("Bearer ")) {
    const token = header.slice("Bearer ".length);
    return httpAuthToken !== "" && token === httpAuthToken ? "operator" : { token };
  }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(header);
  if (!basic) return undefined;
  const text = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const LEAVE_TIMEOUT_MS = 60_000;
const MAX_LEAVE_TIMEOUT_MS = 600_000;

/**
 * HTTP status for a RESP error reply, by its code. 503 (retry me) only for the codes that say the
 * write was not applied; a write that may have been applied is 504: the gateway timed out.
 */
function errorStatus(message: string): 400 | 401 | 403 | 409 | 500 | 503 | 504 {
  const code = message.split(" ", 1)[0];
  if (code === "WRONGTYPE") return 409;
  if (code === "NOAUTH" || code === "WRONGPASS") return 401;
  if (code === "NOPERM") return 403;
  if (code === UNKNOWN_OUTCOME) return 504;
  if (code === "TRYAGAIN" || code === "CLUSTERDOWN" || code === "LOADING") return 503;
  if (code === "ERR") return 400;
  return 500;
}

export function createHttpApp(node: NodeStatus): Hono {
  const app = new Hono();
  const enc = new TextEncoder();
  const unauthorized = (c: Context) =>
    c.json(
      {
        error:
          "unauthorized: send Authorization: Bearer <http_auth_token or an ACL user's token>, or Basic user:password",
      },
      401,
    );
  /**
   * Admin endpoints: open to the operator's token; an ACL user needs every @admin command (and,
   * for a backup, reads on every key); without credentials, open only while no token is set.
   */
  const adminGuard =
    (readsEveryKey: boolean): MiddlewareHandler =>
    async (c, next) => {
      const who = callerOf(c, node.httpAuthToken);
      if (who === "operator") return next();
      if (who) {
        const refused = await node.adminRefusal(who, `${c.req.method} ${c.req.path}`, readsEveryKey);
        return refused?.t === "error" ? c.json({ error: refused.v }, errorStatus(refused.v)) : next();
      }
      if (node.httpAuthToken !== "") return unauthorized(c);
      // A backup is every value: served without credentials only where RESP needs no password
      // either (as /kv), so HTTP never gets around requirepass.
      if (!readsEveryKey) return next();
      const probe = await node.command([enc.encode("PING")]);
      if (probe.t !== "error") return next();
      return c.json({ error: `unauthorized: ${probe.v}; set http_auth_token to take backups over HTTP` }, 401);
    };
  const auth = adminGuard(false);
  app.get("/health", (c) => (node.live() ? c.json({ status: "ok" }) : c.json({ status: "unhealthy" }, 503)));
  app.get("/ready", (c) => {
    const r = node.ready();
    return r.ready ? c.json({ ready: true }) : c.json({ ready: false, reason: r.reason }, 503);
  });
  app.get("/cluster/status", async (c) => c.json(await node.status()));
  backupRoutes(app, adminGuard(true), () => node.backup());
  app.get("/metrics", async (c) => {
    const body = await node.metrics.text();
    return c.body(body, 200, { "content-type": node.metrics.contentType });
  });

  /** The cluster admin, or the response that explains why there is none. */
  const admin = (c: Context): ClusterAdmin | Response => {
    if (node.mode === "standalone") {
      return c.json(
        {
          error: `this node runs standalone; ${c.req.method} ${c.req.path} needs a cluster member (start with --bootstrap or --peers)`,
        },
        409,
      );
    }
    return node.cluster() ?? c.json({ error: "the cluster node is still starting; retry shortly" }, 503);
  };

  app.get("/cluster/partitions", async (c) => {
    const a = admin(c);
    return a instanceof Response ? a : c.json(await a.partitions());
  });
  /** Enough to name every seed of a large cluster; a longer list is refused rather than dialled. */
  const MAX_JOIN_PEERS = 64;
  app.post("/cluster/join", auth, async (c) => {
    const a = admin(c);
    if (a instanceof Response) return a;
    const body = (await c.req.json().catch(() => undefined)) as { peers?: unknown } | undefined;
    const peers = body?.peers;
    const valid = (p: unknown) => {
      if (typeof p !== "string" || p.length > 300) return false;
      try {
        const { host, port } = parseHostPort(p, "");
        return host !== "" && port > 0;
      } catch {
        return false;
      }
    };
    if (!Array.isArray(peers) || peers.length === 0 || peers.length > MAX_JOIN_PEERS || !peers.every(valid)) {
      return c.json(
        {
          error: `body must be {"peers": ["host:port", ...]} with 1 to ${MAX_JOIN_PEERS} gossip addresses of cluster members (ports 1-65535)`,
        },
        400,
      );
    }
    try {
      a.join(peers as string[]);
    } catch (e) {
      return c.json({ error: `cannot join ${peers.join(", ")}: ${(e as Error).message}` }, 400);
    }
    return c.json({ joining: peers });
  });
  /** The timeout_ms query parameter, or the response that explains why it is not one. */
  const waitLimit = (c: Context): number | Response => {
    const asked = c.req.query("timeout_ms");
    const timeoutMs = asked === undefined ? LEAVE_TIMEOUT_MS : Number(asked);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_LEAVE_TIMEOUT_MS) {
      return c.json({ error: `timeout_ms must be an integer from 0 to ${MAX_LEAVE_TIMEOUT_MS}` }, 400);
    }
    // Waiting can outlast Bun's 10 s idle timeout for a request that sends nothing meanwhile.
    (c.env as { timeout?: (req: Request, seconds: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
    return timeoutMs;
  };
  app.post("/cluster/leave", auth, async (c) => {
    const a = admin(c);
    if (a instanceof Response) return a;
    const timeoutMs = waitLimit(c);
    if (timeoutMs instanceof Response) return timeoutMs;
    const r = await a.leave(timeoutMs);
    return c.json(r, r.drained ? 200 : "error" in r && /no member|last member/.test(String(r.error)) ? 409 : 504);
  });
  app.post("/cluster/remove", auth, async (c) => {
    const a = admin(c);
    if (a instanceof Response) return a;
    const id = c.req.query("node");
    if (id === undefined || id === "") {
      return c.json({ error: "name the member to remove: POST /cluster/remove?node=<node id>" }, 400);
    }
    const timeoutMs = waitLimit(c);
    if (timeoutMs instanceof Response) return timeoutMs;
    try {
      const r = await a.remove(id, timeoutMs);
      // Not removed: still a voter somewhere when the wait ran out (504), or the removal was refused.
      return c.json(r, r.removed ? 200 : r.voter_groups.length > 0 ? 504 : 409);
    } catch (e) {
      if (e instanceof RemoveRefused) return c.json({ error: e.message }, 409);
      throw e;
    }
  });

  // /kv runs GET/SET/DEL through a session like any RESP client. Reading data is guarded like
  // writing it: with a token set, every /kv request needs it, or an ACL user's token or Basic
  // credentials, whose permissions then apply as over RESP.
  const kvAuth: MiddlewareHandler = async (c, next) =>
    callerOf(c, node.httpAuthToken) !== undefined || node.httpAuthToken === "" ? next() : unauthorized(c);
  const run = (c: Context, argv: Uint8Array[]) => {
    const who = callerOf(c, node.httpAuthToken);
    return node.command(argv, who === "operator" ? undefined : who);
  };
  app.get("/kv/:key", kvAuth, async (c) => {
    const r = await run(c, [enc.encode("GET"), enc.encode(c.req.param("key"))]);
    if (r.t === "nullbulk") return c.json({ error: "no such key" }, 404);
    if (r.t === "error") return c.json({ error: r.v }, errorStatus(r.v));
    if (r.t !== "bulk") return c.json({ error: `unexpected reply ${r.t}` }, 500);
    const body = typeof r.v === "string" ? enc.encode(r.v) : r.v;
    return c.body(body as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
  });
  app.put("/kv/:key", kvAuth, async (c) => {
    const value = new Uint8Array(await c.req.arrayBuffer());
    const argv = [enc.encode("SET"), enc.encode(c.req.param("key")), value];
    const ttl = c.req.query("ttl");
    if (ttl !== undefined) argv.push(enc.encode("EX"), enc.encode(ttl));
    const r = await run(c, argv);
    if (r.t === "error") return c.json({ error: r.v }, errorStatus(r.v));
    return c.json({ ok: true });
  });
  app.delete("/kv/:key", kvAuth, async (c) => {
    const r = await run(c, [enc.encode("DEL"), enc.encode(c.req.param("key"))]);
    if (r.t === "error") return c.json({ error: r.v }, errorStatus(r.v));
    return c.json({ deleted: r.t === "int" ? Number(r.v) : 0 });
  });

  app.route("/ui", consoleApp(node.console));

  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((e, c) => c.json({ error: e.message }, 500));
  return app;
}
