// A real redis-server and a FlyDB child process side by side, for the data type and transaction
// differential tests: the same command goes to both and the replies are compared.
import { afterAll, beforeAll, expect } from "bun:test";
import { startFlyDB, startRedisServer, type ServerProcess } from "./processes.ts";
import { RawConnection } from "./raw-socket.ts";
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

export interface DiffServerOptions {
  /** Extra redis-server arguments (e.g. enabling DEBUG). */
  readonly redisArgs?: readonly string[];
}

export async function startDiffServers(options: DiffServerOptions = {}): Promise<DiffServers> {
  const servers: ServerProcess[] = [];
  const clients: RespClient[] = [];
  const stop = async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    servers.push(await startRedisServer({ args: [...(options.redisArgs ?? [])] }));
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

export interface UseDiffServers {
  /** The first pair of connections (RESP2), plus `connect` for more. */
  readonly servers: Pair & Pick<DiffServers, "connect">;
  /** A second pair that said HELLO 3; only with `resp3: true`. */
  readonly resp3: Pair;
}

/**
 * Starts the servers before the file's tests and stops them after. The pairs returned are views:
 * their clients can be read once beforeAll has run.
 */
export function useDiffServers(options: DiffServerOptions & { readonly resp3?: boolean } = {}): UseDiffServers {
  let servers: DiffServers | undefined;
  let resp3: Pair | undefined;
  beforeAll(async () => {
    servers = await startDiffServers(options);
    if (!options.resp3) return;
    resp3 = await servers.connect();
    await resp3.redis.call("HELLO", "3");
    await resp3.fly.call("HELLO", "3");
  }, 60_000);
  afterAll(async () => {
    await servers?.stop();
  });
  const started = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`useDiffServers: ${what} read before beforeAll started it (resp3 option?)`);
    return x;
  };
  return {
    servers: {
      get redis() {
        return started(servers, "the servers").redis;
      },
      get fly() {
        return started(servers, "the servers").fly;
      },
      connect: () => started(servers, "the servers").connect(),
    },
    resp3: {
      get redis() {
        return started(resp3, "the RESP3 pair").redis;
      },
      get fly() {
        return started(resp3, "the RESP3 pair").fly;
      },
    },
  };
}

/**
 * Runs `cmds` on both servers from an empty keyspace; each reply must be equal once passed through
 * `normalise` (which sorts what Redis leaves unordered, or renders the reply for a readable diff).
 */
export async function compareSequence(
  pair: Pair,
  cmds: readonly (readonly string[])[],
  normalise: (argv: readonly string[], reply: Wire) => unknown = (_argv, reply) => reply,
): Promise<void> {
  await pair.redis.call("FLUSHALL");
  await pair.fly.call("FLUSHALL");
  for (const argv of cmds) {
    const r = await pair.redis.call(...argv);
    const f = await pair.fly.call(...argv);
    expect({ argv, reply: normalise(argv, f) }).toEqual({ argv, reply: normalise(argv, r) });
  }
}

const order = (x: Wire) =>
  JSON.stringify(x, (_k, v) =>
    typeof v === "bigint" ? String(v) : v && v.type === "Buffer" ? Buffer.from(v.data).toString("latin1") : v,
  );

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

export interface RawDiffServers {
  readonly redis: ServerProcess;
  readonly fly: ServerProcess;
  /** A raw connection to `port`, closed after the file's tests. */
  open(port: number): Promise<RawConnection>;
}

/**
 * A redis-server and a FlyDB node (fsync no) for the file's tests, compared over raw connections
 * (Pub/Sub and keyspace notifications, where the bytes pushed between replies matter).
 */
export function useRawDiffServers(): RawDiffServers {
  let redis: ServerProcess | undefined;
  let fly: ServerProcess | undefined;
  const opened: RawConnection[] = [];
  beforeAll(async () => {
    [redis, fly] = await Promise.all([startRedisServer(), startFlyDB({ args: ["--fsync", "no"] })]);
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await Promise.all([redis?.stop(), fly?.stop()]);
  });
  return {
    get redis() {
      if (!redis) throw new Error("the servers are not started yet (use them inside tests)");
      return redis;
    },
    get fly() {
      if (!fly) throw new Error("the servers are not started yet (use them inside tests)");
      return fly;
    },
    async open(port) {
      const c = await RawConnection.connect(port);
      opened.push(c);
      return c;
    },
  };
}
