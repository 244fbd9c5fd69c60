// The compiled binary under the commands that act on the process and its files: SHUTDOWN stops it
// with status 0 and keeps the data, CONFIG REWRITE edits the TOML it started from (comments kept)
// so a restart comes back with the change, and redis-cli's QUIT gets its +OK (exit status 0).
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFlyDB, tempDir, type FlyDBProcess } from "../helpers/processes.ts";
import { RespClient } from "../helpers/resp-client.ts";

const started: FlyDBProcess[] = [];
const clients: RespClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

async function start(opts: Parameters<typeof startFlyDB>[0] = {}): Promise<{ node: FlyDBProcess; client: RespClient }> {
  const node = await startFlyDB({ binary: "dist", ...opts });
  started.push(node);
  const client = await RespClient.connect(node.port);
  clients.push(client);
  return { node, client };
}

describe("server lifecycle (dist/flydb)", () => {
  test("SHUTDOWN exits 0 and the data is there after a restart", async () => {
    const dataDir = join(tempDir("shutdown"), "data");
    const { node, client } = await start({ dataDir, nodeId: "shut" });
    expect(await client.call("SET", "kept", "yes")).toEqual({ t: "+", v: "OK" });
    expect(await client.call("SAVE")).toEqual({ t: "+", v: "OK" });
    const lastsave = await client.call("LASTSAVE");
    expect(lastsave.t).toBe(":");
    void client.call("SHUTDOWN").catch(() => undefined);
    expect(await node.proc.exited).toBe(0);
    const again = await start({ dataDir, nodeId: "shut" });
    const value = await again.client.call("GET", "kept");
    expect(value.t === "$" ? value.v.toString() : value).toBe("yes");
  });

  test("CONFIG REWRITE writes the changed keys into the file, keeping its comments", async () => {
    const dir = tempDir("rewrite");
    const file = join(dir, "flydb.toml");
    writeFileSync(file, "# my settings\nslowlog_max_len = 10\n\n# the rest is default\n");
    const { node, client } = await start({ args: ["--config", file], nodeId: "rw" });
    expect(await client.call("CONFIG", "SET", "slowlog-max-len", "77", "hash-max-listpack-entries", "9")).toEqual({
      t: "+",
      v: "OK",
    });
    expect(await client.call("CONFIG", "REWRITE")).toEqual({ t: "+", v: "OK" });
    const text = readFileSync(file, "utf8");
    expect(text).toStartWith("# my settings\nslowlog_max_len = 77\n\n# the rest is default\n");
    expect(text).toContain("\nhash_max_listpack_entries = 9\n");
    await node.stop();
    const again = await start({ args: ["--config", file], nodeId: "rw" });
    const got = await again.client.call("CONFIG", "GET", "hash-max-listpack-entries");
    expect(got.t === "*" && got.v[1]!.t === "$" ? got.v[1]!.v.toString() : got).toBe("9");
  });

  test("CONFIG SET timeout closes idle clients, not busy ones", async () => {
    const { node, client } = await start();
    expect(await client.call("CONFIG", "SET", "timeout", "1")).toEqual({ t: "+", v: "OK" });
    const idle = await RespClient.connect(node.port);
    clients.push(idle);
    for (let i = 0; i < 6; i++) {
      await Bun.sleep(400);
      expect(await client.call("PING")).toEqual({ t: "+", v: "PONG" });
    }
    expect(idle.call("PING")).rejects.toThrow("connection closed by server");
  });

  test("SLOWLOG times a write's apply, not its wait for the log: a pipelined burst stays out, a slow script in", async () => {
    const { client } = await start({ args: ["--fsync", "always"] });
    const config = ["slowlog-log-slower-than", "5000", "slowlog-max-len", "4000"];
    expect(await client.call("CONFIG", "SET", ...config)).toEqual({ t: "+", v: "OK" });
    // Each SET waits for the fsyncs of the writes ahead of it, far over 5 ms: timed to its reply, nearly
    // all 2000 were logged. It runs in µs; a few may still pass 5 ms on a loaded machine (a GC pause).
    const burst = Array.from({ length: 2000 }, (_, i) => client.call("SET", `k${i}`, "v"));
    expect((await Promise.all(burst)).every((r) => r.t === "+")).toBe(true);
    const slow = await client.call("SLOWLOG", "LEN");
    expect(slow.t === ":" ? Number(slow.v) : slow).toBeLessThan(200);
    expect(await client.call("SLOWLOG", "RESET")).toEqual({ t: "+", v: "OK" });
    // ~50 ms of Lua, run by apply: an execution SLOWLOG must still show.
    const spin = "for i = 1, 1000000 do end return redis.call('SET', KEYS[1], 'x')";
    expect(await client.call("EVAL", spin, "1", "slow")).toEqual({ t: "+", v: "OK" });
    const log = await client.call("SLOWLOG", "GET");
    expect(log.t === "*" ? log.v.length : log).toBe(1);
  });

  test("redis-cli quit exits 0", async () => {
    const { node } = await start();
    const p = Bun.spawn(["redis-cli", "-p", String(node.port), "quit"], { stdout: "pipe", stderr: "pipe" });
    expect(await p.exited).toBe(0);
    expect(await new Response(p.stdout).text()).toBe("OK\n");
  });
});
