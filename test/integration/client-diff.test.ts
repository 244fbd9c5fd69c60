// Differential test of MONITOR against redis-server 7.0 over raw connections: the lines a
// monitoring connection sees for another connection's commands (quoting of binary and special
// bytes, the database, AUTH's redaction, admin commands left out), compared without the timestamp
// and the client's port.
import { expect, test } from "bun:test";
import { useRawDiffServers } from "../helpers/diff-servers.ts";
import type { RawConnection } from "../helpers/raw-socket.ts";
import { encodeCommand } from "../helpers/resp-client.ts";

const servers = useRawDiffServers();
const END = "__end__";

async function run(c: RawConnection, cmds: readonly (readonly string[])[]): Promise<string> {
  const before = c.received().length;
  await c.write(Buffer.concat([...cmds, ["PING", END]].map((argv) => encodeCommand(argv))));
  const text = await c.readUntil((t) => t.length > before && t.endsWith(`${END}\r\n`));
  return text.slice(before);
}

/** The monitor's lines with the timestamp and the client port replaced by placeholders. */
const normalise = (t: string) =>
  t.replace(/^\+\d+\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\]/gm, "+T [$1 ADDR]").replace(/:\d+\r\n/g, ":N\r\n");

/** A MONITOR connection (its +OK read; `mark` is where the monitored lines start) and a client. */
async function monitoring(port: number) {
  const [mon, client] = await Promise.all([servers.open(port), servers.open(port)]);
  await mon.write(encodeCommand(["MONITOR"]));
  expect(await mon.readUntil((t) => t.includes("\r\n"))).toBe("+OK\r\n");
  return { mon, client, mark: mon.received().length };
}

test("MONITOR shows every other command in Redis's line format", async () => {
  const cmds = [
    ["SET", 'k "q" \\ \n\r\t', "bin\x00\x01\x7f\xff"],
    ["GET", "k"],
    ["SELECT", "1"],
    ["LPUSH", "l", "a b"],
    ["AUTH", "nosuchpass"],
    ["CONFIG", "GET", "maxmemory"],
    ["GET", "missing", "extra"],
    ["NOSUCHCOMMAND"],
    ["SELECT", "0"],
  ];
  const outs: string[] = [];
  for (const port of [servers.redis.port, servers.fly.port]) {
    const { mon, client, mark } = await monitoring(port);
    // One at a time: pipelined connection commands (AUTH, PING) run before earlier writes in flight (docs/API.md).
    for (const argv of cmds) await run(client, [argv]);
    // Each run ends with PING __end__: wait for the last one's line.
    await mon.readUntil((t) => t.slice(mark).split(`"PING" "${END}"`).length > cmds.length);
    outs.push(normalise(mon.received().slice(mark)));
  }
  expect(outs[1]).toBe(outs[0]!);
  expect(outs[0]).toContain('"bin\\x00\\x01\\x7f\\xff"');
});

test("CLIENT REPLY OFF, SKIP and ON: which replies are written", async () => {
  const cmds = [
    ["SET", "r", "1"],
    ["CLIENT", "REPLY", "SKIP"],
    ["GET", "r"],
    ["INCR", "r"],
    ["CLIENT", "REPLY", "OFF"],
    ["GET", "r"],
    ["CLIENT", "REPLY", "SKIP"],
    ["INCR", "nosuch", "arg"],
    ["CLIENT", "REPLY", "ON"],
    ["GET", "r"],
    ["CLIENT", "REPLY", "maybe"],
    ["CLIENT", "REPLY"],
  ];
  const [r, f] = await Promise.all([servers.open(servers.redis.port), servers.open(servers.fly.port)]);
  const expected = await run(r, cmds);
  expect(await run(f, cmds)).toBe(expected);
  expect(expected).toStartWith("+OK\r\n:2\r\n+OK\r\n$1\r\n2\r\n-ERR syntax error");
});

test("MONITOR shows the commands a script or a function runs, as [db lua] lines after the EVAL's", async () => {
  const lib = "#!lua name=monlib\nredis.register_function('monf', function(k) return redis.call('set', k[1], 'f') end)";
  const cmds = [
    ["FUNCTION", "LOAD", "REPLACE", lib],
    ["SELECT", "2"],
    [
      "EVAL",
      "redis.call('set', KEYS[1], ARGV[1]); redis.call('ping'); return redis.call('get', KEYS[1])",
      "1",
      "sk",
      "v",
    ],
    ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "sk"],
    ["FCALL", "monf", "1", "fk"],
    ["SELECT", "0"],
  ];
  const outs: string[] = [];
  for (const port of [servers.redis.port, servers.fly.port]) {
    const { mon, client, mark } = await monitoring(port);
    // Ended by a read, which waits for the script before it (a pipelined PING would not: docs/API.md).
    for (const argv of cmds) {
      const before = client.received().length;
      await client.write(Buffer.concat([argv, ["EVAL_RO", "return ARGV[1]", "0", END]].map((a) => encodeCommand(a))));
      await client.readUntil((t) => t.length > before && t.endsWith(`${END}\r\n`));
    }
    await mon.readUntil((t) => t.slice(mark).split(`"${END}"`).length > cmds.length);
    outs.push(normalise(mon.received().slice(mark)).replace(/^\+\d+\.\d{6} \[(\d+) lua\]/gm, "+T [$1 lua]"));
  }
  expect(outs[1]).toBe(outs[0]!);
  expect(outs[0]).toContain('+T [2 lua] "set" "sk" "v"\r\n+T [2 lua] "ping"\r\n+T [2 lua] "get" "sk"\r\n');
  expect(outs[0]).toContain('+T [2 lua] "set" "fk" "f"');
});

test("CLIENT PAUSE WRITE holds writes (and blocked_clients counts them) until UNPAUSE; reads go on; ALL holds PING", async () => {
  const outs: string[] = [];
  for (const port of [servers.redis.port, servers.fly.port]) {
    const [admin, writer, reader] = await Promise.all([servers.open(port), servers.open(port), servers.open(port)]);
    let out = await run(admin, [
      ["CLIENT", "PAUSE", "x"],
      ["CLIENT", "PAUSE", "-1"],
      ["CLIENT", "PAUSE", "1", "SOME"],
      ["CLIENT", "UNPAUSE", "extra"],
      ["CLIENT", "PAUSE", "10000", "WRITE"],
    ]);
    const before = writer.received().length;
    await writer.write(encodeCommand(["SET", "paused", "1"]));
    out += await run(reader, [["GET", "paused"]]);
    await Bun.sleep(100);
    const blocked = /blocked_clients:(\d+)/.exec(await run(admin, [["INFO", "clients"]]))![1];
    out += `blocked=${blocked} held=${JSON.stringify(writer.received().slice(before))}\n`;
    out += await run(admin, [["CLIENT", "UNPAUSE"]]);
    out += (await writer.readUntil((t) => t.length > before)).slice(before);
    const mark = admin.received().length;
    await admin.write(encodeCommand(["CLIENT", "PAUSE", "300", "ALL"]));
    out += (await admin.readUntil((t) => t.length > mark)).slice(mark);
    const started = performance.now();
    await run(reader, [["GET", "paused"]]);
    out += `all>=250ms=${performance.now() - started >= 250}\n`;
    outs.push(out);
  }
  expect(outs[1]).toBe(outs[0]!);
  expect(outs[0]).toContain('blocked=1 held=""');
  expect(outs[0]).toContain("all>=250ms=true");
});

test("CLIENT KILL's argument errors, and CLIENT INFO's fields in Redis 7.0's order with cmd=client|info", async () => {
  const outs: string[] = [];
  for (const port of [servers.redis.port, servers.fly.port]) {
    const c = await servers.open(port);
    const out = await run(c, [
      ["CLIENT", "KILL"],
      ["CLIENT", "KILL", "id", "10", "wrong_arg"],
      ["CLIENT", "KILL", "id", "str"],
      ["CLIENT", "KILL", "type", "wrong_type"],
      ["CLIENT", "KILL", "user", "wrong_user"],
      ["CLIENT", "KILL", "skipme", "yes_or_no"],
      ["CLIENT", "INFO"],
    ]);
    // Field names in order, with the values that do not vary between servers (lib-name/lib-ver: Redis 7.2's).
    outs.push(
      out
        .replace(/ lib-name=\S* lib-ver=\S*/, "")
        .replace(/(\w[\w-]*)=(\S*)/g, (_, k: string, v: string) =>
          ["cmd", "flags", "multi", "resp", "db"].includes(k) ? `${k}=${v}` : `${k}=*`,
        )
        .replace(/\$\d+\r\nid=/, "$N\r\nid="),
    );
  }
  expect(outs[1]).toBe(outs[0]!);
  expect(outs[0]).toContain("cmd=client|info ");
  // Redis's qbuf also counts the pipelined commands behind; alone, CLIENT INFO's own 26 bytes.
  const alone = await servers.open(servers.fly.port);
  await alone.write(encodeCommand(["CLIENT", "INFO"]));
  expect(await alone.readUntil((t) => t.endsWith("\n\r\n"))).toContain(" qbuf=26 ");
});

test("INFO expired_keys counts lazy and active expiry, and neither while CLIENT PAUSE WRITE holds them", async () => {
  for (const port of [servers.redis.port, servers.fly.port]) {
    const c = await servers.open(port);
    const expired = async () => Number(/expired_keys:(\d+)/.exec(await run(c, [["INFO", "stats"]]))![1]);
    const start = await expired();
    await run(c, [
      ["SET", "lazy1", "v", "PX", "10"],
      ["SET", "lazy2", "v", "PX", "10"],
      ["CLIENT", "PAUSE", "5000", "WRITE"],
    ]);
    // Longer than FlyDB's active-expiry round (500 ms) and many of Redis's.
    await Bun.sleep(700);
    expect(await run(c, [["GET", "lazy1"]])).toStartWith("$-1\r\n");
    expect(await expired()).toBe(start);
    await run(c, [["CLIENT", "UNPAUSE"]]);
    await run(c, [
      ["GET", "lazy1"],
      ["GET", "lazy2"],
    ]);
    expect(await expired()).toBe(start + 2);
    await run(c, [["SET", "active", "v", "PX", "10"]]);
    const deadline = performance.now() + 3000;
    while ((await expired()) < start + 3 && performance.now() < deadline) await Bun.sleep(50);
    expect(await expired()).toBe(start + 3);
    expect(await run(c, [["EXISTS", "lazy1", "lazy2", "active"]])).toStartWith(":0\r\n");
  }
});
