// A real redis-server and a FlyDB child process side by side, for the data type and transaction
// differential tests: the same command goes to both and the replies are compared.
import { startFlyDB, startRedisServer, type ServerProcess } from "./processes.ts";
import { RespClient, type Wire } from "./resp-client.ts";

export interface Pair {
  readonly redis: RespClient;
  readonly fly: RespClient;
}

export interface DiffServers extends Pair {
  /** Opens one more connection to each (a second client for WATCH tests, a RESP3 one, …). */
  connect(): Promise<Pair>;
  stop(): Promise<void>;
}

export async function startDiffServers(): Promise<DiffServers> {
  const servers: ServerProcess[] = [];
  const clients: RespClient[] = [];
  const stop = async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    servers.push(await startRedisServer());
    // The log is not fsynced: these tests are about replies, and it keeps them fast.
    servers.push(await startFlyDB({ args: ["--fsync", "no"] }));
    const [redis, fly] = servers as [ServerProcess, ServerProcess];
    const connect = async (): Promise<Pair> => {
      const pair = { redis: await RespClient.connect(redis.port), fly: await RespClient.connect(fly.port) };
      clients.push(pair.redis, pair.fly);
      return pair;
    };
    return { ...(await connect()), connect, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const order = (x: Wire) => JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? String(v) : v && v.type === "Buffer" ? Buffer.from(v.data).toString("latin1") : v));

/**
 * Sorts the elements of an unordered reply (sets, HGETALL) so two servers can be compared:
 * arrays and sets element by element, or pair by pair when `pairs` (flat RESP2 field/value lists),
 * and maps by key.
 */
export function sortWire(w: Wire, pairs = false): Wire {
  const cmp = (a: Wire, b: Wire) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0);
  if (w.t === "%") return { t: "%", v: [...w.v].sort((a, b) => cmp(a[0], b[0])) };
  if (w.t !== "*" && w.t !== "~") return w;
  if (!pairs) return { t: w.t, v: [...w.v].sort(cmp) };
  const grouped: Wire[][] = [];
  for (let i = 0; i < w.v.length; i += 2) grouped.push([w.v[i]!, w.v[i + 1]!]);
  grouped.sort((a, b) => cmp(a[0]!, b[0]!));
  return { t: w.t, v: grouped.flat() };
}

/** The text of a bulk string reply. */
export const text = (w: Wire | undefined): string | undefined => (w?.t === "$" ? w.v.toString("latin1") : undefined);
