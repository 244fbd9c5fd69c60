// The HTTP API as small Hono handlers over a NodeStatus the node provides; the app itself holds
// no state, so the same handlers serve a standalone node now and a cluster member later.
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import type { Registry } from "prom-client";

export interface NodeStatus {
  /** Liveness: the process is up and its event loop answers. */
  live(): boolean;
  /** Readiness with the reason when not ready. */
  ready(): { ready: boolean; reason?: string };
  /** The /cluster/status document: the node alone, or with members and partitions in a cluster. */
  status(): Promise<object>;
  readonly metrics: Registry;
  readonly httpAuthToken: string;
}

/** Mutating endpoints require `Authorization: Bearer <http_auth_token>` when a token is set. */
export function requireToken(token: string): MiddlewareHandler {
  return async (c, next) => {
    if (token !== "" && c.req.header("authorization") !== `Bearer ${token}`) {
      return c.json({ error: "unauthorized: send Authorization: Bearer <http_auth_token>" }, 401);
    }
    await next();
  };
}

export function createHttpApp(node: NodeStatus): Hono {
  const app = new Hono();
  app.get("/health", (c) => (node.live() ? c.json({ status: "ok" }) : c.json({ status: "unhealthy" }, 503)));
  app.get("/ready", (c) => {
    const r = node.ready();
    return r.ready ? c.json({ ready: true }) : c.json({ ready: false, reason: r.reason }, 503);
  });
  app.get("/cluster/status", async (c) => c.json(await node.status()));
  app.get("/metrics", async (c) => {
    const body = await node.metrics.metrics();
    return c.body(body, 200, { "content-type": node.metrics.contentType });
  });
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((e, c) => c.json({ error: e.message }, 500));
  return app;
}
