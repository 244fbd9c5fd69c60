// ACL users on a real FlyDB process: kept across a restart (users.acl, 0600) without an aclfile;
// with one, ACL SAVE and ACL LOAD as Redis; repeated failed AUTHs from one source are slowed down
// and logged (once per window), and the refusals are in ACL LOG.
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startFlyDB, tempDir } from "../helpers/processes.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

describe("ACL users on a node", () => {
  test("users survive a restart, in <data_dir>/users.acl readable by the owner only", async () => {
    const kept = join(tempDir("acl-keep"), "data");
    const first = await startFlyDB({ dataDir: kept });
    let c = await RespClient.connect(first.port);
    expect(show(await c.call("ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "+@read"))).toBe("+OK");
    const before = show(await c.call("ACL", "LIST"));
    c.close();
    await first.stop();
    expect(statSync(join(kept, "users.acl")).mode & 0o777).toBe(0o600);
    const second = await startFlyDB({ dataDir: kept, nodeId: `e2e-${first.port}` });
    try {
      c = await RespClient.connect(second.port);
      expect(show(await c.call("ACL", "LIST"))).toBe(before);
      expect(show(await c.call("AUTH", "alice", "pw"))).toBe("+OK");
      expect(show(await c.call("SET", "app:1", "x"))).toContain("NOPERM");
      c.close();
    } finally {
      await second.stop();
    }
  }, 60_000);

  test("a deleted user's connection may run nothing but AUTH and the like", async () => {
    const fly = await startFlyDB({});
    try {
      const admin = await RespClient.connect(fly.port);
      await admin.call("ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*");
      const c = await RespClient.connect(fly.port);
      expect(show(await c.call("AUTH", "temp", "pw"))).toBe("+OK");
      expect(show(await admin.call("ACL", "DELUSER", "temp"))).toBe(":1");
      expect(show(await c.call("GET", "k"))).toBe("-NOPERM this user has no permissions to run the 'get' command");
      expect(show(await c.call("AUTH", "default", "x"))).toBe("+OK");
      expect(show(await c.call("GET", "k"))).toBe("nil($)");
      admin.close();
      c.close();
    } finally {
      await fly.stop();
    }
  }, 60_000);

  test("aclfile: loaded at start, ACL SAVE writes it, ACL LOAD reads it back", async () => {
    const dir = tempDir("aclfile");
    const file = join(dir, "users.acl");
    writeFileSync(file, "user bob on nopass ~* &* +@all -flushall\n");
    const fly = await startFlyDB({ args: ["--aclfile", file] });
    try {
      const c = await RespClient.connect(fly.port);
      expect(show(await c.call("AUTH", "bob", "anything"))).toBe("+OK");
      expect(show(await c.call("FLUSHALL"))).toBe("-NOPERM this user has no permissions to run the 'flushall' command");
      expect(show(await c.call("ACL", "SETUSER", "carol", "on", ">pw", "(~c:* +get)"))).toBe("+OK");
      expect(show(await c.call("ACL", "SAVE"))).toBe("+OK");
      expect(readFileSync(file, "utf8")).toContain("user carol on #");
      // A selector is written in parentheses, its rules separated by spaces, and read back as one.
      expect(readFileSync(file, "utf8")).toContain(" resetchannels -@all (~c:* resetchannels -@all +get)\n");
      expect(show(await c.call("ACL", "DELUSER", "carol"))).toBe(":1");
      expect(show(await c.call("ACL", "LOAD"))).toBe("+OK");
      expect(show(await c.call("ACL", "USERS"))).toBe('*[$"bob", $"carol", $"default"]');
      expect(show(await c.call("ACL", "DRYRUN", "carol", "get", "c:1"))).toBe("+OK");
      writeFileSync(file, "user dave on nopass +nosuchcommand\n");
      expect(show(await c.call("ACL", "LOAD"))).toContain("Unknown command or category name in ACL");
      expect(show(await c.call("ACL", "USERS"))).toBe('*[$"bob", $"carol", $"default"]');
      c.close();
    } finally {
      await fly.stop();
    }
  }, 60_000);

  test("failed AUTHs from one source are slowed down, logged once per window, and kept in ACL LOG", async () => {
    const fly = await startFlyDB({ args: ["--requirepass", "right"] });
    try {
      const c = await RespClient.connect(fly.port);
      const started = performance.now();
      // Pipelined: without the delay all eight come back at once.
      const replies = await Promise.all(Array.from({ length: 8 }, () => c.call("AUTH", "wrong")));
      const elapsed = performance.now() - started;
      for (const r of replies) expect(show(r)).toContain("WRONGPASS");
      // The first three are free, then 100 + 200 + 300 + 400 + 500 ms, one after the other.
      expect(elapsed).toBeGreaterThan(1400);
      // A right password from the same source waits its turn too, then clears the count.
      const t = performance.now();
      expect(show(await c.call("AUTH", "right"))).toBe("+OK");
      expect(performance.now() - t).toBeGreaterThan(500);
      const t2 = performance.now();
      expect(show(await c.call("AUTH", "right"))).toBe("+OK");
      expect(performance.now() - t2).toBeLessThan(400);
      const log = show(await c.call("ACL", "LOG", "1"));
      expect(log).toContain('$"count", :8, $"reason", $"auth"');
      // Denied commands (NOPERM) are logged the same way: once per window.
      expect(show(await c.call("ACL", "SETUSER", "ro", "on", ">p", "~*", "+get"))).toBe("+OK");
      expect(show(await c.call("AUTH", "ro", "p"))).toBe("+OK");
      for (let i = 0; i < 3; i++) expect(show(await c.call("SET", "k", "v"))).toContain("NOPERM");
      c.close();
      const lines = (what: string) =>
        fly
          .log()
          .split("\n")
          .filter((l) => l.includes(what));
      expect(lines("authentication failed").length).toBe(1);
      expect(lines("authentication failed")[0]).toContain("client=127.0.0.1");
      await waitUntil(async () => lines("permission denied").length > 0, 5_000, "the NOPERM log line");
      expect(lines("permission denied")).toHaveLength(1);
      expect(lines("permission denied")[0]).toContain("user=ro");
    } finally {
      await fly.stop();
    }
  }, 60_000);
});
