// Differential test of Pub/Sub against redis-server 7.0: the same bytes go to both servers over raw
// connections and the bytes that come back must be identical: (un)subscribe confirmations and
// their counts, RESP2's subscribed mode (its error text, PING as ["pong", arg]), RESP3 pushes,
// message frames, PUBSUB introspection and bad input.
import { expect, test } from "bun:test";
import { useRawDiffServers } from "../helpers/diff-servers.ts";
import type { RawConnection } from "../helpers/raw-socket.ts";
import { encodeCommand } from "../helpers/resp-client.ts";

const servers = useRawDiffServers();
const open = (port: number) => servers.open(port);

const END = "__end__";

/** Sends the commands and then `PING __end__` (answered in both modes), returns all bytes up to it. */
async function run(c: RawConnection, cmds: readonly (readonly string[])[]): Promise<string> {
  const before = c.received().length;
  await c.write(Buffer.concat([...cmds, ["PING", END]].map((argv) => encodeCommand(argv))));
  const text = await c.readUntil((t) => t.length > before && t.endsWith(`${END}\r\n`));
  return text.slice(before);
}

/** Runs the same script on a fresh connection to each server; the byte streams must be equal. */
async function same(cmds: readonly (readonly string[])[], hello3 = false): Promise<string> {
  const [r, f] = await Promise.all([open(servers.redis.port), open(servers.fly.port)]);
  if (hello3) await Promise.all([run(r, [["HELLO", "3"]]), run(f, [["HELLO", "3"]])]);
  const expected = await run(r, cmds);
  expect(await run(f, cmds)).toBe(expected);
  return expected;
}

const SUBSCRIBED_SCRIPT = [
  ["SUBSCRIBE", "a", "b", "a"],
  ["PSUBSCRIBE", "p*", "q?"],
  ["SSUBSCRIBE", "s"],
  ["GET", "x"],
  ["PUBSUB", "NUMPAT"],
  ["PING"],
  ["PING", "hi"],
  ["PING", "a", "b"],
  ["SUBSCRIBE"],
  ["NOSUCHCOMMAND"],
  ["UNSUBSCRIBE", "b", "zz"],
  ["UNSUBSCRIBE"],
  ["UNSUBSCRIBE"],
  ["PUNSUBSCRIBE", "p*"],
  ["PUNSUBSCRIBE"],
  ["PUNSUBSCRIBE"],
  ["SUNSUBSCRIBE"],
  ["SUNSUBSCRIBE", "s"],
  ["PING"],
  ["GET", "x"],
];

test("RESP2 subscribed mode: confirmations, refused commands, PING as a message", async () => {
  const out = await same(SUBSCRIBED_SCRIPT);
  expect(out).toContain("only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed");
});

test("RESP3: confirmations are pushes and every command is allowed", async () => {
  const out = await same(SUBSCRIBED_SCRIPT, true);
  expect(out).toStartWith(">3\r\n$9\r\nsubscribe\r\n");
});

test("CLIENT REPLY OFF and SKIP do not silence (un)subscribe confirmations, which are pushes", async () => {
  const script = [
    ["CLIENT", "REPLY", "OFF"],
    ["SUBSCRIBE", "c"],
    ["PSUBSCRIBE", "ch*"],
    ["UNSUBSCRIBE", "c"],
    ["PUNSUBSCRIBE", "ch*"],
    ["GET", "x"],
    ["CLIENT", "REPLY", "SKIP"],
    ["SSUBSCRIBE", "s"],
    ["SUNSUBSCRIBE", "s"],
    ["CLIENT", "REPLY", "ON"],
  ];
  for (const hello3 of [false, true]) {
    const out = await same(script, hello3);
    expect(out).toContain("psubscribe");
    expect(out).toContain("sunsubscribe");
  }
});

test("message, pmessage and smessage frames, and PUBLISH's receiver count", async () => {
  for (const hello3 of [false, true]) {
    const subs = await Promise.all([open(servers.redis.port), open(servers.fly.port)]);
    const pubs = await Promise.all([open(servers.redis.port), open(servers.fly.port)]);
    const script = [
      ["SUBSCRIBE", "news"],
      ["PSUBSCRIBE", "n*", "x"],
      ["SSUBSCRIBE", "news"],
    ];
    if (hello3) script.unshift(["HELLO", "3"]);
    const published = [
      ["PUBLISH", "news", "hello"],
      ["PUBLISH", "nothing", "bin\x00\xff"],
      ["PUBLISH", "zz", "lost"],
      ["SPUBLISH", "news", "sharded"],
      ["SPUBLISH", "other", "lost"],
    ];
    const outs: string[] = [];
    for (const [i, _port] of [servers.redis.port, servers.fly.port].entries()) {
      await run(subs[i]!, script);
      const mark = subs[i]!.received().length;
      outs.push(await run(pubs[i]!, published));
      await run(subs[i]!, []); // the messages come before this PING's reply
      outs.push(subs[i]!.received().slice(mark));
    }
    expect(outs[2]).toBe(outs[0]!);
    expect(outs[3]).toBe(outs[1]!);
    // The first round's subscribers stay connected and count in the second.
    if (!hello3) expect(outs[0]).toBe(":2\r\n:1\r\n:0\r\n:1\r\n:0\r\n$7\r\n__end__\r\n");
    expect(outs[1]).toContain(hello3 ? ">4\r\n$8\r\npmessage" : "*4\r\n$8\r\npmessage");
  }
});

test("PUBSUB introspection and bad input", async () => {
  const [r, f] = await Promise.all([open(servers.redis.port), open(servers.fly.port)]);
  for (const c of [r, f])
    await run(c, [
      ["SUBSCRIBE", "chan1"],
      ["PSUBSCRIBE", "pat*"],
      ["SSUBSCRIBE", "shard1"],
    ]);
  // Other tests' subscribers are still connected: channel lists are compared by pattern.
  await same([
    ["PUBSUB", "CHANNELS", "chan*"],
    ["PUBSUB", "CHANNELS", "nomatch*"],
    ["PUBSUB", "NUMSUB", "chan1", "nosuch"],
    ["PUBSUB", "NUMSUB"],
    ["PUBSUB", "NUMPAT"],
    ["PUBSUB", "SHARDCHANNELS", "shard?"],
    ["PUBSUB", "SHARDNUMSUB", "shard1", "chan1"],
    ["PUBSUB", "HELP"],
    ["PUBSUB"],
    ["PUBSUB", "foo"],
    ["PUBSUB", "CHANNELS", "a", "b"],
    ["PUBSUB", "NUMPAT", "x"],
    ["PUBSUB", "HELP", "x"],
    ["SUBSCRIBE"],
    ["PSUBSCRIBE"],
    ["SSUBSCRIBE"],
    ["PUBLISH", "a"],
    ["SPUBLISH", "a", "b", "c"],
    ["UNSUBSCRIBE"],
    ["PUNSUBSCRIBE", "never"],
  ]);
});

test("RESET leaves subscribed mode; QUIT answers +OK in it", async () => {
  await same([["SUBSCRIBE", "a"], ["PSUBSCRIBE", "b*"], ["RESET"], ["GET", "x"], ["PUBSUB", "NUMPAT"]]);
  const [r, f] = await Promise.all([open(servers.redis.port), open(servers.fly.port)]);
  const quit = encodeCommand(["SUBSCRIBE", "a"]).toString("latin1") + encodeCommand(["QUIT"]).toString("latin1");
  const outs = [];
  for (const c of [r, f]) {
    await c.write(quit);
    await c.waitClosed();
    outs.push(c.received());
  }
  expect(outs[1]).toBe(outs[0]!);
  expect(outs[0]).toEndWith("+OK\r\n");
});
