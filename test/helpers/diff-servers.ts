// A real redis-server (on a private unix socket) and an in-process FlyDB node side by side, for
// differential tests: the same command goes to both and the replies are compared.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/log.ts";
import { startNode, type RunningNode } from "../../src/node.ts";
import { RespClient, type Wire } from "./resp-client.ts";

export interface DiffServers {
  readonly redis: RespClient;
  readonly fly: RespClient;
  /** Opens one more connection to each (for WATCH tests with a second client). */
  connect(): Promise<{ redis: RespClient; fly: RespClient }>;
  stop(): Promise<void>;
}

export async function startDiffServers(name: string): Promise<DiffServers> {
  const dir = mkdtempSync(join(tmpdir(), `flydb-${name}-`));
  const sock = join(dir, "redis.sock");
  const redisProc: ChildProcess = spawn(
    "redis-server",
    ["--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"],
    { stdio: "ignore" },
  );
  const { config } = loadConfig({
    env: {},
    defaultConfigPath: join(dir, "none.toml"),
    flags: { bind_addr: "127.0.0.1:0", http_addr: "127.0.0.1:0", data_dir: join(dir, "data"), node_id: name, fsync: "no" },
  });
  let node: RunningNode | undefined;
  const clients: RespClient[] = [];
  const stop = async () => {
    for (const c of clients) c.close();
    redisProc.kill("SIGKILL");
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    node = await startNode(config, { log: createLogger("error", "text") });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const connectPair = async () => {
      const pair = { redis: await RespClient.open(sock), fly: await RespClient.open(node!.respPort) };
      clients.push(pair.redis, pair.fly);
      return pair;
    };
    const main = await connectPair();
    return { ...main, connect: connectPair, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Sorts the elements of an unordered reply (sets, HGETALL pairs) so two servers can be compared. */
export function sortWire(w: Wire, pairs = false): Wire {
  const key = (x: Wire) => JSON.stringify(x);
  if (w.t === "map") return { t: "map", v: [...w.v].sort((a, b) => (key(a[0]) < key(b[0]) ? -1 : 1)) };
  if (w.t !== "array" && w.t !== "set") return w;
  if (!pairs) return { t: w.t, v: [...w.v].sort((a, b) => (key(a) < key(b) ? -1 : 1)) };
  const grouped: Wire[][] = [];
  for (let i = 0; i < w.v.length; i += 2) grouped.push([w.v[i]!, w.v[i + 1]!]);
  grouped.sort((a, b) => (key(a[0]!) < key(b[0]!) ? -1 : 1));
  return { t: w.t, v: grouped.flat() };
}
