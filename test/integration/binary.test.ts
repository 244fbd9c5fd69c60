// The compiled executable (`npm run build` → dist/flydb) on its own: copied to a directory
// without node_modules it starts, serves, and stops cleanly; its CLI lists every config key and
// rejects bad configuration with exit code 2 and one line naming the key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_KEYS } from "../../src/config/schema.ts";
import { flagName } from "../../src/config/load.ts";
import { VERSION } from "../../src/version.ts";
import { ensureBinary, runTool, startFlyDB, tempDir } from "../helpers/processes.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

let dir: string;
let binary: string;

beforeAll(() => {
  dir = tempDir("binary");
  binary = join(dir, "flydb");
  copyFileSync(ensureBinary(), binary);
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the copied binary from its own directory, where there is no node_modules to lean on. */
const flydb = (args: string[], env: Record<string, string> = {}) =>
  runTool([binary, ...args], { cwd: dir, env, timeoutMs: 15_000 });

describe("dist/flydb", () => {
  test("starts from a directory without node_modules, serves, and exits 0 on SIGTERM", async () => {
    const node = await startFlyDB({ binary, cwd: dir });
    const c = await RespClient.connect(node.port);
    try {
      expect(show(await c.call("PING"))).toBe("+PONG");
      expect(show(await c.call("SET", "compiled", "yes"))).toBe("+OK");
      expect(show(await c.call("GET", "compiled"))).toBe('$"yes"');
      const health = await fetch(`${node.http}/health`);
      expect(health.status).toBe(200);
    } finally {
      c.close();
    }
    expect(await node.stop()).toBe(0);
  });

  test("--help lists every config key as a flag", async () => {
    const r = await flydb(["--help"]);
    expect(r.code).toBe(0);
    const missing = CONFIG_KEYS.filter((k) => !r.stdout.includes(flagName(k)));
    expect(missing).toEqual([]);
    expect(r.stdout).toContain("--config");
  });

  test("--version prints the version", async () => {
    const r = await flydb(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  test("a bad flag value exits 2 with one line naming the key, the value and what is allowed", async () => {
    const r = await flydb(["--partition-count", "3", "--data-dir", join(dir, "never")]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("partition_count");
    expect(lines[0]).toContain("3");
    expect(lines[0]).toContain("power of two");
  });

  test("a bad FLYDB_* environment value exits 2 naming the key", async () => {
    const r = await flydb(["--data-dir", join(dir, "never")], { FLYDB_FSYNC: "sometimes" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("fsync");
    expect(r.stderr).toContain("sometimes");
    expect(r.stderr).toContain("always");
  });

  test("an unknown TOML key exits 2 naming it", async () => {
    const file = join(dir, "bad.toml");
    writeFileSync(file, 'bind_addr = "127.0.0.1:0"\nbogus_key = 1\n');
    const r = await flydb(["--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("bogus_key");
  });

  test("--help lists the allowed values of every choice setting", async () => {
    const r = await flydb(["--help"]);
    const line = (flag: string) => r.stdout.split("\n").find((l) => l.trimStart().startsWith(`${flag} `)) ?? "";
    expect(line("--fsync")).toContain("(one of: always, everysec, no)");
    expect(line("--log-level")).toContain("one of: ");
    expect(line("--log-format")).toContain("(one of: text, json)");
    expect(line("--routing-strategy")).toContain("key-based");
    expect(line("--read-consistency")).toContain("(one of: linearizable, lease, stale)");
  });

  test("usage errors exit 2 like bad values; an unknown FLYDB_* variable is warned about", async () => {
    const unknown = await flydb(["--no-such-flag"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");
    const missing = await flydb(["--data-dir"]);
    expect(missing.code).toBe(2);
    const typo = await flydb(["--partition-count", "3"], { FLYDB_FSYNK: "no", FLYDB_TEST_ANYTHING: "1" });
    expect(typo.stderr).toContain("flydb: warning: FLYDB_FSYNK is not a FlyDB setting; ignored");
    expect(typo.stderr).not.toContain("FLYDB_TEST_ANYTHING");
  });

  test("a TOML syntax error names the line and column", async () => {
    const file = join(dir, "broken.toml");
    writeFileSync(file, 'bind_addr = "127.0.0.1:0"\nfsync = \n');
    const r = await flydb(["--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/broken\.toml is not valid TOML at line 2, column \d+: /);
  });

  test("a busy port fails start-up (exit 1) naming the listener and the address", async () => {
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const at = `127.0.0.1:${busy.port}`;
      const resp = await flydb(["--bind-addr", at, "--http-addr", "127.0.0.1:0", "--data-dir", join(dir, "busy1")]);
      expect(resp.code).toBe(1);
      expect(resp.stderr).toContain(`cannot listen for Redis clients on ${at}`);
      const http = await flydb(["--bind-addr", "127.0.0.1:0", "--http-addr", at, "--data-dir", join(dir, "busy2")]);
      expect(http.code).toBe(1);
      expect(http.stderr).toContain(`cannot listen for HTTP on ${at}`);
    } finally {
      busy.stop(true);
    }
  });
});
