// Differential test of client-side caching (CLIENT TRACKING) against redis-server 7.0 over raw
// connections: option errors, TRACKINGINFO/GETREDIR/CACHING replies, and the invalidation bytes a
// tracking connection receives when another connection writes (RESP3 pushes, RESP2 through a
// __redis__:invalidate subscriber, BCAST prefixes, OPTIN, NOLOOP, FLUSHALL's null invalidation).
import { expect, test } from "bun:test";
import { useRawDiffServers } from "../helpers/diff-servers.ts";
import type { RawConnection } from "../helpers/raw-socket.ts";
import { encodeCommand } from "../helpers/resp-client.ts";

const servers = useRawDiffServers();
const END = "__end__";

/** Sends the commands and then `PING __end__`, returns the bytes received up to its reply. */
async function run(c: RawConnection, cmds: readonly (readonly string[])[]): Promise<string> {
  const before = c.received().length;
  await c.write(Buffer.concat([...cmds, ["PING", END]].map((argv) => encodeCommand(argv))));
  const text = await c.readUntil((t) => t.length > before && t.endsWith(`${END}\r\n`));
  return text.slice(before);
}

/** A tracking connection and a writer on one server. */
interface Side {
  tracker: RawConnection;
  writer: RawConnection;
  /** The id of a third connection subscribed to __redis__:invalidate (RESP2), and that connection. */
  sub: RawConnection;
  subId: string;
}

async function side(port: number): Promise<Side> {
  const [tracker, writer, sub] = await Promise.all([servers.open(port), servers.open(port), servers.open(port)]);
  const idReply = await run(sub, [
    ["CLIENT", "ID"],
    ["SUBSCRIBE", "__redis__:invalidate"],
  ]);
  const subId = /^:(\d+)/.exec(idReply)![1]!;
  await run(writer, [["FLUSHALL"]]);
  return { tracker, writer, sub, subId };
}

/**
 * Runs the scenario on both servers: `setup` on the tracker, `writes` on the writer, then what the
 * tracker (and the redirect subscriber) received; the two servers' bytes must be equal.
 */
async function scenario(
  setup: (s: Side) => string[][],
  writes: string[][],
  after: string[][] = [],
): Promise<{ tracker: string; sub: string }> {
  const outs: { tracker: string; sub: string }[] = [];
  for (const port of [servers.redis.port, servers.fly.port]) {
    const s = await side(port);
    const subMark = s.sub.received().length;
    const cmds = setup(s);
    // HELLO's reply differs by design (server version, flydb_version): sent apart, not compared.
    if (cmds[0]![0] === "HELLO") await run(s.tracker, cmds.splice(0, 1));
    const mark = s.tracker.received().length;
    await run(s.tracker, cmds);
    await run(s.writer, writes);
    await run(s.tracker, after);
    await run(s.writer, [["PUBLISH", "__redis__:invalidate", END]]);
    await s.sub.readUntil((t) => t.slice(subMark).includes(`${END}\r\n`));
    outs.push({ tracker: s.tracker.received().slice(mark), sub: s.sub.received().slice(subMark) });
  }
  expect(outs[1]).toEqual(outs[0]!);
  return outs[0]!;
}

test("option errors, TRACKINGINFO, GETREDIR and CACHING replies (RESP2 and RESP3)", async () => {
  const script = [
    ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "GETREDIR"],
    ["CLIENT", "CACHING", "yes"],
    ["CLIENT", "TRACKING"],
    ["CLIENT", "TRACKING", "maybe"],
    ["CLIENT", "TRACKING", "on", "foo"],
    ["CLIENT", "TRACKING", "on", "redirect", "abc"],
    ["CLIENT", "TRACKING", "on", "redirect", "99999999"],
    ["CLIENT", "TRACKING", "on", "prefix", "a"],
    ["CLIENT", "TRACKING", "on", "bcast", "optin"],
    ["CLIENT", "TRACKING", "on", "optin", "optout"],
    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"],
    ["CLIENT", "TRACKING", "on", "optin", "noloop"],
    ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "GETREDIR"],
    ["CLIENT", "CACHING", "no"],
    ["CLIENT", "CACHING", "maybe"],
    ["CLIENT", "CACHING", "yes"],
    ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "TRACKING", "on", "optout"],
    ["CLIENT", "TRACKING", "on", "bcast"],
    ["CLIENT", "TRACKING", "off"],
    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "x:", "prefix", "y:"],
    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "x:1"],
    ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "TRACKING", "off"],
    ["CLIENT", "TRACKINGINFO"],
  ];
  for (const hello3 of [false, true]) {
    const [r, f] = await Promise.all([servers.open(servers.redis.port), servers.open(servers.fly.port)]);
    const cmds = hello3 ? [["HELLO", "3"], ...script] : script;
    // HELLO's map differs by design (version, flydb_version): cut off before comparing.
    const expected = (await run(r, cmds)).replace(/^%7\r\n[\s\S]*?modules\r\n\*0\r\n/, "");
    const got = (await run(f, cmds)).replace(/^%8\r\n[\s\S]*?flydb_version\r\n\$\d+\r\n[^\r]*\r\n/, "");
    expect(got).toBe(expected);
    expect(expected).toContain("overlaps with another provided prefix");
  }
});

test("RESP3: a key read while tracking is invalidated once by another connection's write", async () => {
  const out = await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on"],
      ["GET", "a"],
      ["MGET", "b", "c"],
      ["GET", "z"],
    ],
    [
      ["SET", "a", "1"],
      ["SET", "a", "2"],
      ["MSET", "b", "1", "c", "1"],
      ["DEL", "nosuch"],
      ["SET", "other", "x"],
    ],
  );
  expect(out.tracker).toContain(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n");
});

test("RESP2: invalidations go to the REDIRECT client as __redis__:invalidate messages", async () => {
  const out = await scenario(
    (s) => [
      ["CLIENT", "TRACKING", "on", "redirect", s.subId],
      ["GET", "k"],
      ["HGET", "h", "f"],
    ],
    [
      ["SET", "k", "v"],
      ["HSET", "h", "f", "v"],
      ["SET", "k", "again"],
    ],
  );
  expect(out.sub).toContain("$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n");
});

test("BCAST with prefixes, OPTIN with CACHING yes, NOLOOP, and FLUSHALL's null invalidation", async () => {
  await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on", "bcast", "prefix", "a:", "prefix", "b:"],
    ],
    [
      ["SET", "a:1", "x"],
      ["SET", "c:1", "x"],
      ["MSET", "b:1", "x", "b:2", "y"],
      ["DEL", "a:1"],
    ],
  );
  await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on", "optin"],
      ["GET", "a"],
      ["CLIENT", "CACHING", "yes"],
      ["GET", "b"],
      ["GET", "c"],
    ],
    [
      ["SET", "a", "1"],
      ["SET", "b", "1"],
      ["SET", "c", "1"],
    ],
  );
  await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on", "noloop"],
      ["GET", "own"],
      ["SET", "own", "1"],
      ["GET", "j"],
    ],
    [
      ["SET", "own", "2"],
      ["SET", "j", "1"],
    ],
  );
  const out = await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on"],
      ["GET", "k"],
    ],
    [["FLUSHALL"]],
  );
  expect(out.tracker).toContain(">2\r\n$10\r\ninvalidate\r\n_\r\n");
});

test("FLUSHDB inside MULTI: the null invalidation follows EXEC's reply", async () => {
  for (const port of [servers.redis.port, servers.fly.port]) {
    const c = await servers.open(port);
    await run(c, [["HELLO", "3"]]);
    await run(c, [
      ["CLIENT", "TRACKING", "on"],
      ["SET", "a", "1"],
      ["GET", "a"],
    ]);
    const mark = c.received().length;
    // The PING behind EXEC is answered before the push by FlyDB, after it by Redis (docs/API.md).
    await run(c, [["MULTI"], ["FLUSHDB"], ["EXEC"]]);
    const got = await c.readUntil((t) => t.slice(mark).includes("invalidate\r\n_\r\n"));
    expect(got.slice(mark)).toStartWith("+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
    expect(got.slice(mark)).toContain(">2\r\n$10\r\ninvalidate\r\n_\r\n");
  }
});

test("scripts: their declared keys are tracked only once they run a read-only command (EVAL and EVAL_RO)", async () => {
  const out = await scenario(
    () => [
      ["HELLO", "3"],
      ["CLIENT", "TRACKING", "on"],
      ["EVAL", "redis.call('set', 'k3{t}', 'bar')", "2", "k1{t}", "k2{t}"],
      ["EVAL_RO", "redis.call('ping')", "1", "k4{t}"],
      ["EVAL", "redis.call('get', 'k3{t}')", "1", "k5{t}"],
      ["EVAL_RO", "redis.call('get', 'k4{t}')", "1", "k6{t}"],
    ],
    [["MSET", "k1{t}", "1", "k2{t}", "1", "k4{t}", "1", "k5{t}", "1", "k6{t}", "1"]],
  );
  expect(out.tracker).toContain("invalidate\r\n*1\r\n$5\r\nk5{t}\r\n");
  expect(out.tracker).not.toContain("k1{t}\r\n");
});
