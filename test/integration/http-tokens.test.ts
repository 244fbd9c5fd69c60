// Per-user HTTP bearer tokens on the real binary, with curl: a token is one of an ACL user's
// passwords, and the request runs with that user's permissions on /kv and the admin endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { ensureBinary, runTool, startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";

let node: FlyDBProcess;
const OPERATOR = "op-t0ken";

beforeAll(async () => {
  ensureBinary();
  node = await startFlyDB({
    binary: "dist",
    args: ["--log-level", "error", "--requirepass", "pw", "--http-auth-token", OPERATOR],
  });
  const r = new Redis({ port: node.port, host: "127.0.0.1", password: "pw" });
  try {
    await r.call("ACL", "SETUSER", "reader", "on", ">reader-token", "%R~*", "+@read");
    await r.call("ACL", "SETUSER", "ops", "on", ">ops-token", "~*", "&*", "+@all");
    // Two users sharing a password: the token names neither.
    await r.call("ACL", "SETUSER", "twin1", "on", ">shared", "~*", "+@all");
    await r.call("ACL", "SETUSER", "twin2", "on", ">shared", "~*", "+@all");
    await r.call("ACL", "SETUSER", "open", "on", "nopass", "~*", "+@all");
    await r.set("k", "v");
  } finally {
    r.disconnect();
  }
});
afterAll(async () => await node?.stop());

/** curl's status code and body, with `Authorization: Bearer <token>`. */
async function curl(method: string, path: string, token: string, body?: string): Promise<[number, string]> {
  const cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H", `Authorization: Bearer ${token}`];
  if (body !== undefined) cmd.push("--data-binary", body);
  const r = await runTool([...cmd, `${node.http}${path}`]);
  const at = r.stdout.lastIndexOf("\n");
  return [Number(r.stdout.slice(at + 1)), r.stdout.slice(0, at)];
}

describe("HTTP bearer tokens of ACL users", () => {
  test("a read-only user's token reads /kv but cannot write it; a wrong token is 401", async () => {
    expect(await curl("GET", "/kv/k", "reader-token")).toEqual([200, "v"]);
    const [put, putBody] = await curl("PUT", "/kv/k", "reader-token", "x");
    expect(put).toBe(403);
    expect(putBody).toContain("NOPERM this user has no permissions to run the 'set' command");
    const [wrong, wrongBody] = await curl("GET", "/kv/k", "not-a-token");
    expect(wrong).toBe(401);
    expect(wrongBody).toContain("WRONGPASS");
    expect(await curl("PUT", "/kv/k", "ops-token", "w")).toEqual([200, '{"ok":true}']);
    expect(await curl("GET", "/kv/k", OPERATOR)).toEqual([200, "w"]);
  });

  test("a token several users share, or any token for a nopass user, names nobody", async () => {
    expect((await curl("GET", "/kv/k", "shared"))[0]).toBe(401);
    expect((await curl("GET", "/kv/k", "anything"))[0]).toBe(401);
  });

  test("admin endpoints need a user with every @admin command (a backup: reads on every key too)", async () => {
    const [backup, text] = await curl("GET", "/backup", "reader-token");
    expect(backup).toBe(403);
    expect(text).toContain("NOPERM this user has no permissions to use GET /backup");
    expect((await curl("POST", "/cluster/leave", "reader-token"))[0]).toBe(403);
    expect((await curl("POST", "/cluster/leave", "bogus"))[0]).toBe(401);
    // Past the guard, a standalone node explains that it has no cluster.
    expect((await curl("POST", "/cluster/leave", "ops-token"))[0]).toBe(409);
    const [ok, dump] = await curl("GET", "/backup", "ops-token");
    expect(ok).toBe(200);
    expect(dump.startsWith("FLYDBBAK")).toBe(true);
  });

  test("refusals are in ACL LOG: the refused endpoint, and a token of nobody", async () => {
    const r = new Redis({ port: node.port, host: "127.0.0.1", password: "pw" });
    try {
      const log = (await r.call("ACL", "LOG")) as unknown[][];
      const entries = log.map((e) =>
        Object.fromEntries(Array.from({ length: e.length / 2 }, (_, i) => [e[2 * i], e[2 * i + 1]])),
      );
      expect(entries).toContainEqual(expect.objectContaining({ object: "GET /backup", username: "reader" }));
      expect(entries).toContainEqual(expect.objectContaining({ reason: "auth", username: "(bearer token)" }));
    } finally {
      r.disconnect();
    }
  });
});
