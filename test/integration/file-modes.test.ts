// The node's files are its own: under a permissive umask (022) the data dir is created 0700 and
// every file in it 0600, so other local users cannot read keys, values or users.
import { expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { startFlyDB } from "../helpers/processes.ts";
import { RespClient } from "../helpers/resp-client.ts";

test("data dir 0700 and data files 0600 whatever the umask", async () => {
  const old = process.umask(0o022);
  try {
    const fly = await startFlyDB({});
    try {
      const c = await RespClient.connect(fly.port);
      await c.call("SET", "k", "v");
      await c.call("ACL", "SETUSER", "u", "on", ">p");
      c.close();
      expect(statSync(fly.dataDir).mode & 0o777).toBe(0o700);
      const files = readdirSync(fly.dataDir);
      expect(files).toContain("raft.db");
      expect(files).toContain("users.acl");
      for (const f of files)
        expect({ f, mode: statSync(join(fly.dataDir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
    } finally {
      await fly.stop();
    }
  } finally {
    process.umask(old);
  }
}, 60_000);
