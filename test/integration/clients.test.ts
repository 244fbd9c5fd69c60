// Real clients against a real FlyDB process: redis-cli (one-shot, --pipe mass insertion, RESP3),
// ioredis (pipelines, binary values), netcat inline commands, AUTH, CLIENT, COMMAND, CONFIG,
// INFO, and the HTTP endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { runTool, startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";
import { RawConnection } from "../helpers/raw-socket.ts";
import { RespClient, show } from "../helpers/resp-client.ts";

let node: FlyDBProcess;
const clients: { quit(): unknown; disconnect(): void }[] = [];

function ioredis(port: number, opts: Record<string, unknown> = {}): Redis {
  const c = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: () => null,
    ...opts,
  });
  clients.push(c);
  return c;
}

const cli = (...args: string[]) => runTool(["redis-cli", "-h", "127.0.0.1", "-p", String(node.port), ...args]);

beforeAll(async () => {
  node = await startFlyDB();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await node?.stop();
});

describe("redis-cli", () => {
  test("one-shot commands", async () => {
    expect((await cli("SET", "cli:a", "hello world")).stdout).toBe("OK\n");
    expect((await cli("GET", "cli:a")).stdout).toBe("hello world\n");
    expect((await cli("INCRBY", "cli:n", "41")).stdout).toBe("41\n");
    expect((await cli("--no-raw", "GET", "cli:missing")).stdout).toBe("(nil)\n");
    expect((await cli("--no-raw", "INCR", "cli:n")).stdout).toBe("(integer) 42\n");
    const wrong = await cli("--no-raw", "INCR", "cli:a");
    expect(wrong.stdout).toBe("(error) ERR value is not an integer or out of range\n");
    const arity = await cli("--no-raw", "GET");
    expect(arity.stdout).toBe("(error) ERR wrong number of arguments for 'get' command\n");
  });

  test("--pipe mass insertion of 10k keys", async () => {
    const n = 10_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = `mass:${i}`;
      const v = `value-${i}`;
      parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
    }
    const piped = await runTool(["redis-cli", "-h", "127.0.0.1", "-p", String(node.port), "--pipe"], {
      stdin: parts.join(""),
    });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain(`errors: 0, replies: ${n}`);
    const c = ioredis(node.port);
    const sample = await c.mget("mass:0", "mass:4999", "mass:9999", "mass:10000");
    expect(sample).toEqual(["value-0", "value-4999", "value-9999", null]);
    const keys = await c.keys("mass:*");
    expect(keys.length).toBe(n);
  });

  test("-3 speaks RESP3 after HELLO 3", async () => {
    const r = await cli("-3", "HELLO", "3");
    expect(r.stdout).toContain("proto");
    expect(r.stdout).toMatch(/proto\s*\n?\s*3/);
    // A RESP3 map reply rendered by redis-cli: CONFIG GET gives "name" => "value" pairs.
    const cfg = await cli("-3", "--no-raw", "CONFIG", "GET", "maxclients");
    expect(cfg.stdout).toContain('1# "maxclients" => "10000"');
  });

  test("redis-cli reads command hints from COMMAND DOCS without errors", async () => {
    const r = await cli("COMMAND", "DOCS", "get");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Returns the string value of a key.");
  });
});

describe("ioredis", () => {
  test("pipelines keep order and read their own writes", async () => {
    const c = ioredis(node.port);
    const p = c.pipeline();
    for (let i = 0; i < 200; i++) {
      p.set(`pipe:${i % 10}`, String(i));
      p.get(`pipe:${i % 10}`);
      p.incr("pipe:counter");
    }
    const results = await p.exec();
    expect(results).not.toBeNull();
    for (let i = 0; i < 200; i++) {
      expect(results![i * 3]).toEqual([null, "OK"]);
      expect(results![i * 3 + 1]).toEqual([null, String(i)]);
      expect(results![i * 3 + 2]).toEqual([null, i + 1]);
    }
  });

  test("binary keys and values round-trip byte for byte", async () => {
    const c = ioredis(node.port);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const key = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x20]);
    await c.set(key, all);
    expect(Buffer.compare((await c.getBuffer(key))!, all)).toBe(0);
    await c.append(key, Buffer.from([0x00]));
    expect(await c.strlen(key)).toBe(257);
    const big = Buffer.alloc(1024 * 1024, 0xab);
    await c.set("bin:big", big);
    expect(Buffer.compare((await c.getBuffer("bin:big"))!, big)).toBe(0);
  });

  test("errors arrive as ReplyError with Redis's text", async () => {
    const c = ioredis(node.port);
    await c.set("io:str", "x");
    await expect(c.incr("io:str")).rejects.toThrow("ERR value is not an integer or out of range");
    await expect(c.call("NOSUCHCMD", "a")).rejects.toThrow(
      "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a'",
    );
  });
});

describe("inline commands", () => {
  test("echo PING | nc answers +PONG", async () => {
    const r = await runTool(["bash", "-c", `echo PING | nc -q1 127.0.0.1 ${node.port}`]);
    expect(r.stdout).toBe("+PONG\r\n");
  });

  test("inline SET and GET with quoting", async () => {
    const r = await runTool([
      "bash",
      "-c",
      `printf 'SET inline:k "a b"\\r\\nGET inline:k\\r\\n' | nc -q1 127.0.0.1 ${node.port}`,
    ]);
    expect(r.stdout).toBe("+OK\r\n$3\r\na b\r\n");
  });
});

describe("connection and server commands", () => {
  test("CLIENT SETNAME, LIST and KILL", async () => {
    const a = await RespClient.connect(node.port);
    const b = await RespClient.connect(node.port);
    try {
      expect(show(await a.call("CLIENT", "SETNAME", "alpha"))).toBe("+OK");
      expect(show(await a.call("CLIENT", "GETNAME"))).toBe('$"alpha"');
      const id = await a.call("CLIENT", "ID");
      expect(id.t).toBe(":");
      const list = await b.call("CLIENT", "LIST");
      expect(list.t).toBe("$");
      const line = (list as { v: Buffer }).v
        .toString()
        .split("\n")
        .find((l) => l.includes("name=alpha"));
      expect(line).toBeDefined();
      expect(line).toContain(`id=${(id as { v: bigint }).v} `);
      expect(show(await b.call("CLIENT", "KILL", "ID", String((id as { v: bigint }).v)))).toBe(":1");
      await expect(a.call("PING")).rejects.toThrow();
      expect(show(await b.call("PING"))).toBe("+PONG");
    } finally {
      a.close();
      b.close();
    }
  });

  test("COMMAND COUNT, INFO and DOCS", async () => {
    const c = await RespClient.connect(node.port);
    try {
      const count = await c.call("COMMAND", "COUNT");
      expect(count.t).toBe(":");
      expect(Number((count as { v: bigint }).v)).toBeGreaterThan(50);
      expect(show(await c.call("COMMAND", "INFO", "get", "nosuch"))).toBe(
        '*[*[$"get", :2, *[+readonly, +fast], :1, :1, :1, *[+@string], *[], *[' +
          '*[$"flags", *[+RO, +access], $"begin_search", *[$"type", $"index", $"spec", *[$"index", :1]], ' +
          '$"find_keys", *[$"type", $"range", $"spec", *[$"lastkey", :0, $"keystep", :1, $"limit", :0]]]], ' +
          "*[]], nil(*)]",
      );
      const mset = await c.call("COMMAND", "INFO", "mset");
      expect(show(mset)).toContain('$"mset", :-3, *[+write], :1, :-1, :2');
      const docs = await c.call("COMMAND", "DOCS", "set");
      expect(show(docs)).toContain('$"summary"');
      expect(show(docs)).toContain('$"group", $"string"');
    } finally {
      c.close();
    }
  });

  test("CONFIG GET answers what redis-benchmark and clients ask", async () => {
    const c = ioredis(node.port);
    expect(await c.config("GET", "save")).toEqual(["save", ""]);
    expect(await c.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    expect(await c.config("GET", "databases")).toEqual(["databases", "16"]);
    expect(await c.config("GET", "nosuchkey")).toEqual([]);
  });

  test("INFO has the server, clients, memory, persistence, stats and keyspace sections", async () => {
    const c = ioredis(node.port);
    await c.set("info:k", "v", "EX", 1000);
    const info = await c.info();
    for (const section of ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Keyspace"])
      expect(info).toContain(section);
    expect(info).toMatch(/redis_version:\d+\.\d+\.\d+/);
    expect(info).toContain(`tcp_port:${node.port}`);
    expect(info).toMatch(new RegExp(`^db0:keys=${await c.dbsize()},expires=[1-9]\\d*,avg_ttl=0`, "m"));
    const one = await c.info("clients");
    expect(one).toContain("connected_clients:");
    expect(one).not.toContain("# Server");
  });

  test("SELECT 0 to 15 work and keep keys apart, 16 is out of range", async () => {
    const c = ioredis(node.port);
    expect(await c.select(15)).toBe("OK");
    await c.set("select-test", "15");
    expect(await c.select(0)).toBe("OK");
    expect(await c.get("select-test")).toBeNull();
    await expect(c.select(16)).rejects.toThrow("ERR DB index is out of range");
    await c.select(15);
    expect(await c.getdel("select-test")).toBe("15");
    await c.select(0);
  });
});

describe("requirepass", () => {
  let secured: FlyDBProcess;
  beforeAll(async () => {
    secured = await startFlyDB({ args: ["--requirepass", "s3cret pass", "--fsync", "no"] });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  test("-NOAUTH before AUTH, WRONGPASS for a bad password, then normal service", async () => {
    const c = await RespClient.connect(secured.port);
    try {
      expect(show(await c.call("GET", "k"))).toBe("-NOAUTH Authentication required.");
      expect(show(await c.call("SET", "k", "v"))).toBe("-NOAUTH Authentication required.");
      expect(show(await c.call("AUTH", "wrong"))).toBe(
        "-WRONGPASS invalid username-password pair or user is disabled.",
      );
      expect(show(await c.call("AUTH", "s3cret pass"))).toBe("+OK");
      expect(show(await c.call("SET", "k", "v"))).toBe("+OK");
      expect(show(await c.call("GET", "k"))).toBe('$"v"');
    } finally {
      c.close();
    }
  });

  test("HELLO 3 AUTH default <pass> authenticates and switches protocol", async () => {
    const c = await RespClient.connect(secured.port);
    try {
      const hello = await c.call("HELLO", "3", "AUTH", "default", "s3cret pass", "SETNAME", "h3");
      expect(hello.t).toBe("%");
      expect(show(hello)).toContain('$"proto": :3');
      expect(show(await c.call("GET", "nope"))).toBe("nil(_)");
    } finally {
      c.close();
    }
  });

  test("ioredis and redis-cli with the password", async () => {
    const c = ioredis(secured.port, { password: "s3cret pass" });
    expect(await c.set("pw:k", "1")).toBe("OK");
    const r = await runTool([
      "redis-cli",
      "-h",
      "127.0.0.1",
      "-p",
      String(secured.port),
      "--no-auth-warning",
      "-a",
      "s3cret pass",
      "GET",
      "pw:k",
    ]);
    expect(r.stdout).toBe("1\n");
  });
});

describe("HTTP", () => {
  test("/health and /ready", async () => {
    const h = await fetch(`${node.http}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: "ok" });
    const r = await fetch(`${node.http}/ready`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ready: true });
  });

  test("/cluster/status has the standalone shape", async () => {
    const c = ioredis(node.port);
    await c.set("status:k", "v");
    const s = (await (await fetch(`${node.http}/cluster/status`)).json()) as {
      node: {
        id: string;
        version: string;
        role: string;
        uptime_seconds: number;
        addresses: { resp: string; http: string };
      };
      keys: number;
    };
    expect(s.node.role).toBe("standalone");
    expect(s.node.id).toBe(`e2e-${node.port}`);
    expect(s.node.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.node.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(s.node.addresses.resp).toBe(`127.0.0.1:${node.port}`);
    expect(s.keys).toBe(await c.dbsize());
  });

  test("/metrics counts commands by name", async () => {
    const c = ioredis(node.port);
    const before = setCount(await (await fetch(`${node.http}/metrics`)).text());
    for (let i = 0; i < 25; i++) await c.set(`metrics:${i}`, "v");
    const text = await (await fetch(`${node.http}/metrics`)).text();
    expect(text).toContain('flydb_commands_total{command="set"}');
    expect(setCount(text)).toBeGreaterThanOrEqual(before + 25);
    expect(text).toMatch(/flydb_connected_clients \d+/);
  });

  test("/metrics counts protocol errors, and unknown commands under one label", async () => {
    const metric = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? 0);
    const protocolErrors = /^flydb_protocol_errors_total (\d+)/m;
    const unknownErrors = /^flydb_command_errors_total\{command="unknown"\} (\d+)/m;
    const ttlErrors = /^flydb_command_errors_total\{command="ttl"\} (\d+)/m;
    const before = await (await fetch(`${node.http}/metrics`)).text();
    const raw = await RawConnection.connect(node.port);
    await raw.write("*1\r\n$abc\r\n");
    await raw.closed;
    const c = ioredis(node.port);
    await c.ttl("metrics:ttl");
    for (let i = 0; i < 2; i++) await expect(c.call("nosuchcmd", "x")).rejects.toThrow(/unknown command/);
    const after = await (await fetch(`${node.http}/metrics`)).text();
    expect(metric(after, protocolErrors)).toBe(metric(before, protocolErrors) + 1);
    expect(metric(after, unknownErrors)).toBe(metric(before, unknownErrors) + 2);
    expect(metric(after, ttlErrors)).toBe(metric(before, ttlErrors));
    expect(after).not.toContain('command="nosuchcmd"');
  });

  test("unknown endpoints are a JSON 404", async () => {
    const r = await fetch(`${node.http}/nope`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toContain("/nope");
  });
});

function setCount(metrics: string): number {
  const m = /^flydb_commands_total\{command="set"\} (\d+)/m.exec(metrics);
  return m ? Number(m[1]) : 0;
}
