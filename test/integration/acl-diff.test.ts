// Differential test: ACL users and AUTH against a real redis-server 7.0. The same command
// sequences go to both, over separate connections per user, and the replies must be equal —
// except where Redis's reply is not deterministic (GENPASS's bytes, ACL LOG's ages and client lines),
// which are compared by shape.
import { describe, expect, test } from "bun:test";
import { useDiffServers, type Pair } from "../helpers/diff-servers.ts";
import { show, type Wire } from "../helpers/resp-client.ts";

const { servers } = useDiffServers();

/** Each command on both servers, on the pair's connections; replies must match. */
async function same(pair: Pair, cmds: readonly (readonly string[])[]): Promise<void> {
  for (const argv of cmds) {
    const r = await pair.redis.call(...argv);
    const f = await pair.fly.call(...argv);
    expect({ argv, reply: show(f) }).toEqual({ argv, reply: show(r) });
  }
}

/** ACL LOG's entries without what differs between servers (ages, client lines). */
async function entries(c: Pair["redis"]): Promise<Record<string, unknown>[]> {
  const log = (await c.call("ACL", "LOG")) as { v: { v: Wire[] }[] };
  return log.v.map((e) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i < e.v.length; i += 2) fields.set((e.v[i] as { v: Buffer }).v.toString(), e.v[i + 1]);
    fields.delete("age-seconds");
    fields.delete("client-info");
    return Object.fromEntries(fields);
  });
}

async function reset(): Promise<void> {
  for (const c of [servers.redis, servers.fly]) {
    const users = (await c.call("ACL", "USERS")) as { v: { v: Buffer }[] };
    const names = users.v.map((u) => u.v.toString()).filter((n) => n !== "default");
    if (names.length > 0) await c.call("ACL", "DELUSER", ...names);
    await c.call("ACL", "LOG", "RESET");
    await c.call("FLUSHALL");
  }
}

describe("ACL against redis-server", () => {
  test("SETUSER, LIST, GETUSER, USERS, DELUSER and the rule errors", async () => {
    await reset();
    await same(servers, [
      ["ACL", "SETUSER", "alice"],
      ["ACL", "LIST"],
      ["ACL", "SETUSER", "alice", "on", ">pw", ">pw2", "<pw2", "~foo*", "%R~r*", "%W~w*", "&chan*", "+get"],
      ["ACL", "LIST"],
      ["ACL", "GETUSER", "alice"],
      ["ACL", "GETUSER", "nosuch"],
      ["ACL", "SETUSER", "bob", "on", "nopass", "allkeys", "allchannels", "+@all", "-flushall"],
      ["ACL", "GETUSER", "bob"],
      ["ACL", "SETUSER", "bob", "reset"],
      ["ACL", "LIST"],
      ["ACL", "USERS"],
      ["ACL", "SETUSER", "carol", "on", `#${"a".repeat(64)}`, "~*", "+@read"],
      ["ACL", "GETUSER", "carol"],
      ["ACL", "SETUSER", "bob", "badrule"],
      ["ACL", "SETUSER", "bob", "+nosuchcommand"],
      ["ACL", "SETUSER", "bob", "+@nosuchcategory"],
      ["ACL", "SETUSER", "bob", "~*", "~foo"],
      ["ACL", "SETUSER", "bob", "&*", "&foo"],
      ["ACL", "SETUSER", "bob", "#abc"],
      ["ACL", "SETUSER", "bob", "<notapassword"],
      ["ACL", "SETUSER", "bob", "%X~foo"],
      ["ACL", "SETUSER", "bad name"],
      // A bad rule changes nothing, not even the rules before it.
      ["ACL", "SETUSER", "dave", "on", "badrule"],
      ["ACL", "GETUSER", "dave"],
      ["ACL", "DELUSER", "default"],
      ["ACL", "DELUSER", "bob", "nosuch", "carol"],
      ["ACL", "USERS"],
      ["ACL", "WHOAMI"],
      ["ACL", "CAT"],
      ["ACL", "CAT", "nosuchcategory"],
      ["ACL", "DRYRUN", "alice", "get", "foo1"],
      ["ACL", "DRYRUN", "alice", "get", "bar"],
      ["ACL", "DRYRUN", "alice", "set", "foo1", "x"],
      ["ACL", "DRYRUN", "nosuch", "get", "x"],
      ["ACL", "DRYRUN", "alice", "nosuchcmd"],
      ["ACL", "DRYRUN", "alice", "get"],
      ["ACL", "GENPASS", "0"],
      ["ACL", "GENPASS", "5000"],
      ["ACL", "GENPASS", "x"],
      ["ACL", "LOG", "x"],
      ["ACL", "SAVE"],
      ["ACL", "LOAD"],
      ["ACL", "NOSUCH"],
    ]);
  });

  test("selectors: SETUSER (one argument or several), LIST, GETUSER, DRYRUN, errors, clearselectors", async () => {
    await reset();
    await same(servers, [
      ["ACL", "SETUSER", "sel", "on", "nopass", "~a*", "+get", "(~b* +set)", "(%R~c* &ch +@read -get)"],
      ["ACL", "LIST"],
      ["ACL", "GETUSER", "sel"],
      // Allowed by a selector, not by the root rules; the reported denial is the highest ranked
      // (channel, key, command) and then the one at the last argument.
      ["ACL", "DRYRUN", "sel", "set", "b1", "v"],
      ["ACL", "DRYRUN", "sel", "set", "a1", "v"],
      ["ACL", "DRYRUN", "sel", "get", "c1"],
      ["ACL", "DRYRUN", "sel", "hget", "c1", "f"],
      ["ACL", "DRYRUN", "sel", "mget", "a1", "b1"],
      ["ACL", "DRYRUN", "sel", "publish", "ch", "x"],
      ["ACL", "DRYRUN", "sel", "del", "b1"],
      ["ACL", "SETUSER", "two", "on", "(~a* +mset)", "(~b* +mset)", "(&ch* +publish ~*)", "(+subscribe)"],
      ["ACL", "DRYRUN", "two", "mset", "a1", "v", "b1", "v"],
      ["ACL", "DRYRUN", "two", "mset", "c", "v", "d", "v"],
      ["ACL", "DRYRUN", "two", "mset", "a1", "v", "a2", "v"],
      ["ACL", "DRYRUN", "two", "publish", "x", "y"],
      ["ACL", "DRYRUN", "two", "publish", "ch1", "y"],
      ["ACL", "DRYRUN", "two", "subscribe", "x"],
      ["ACL", "SETUSER", "sel", "(~x*", "+get)", "()", "(allkeys allchannels allcommands)", "(  ~q*   +hget  )"],
      ["ACL", "LIST"],
      ["ACL", "GETUSER", "sel"],
      ["ACL", "SETUSER", "sel", "(~x*"],
      ["ACL", "SETUSER", "sel", "(~x* >pw)"],
      ["ACL", "SETUSER", "sel", "(on)"],
      ["ACL", "SETUSER", "sel", "(badrule)"],
      ["ACL", "SETUSER", "sel", "(+nosuch)"],
      ["ACL", "SETUSER", "sel", "(~* ~foo)"],
      ["ACL", "SETUSER", "bad", "on", "(~b* +set)", "(+@nosuch)"],
      ["ACL", "GETUSER", "bad"],
      ["ACL", "SETUSER", "sel", "clearselectors"],
      ["ACL", "LIST"],
      ["ACL", "SETUSER", "two", "reset"],
      ["ACL", "GETUSER", "two"],
    ]);
  });

  test("selectors over a user's connection: NOPERM and ACL LOG as Redis", async () => {
    await reset();
    await same(servers, [["ACL", "SETUSER", "sel", "on", ">pw", "~a*", "+get", "(~b* +set +get)", "(&ch +publish)"]]);
    const sel = await servers.connect();
    await same(sel, [
      ["AUTH", "sel", "pw"],
      ["SET", "b1", "v"],
      ["GET", "b1"],
      ["GET", "a1"],
      ["SET", "a1", "v"],
      ["GET", "c1"],
      ["PUBLISH", "ch", "m"],
      ["PUBLISH", "other", "m"],
    ]);
    const logged = await entries(servers.redis);
    expect(logged.length).toBe(3);
    expect(await entries(servers.fly)).toEqual(logged);
    sel.redis.close();
    sel.fly.close();
  });

  test("AUTH and HELLO AUTH as a user; command, key and channel permissions; MULTI", async () => {
    await reset();
    await same(servers, [
      ["ACL", "SETUSER", "alice", "on", ">pw", "~foo*", "%R~r*", "%W~w*", "&chan*", "+get", "+set", "+publish"],
      ["ACL", "SETUSER", "off1", "off", ">pw", "+@all", "~*"],
      ["SET", "rkey", "v"],
      ["AUTH", "x"],
    ]);
    const alice = await servers.connect();
    await same(alice, [
      ["AUTH", "alice", "wrong"],
      ["AUTH", "nosuch", "pw"],
      ["AUTH", "off1", "pw"],
      ["AUTH", "alice", "pw"],
      ["GET", "foo1"],
      ["SET", "foo1", "v"],
      ["GET", "foo1"],
      ["GET", "bar"],
      ["GET", "rkey"],
      ["SET", "rkey", "x"],
      ["SET", "wkey", "x"],
      ["GET", "wkey"],
      ["DEL", "foo1"],
      ["ACL", "WHOAMI"],
      ["PUBLISH", "chan1", "m"],
      ["PUBLISH", "other", "m"],
      ["MULTI"],
      ["GET", "foo1"],
      ["DEL", "foo1"],
      ["EXEC"],
      ["HELLO", "2", "AUTH", "alice", "wrong"],
    ]);
    // The default user has no password: any password passes (the HELLO maps differ in version fields).
    const other = await servers.connect();
    expect((await other.fly.call("HELLO", "2", "AUTH", "default", "anything")).t).toBe("*");
    // A user that may run MULTI/EXEC: a refused command is refused when queued and dooms EXEC.
    await same(servers, [["ACL", "SETUSER", "alice", "+multi", "+exec", "+subscribe", "+psubscribe"]]);
    await same(alice, [
      ["MULTI"],
      ["GET", "foo1"],
      ["DEL", "foo1"],
      ["EXEC"],
      ["MULTI"],
      ["GET", "foo1"],
      ["GET", "bar"],
      ["EXEC"],
      ["SUBSCRIBE", "chan1", "other"],
      ["PSUBSCRIBE", "chan*"],
      ["PSUBSCRIBE", "ch*"],
    ]);
    // ACL LOG: newest first; age and client line differ by nature, the rest must not.
    expect(await entries(servers.fly)).toEqual(await entries(servers.redis));
    expect((await entries(servers.fly)).length).toBeGreaterThan(5);
    alice.redis.close();
    alice.fly.close();
  });

  test("GENPASS: hex of the asked number of bits", async () => {
    for (const bits of [undefined, "1", "5", "64", "4096"]) {
      const args = bits === undefined ? ["ACL", "GENPASS"] : ["ACL", "GENPASS", bits];
      const r = (await servers.redis.call(...args)) as { v: Buffer };
      const f = (await servers.fly.call(...args)) as { v: Buffer };
      expect(f.v.toString()).toMatch(/^[0-9a-f]+$/);
      expect(f.v.length).toBe(r.v.length);
    }
  });
});
