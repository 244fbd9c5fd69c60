// Protected mode in private network namespaces: a node listening beyond loopback with no password
// refuses a client on another host with Redis's own message (compared with a real redis-server in
// the same place), answers its own loopback, and lets the remote client in once a password is set
// (which it must then give) or protected mode is off (in the config or by CONFIG SET).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { createNetns, skipNetns, type Netns, type NsHost } from "../helpers/netns.ts";
import { LineReader } from "../helpers/line-reader.ts";

setDefaultTimeout(45_000);

const ROOT = resolve(import.meta.dir, "../..");

describe.skipIf(skipNetns)("protected mode", () => {
  let lan: Netns;
  let server: NsHost;
  let client: NsHost;
  let dataRoot: string;
  const procs: Subprocess[] = [];

  beforeAll(() => {
    lan = createNetns(2);
    [server, client] = lan.hosts as [NsHost, NsHost];
    dataRoot = mkdtempSync(join(tmpdir(), "fly-protected-"));
  });
  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await lan?.destroy();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  async function flydb(port: number, extra: string[]): Promise<void> {
    const args = [process.execPath, join(ROOT, "cli/flydb.ts"), "--node-id", `p${port}`, "--data-dir"];
    args.push(join(dataRoot, String(port)), "--bind-addr", `0.0.0.0:${port}`, "--http-addr", `127.0.0.1:${port + 1}`);
    const p = lan.spawn(server.ns, [...args, ...extra], { cwd: ROOT });
    procs.push(p);
    await new LineReader(p.stderr).waitFor((l) => l.includes("flydb started"), 20_000, "flydb to start");
  }

  const cli = async (from: NsHost, host: string, port: number, ...cmd: string[]) => {
    const r = await lan.exec(from.ns, ["redis-cli", "-h", host, "-p", String(port), ...cmd], { timeoutMs: 5_000 });
    return `${r.stdout}${r.stderr}`.trim();
  };

  test("a remote client is refused with Redis's message; loopback is served", async () => {
    const redis = lan.spawn(server.ns, ["redis-server", "--port", "6390", "--bind", "0.0.0.0", "--save", ""], {
      cwd: dataRoot,
    });
    procs.push(redis);
    await flydb(6380, []);
    let redisReply = "";
    for (let i = 0; i < 50 && !redisReply.includes("DENIED"); i++) {
      redisReply = await cli(client, server.address, 6390, "PING");
      await Bun.sleep(100);
    }
    expect(redisReply).toContain("DENIED Redis is running in protected mode");
    expect(await cli(client, server.address, 6380, "PING")).toBe(redisReply);
    expect(await cli(server, "127.0.0.1", 6380, "PING")).toBe("PONG");
    // The message's first remedy: CONFIG SET protected-mode no, from loopback.
    expect(await cli(server, "127.0.0.1", 6380, "CONFIG", "GET", "protected-mode")).toBe("protected-mode\nyes");
    expect(await cli(server, "127.0.0.1", 6380, "CONFIG", "SET", "protected-mode", "no")).toBe("OK");
    expect(await cli(client, server.address, 6380, "PING")).toBe("PONG");
  });

  test("with a password the remote client gets in and must AUTH; protected_mode = false lets it in", async () => {
    await flydb(6382, ["--requirepass", "s3cret"]);
    expect(await cli(client, server.address, 6382, "PING")).toContain("NOAUTH");
    expect(await cli(client, server.address, 6382, "--no-auth-warning", "-a", "s3cret", "PING")).toBe("PONG");
    await flydb(6384, ["--no-protected-mode"]);
    expect(await cli(client, server.address, 6384, "PING")).toBe("PONG");
  });
});
