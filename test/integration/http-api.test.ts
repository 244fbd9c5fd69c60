// The HTTP API of a standalone node: /kv goes through a session like a RESP client, and the
// cluster admin endpoints explain that they need a cluster member.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { loadConfig } from "../../src/config/load.ts";
import type { ConfigKey } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { startNode, type RunningNode } from "../../src/node.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-http-api-"));
const nodes: RunningNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function standalone(
  name: string,
  flags: Partial<Record<ConfigKey, unknown>> = {},
): Promise<{ node: RunningNode; url: string }> {
  const { config } = loadConfig({
    env: {},
    defaultConfigPath: join(dir, "none.toml"),
    flags: { node_id: name, bind_addr: "127.0.0.1:0", http_addr: "127.0.0.1:0", data_dir: join(dir, name), ...flags },
  });
  const node = await startNode(config, { log: createLogger("error", "text") });
  nodes.push(node);
  return { node, url: `http://127.0.0.1:${node.httpPort}` };
}

describe("standalone node, no token", () => {
  let url: string;
  let node: RunningNode;
  beforeAll(async () => ({ node, url } = await standalone("plain")));

  test("PUT, GET and DELETE /kv/:key act like SET, GET and DEL", async () => {
    expect((await fetch(`${url}/kv/greeting`, { method: "PUT", body: "hello world" })).status).toBe(200);
    const r = await fetch(`${url}/kv/greeting`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(await r.text()).toBe("hello world");
    const redis = new Redis({ port: node.respPort, host: "127.0.0.1" });
    try {
      expect(await redis.get("greeting")).toBe("hello world");
      await fetch(`${url}/kv/with%20space?ttl=100`, { method: "PUT", body: "x" });
      expect(await redis.ttl("with space")).toBeGreaterThan(90);
    } finally {
      redis.disconnect();
    }
    expect(await (await fetch(`${url}/kv/greeting`, { method: "DELETE" })).json()).toEqual({ deleted: 1 });
    expect(await (await fetch(`${url}/kv/greeting`, { method: "DELETE" })).json()).toEqual({ deleted: 0 });
    const missing = await fetch(`${url}/kv/greeting`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no such key" });
  });

  test("a bad TTL is the client's error", async () => {
    const r = await fetch(`${url}/kv/k?ttl=-5`, { method: "PUT", body: "x" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe("ERR invalid expire time in 'set' command");
  });

  test("cluster endpoints answer 409 on a standalone node", async () => {
    for (const [method, path, body] of [
      ["POST", "/cluster/leave", undefined],
      ["POST", "/cluster/join", JSON.stringify({ peers: ["127.0.0.1:7946"] })],
      ["GET", "/cluster/partitions", undefined],
    ] as const) {
      const r = await fetch(`${url}${path}`, { method, body });
      expect(r.status).toBe(409);
      expect(((await r.json()) as { error: string }).error).toContain("this node runs standalone");
    }
  });
});

describe("standalone node with requirepass", () => {
  test("without an http_auth_token, /kv cannot bypass the password", async () => {
    const { url } = await standalone("locked", { requirepass: "pw" });
    const r = await fetch(`${url}/kv/k`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: string }).error).toStartWith("NOAUTH");
    // Nor /backup, which holds every value.
    const backup = await fetch(`${url}/backup`);
    expect(backup.status).toBe(401);
    expect(((await backup.json()) as { error: string }).error).toMatch(/NOAUTH.*set http_auth_token/);
  });

  test("with an http_auth_token, the token stands in for AUTH", async () => {
    const { url } = await standalone("token", { requirepass: "pw", http_auth_token: "t0k" });
    expect((await fetch(`${url}/kv/k`, { method: "PUT", body: "v" })).status).toBe(401);
    expect(
      (await fetch(`${url}/kv/k`, { method: "PUT", body: "v", headers: { authorization: "Bearer t0k" } })).status,
    ).toBe(200);
    expect(await (await fetch(`${url}/kv/k`, { headers: { authorization: "Bearer t0k" } })).text()).toBe("v");
    expect((await fetch(`${url}/cluster/leave`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${url}/backup`)).status).toBe(401);
    const backup = await fetch(`${url}/backup`, { headers: { authorization: "Bearer t0k" } });
    expect(backup.status).toBe(200);
    expect(
      Buffer.from(await backup.arrayBuffer())
        .subarray(0, 8)
        .toString(),
    ).toBe("FLYDBBAK");
  });

  test("HTTP Basic credentials of an ACL user: /kv runs as that user, with its permissions", async () => {
    const { url, node } = await standalone("basic", { requirepass: "pw", http_auth_token: "t0k" });
    const basic = (user: string, pass: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`,
    });
    const admin = { authorization: "Bearer t0k" };
    expect((await fetch(`${url}/kv/app:1`, { method: "PUT", body: "v", headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/kv/secret`, { method: "PUT", body: "s", headers: admin })).status).toBe(200);
    // A reader of app:* only, made over RESP's ACL SETUSER through the default user's session.
    const made = await fetch(`${url}/kv/app:1`, { headers: basic("reader", "rp") });
    expect(made.status).toBe(401);
    expect(((await made.json()) as { error: string }).error).toStartWith("WRONGPASS");
    const c = new Redis({ port: node.respPort, host: "127.0.0.1", password: "pw" });
    await c.call("ACL", "SETUSER", "reader", "on", ">rp", "%R~app:*", "+get");
    c.disconnect();
    const ok = await fetch(`${url}/kv/app:1`, { headers: basic("reader", "rp") });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("v");
    const denied = await fetch(`${url}/kv/secret`, { headers: basic("reader", "rp") });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toStartWith("NOPERM");
    expect((await fetch(`${url}/kv/app:1`, { method: "PUT", body: "x", headers: basic("reader", "rp") })).status).toBe(
      403,
    );
  });
});
