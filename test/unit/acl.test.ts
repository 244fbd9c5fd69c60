// The pure ACL core (src/acl): a user's description reads back as the same user, ACL LOG counts
// like entries together, and failed AUTHs from one source are delayed more and more, queued.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { AclRegistry } from "../../src/acl/registry.ts";
import { aclCatalog } from "../../src/commands/acl.ts";
import { COMMANDS } from "../../src/commands/table.ts";
import { globMatch } from "../../src/commands/util.ts";

const deps = {
  commands: aclCatalog(COMMANDS),
  sha256hex: (d: Uint8Array) => createHash("sha256").update(d).digest("hex"),
  glob: (p: Uint8Array, s: Uint8Array) => globMatch(p, s),
};
const bytes = (s: string) => new TextEncoder().encode(s);

describe("ACL users", () => {
  test("ACL LIST lines read back as the same users, permissions included", () => {
    const a = new AclRegistry(deps, "pw");
    a.setUser("alice", ["on", ">x", "%R~r:*", "~app:*", "&news.*", "+@read", "-keys", "+config|get"]);
    a.setUser("bob", ["on", "nopass", "allkeys", "allchannels", "+@all", "-@dangerous", "sanitize-payload"]);
    const b = new AclRegistry(deps, "pw");
    b.load(a.serialize());
    expect(b.serialize()).toEqual(a.serialize());
    const alice = b.get("alice")!;
    expect(alice.canRun("get")).toBe(true);
    expect(alice.canRun("keys")).toBe(false);
    expect(alice.canRun("config|get")).toBe(true);
    expect(alice.canRun("config|set")).toBe(false);
    expect(alice.canAccessKey(bytes("r:1"), { read: true, write: false })).toBe(true);
    expect(alice.canAccessKey(bytes("r:1"), { read: false, write: true })).toBe(false);
    expect(alice.canAccessChannel(bytes("news.today"), false)).toBe(true);
    expect(alice.canAccessChannel(bytes("news.*"), true)).toBe(true);
    expect(alice.canAccessChannel(bytes("news*"), true)).toBe(false);
    expect(b.authenticate("alice", bytes("x"))).toBe(true);
    expect(b.authenticate("alice", bytes("y"))).toBe(false);
    expect(b.authenticate("default", bytes("pw"))).toBe(true);
    expect(b.get("bob")!.canRun("flushall")).toBe(false);
  });

  test("a bad rule changes nothing", () => {
    const a = new AclRegistry(deps, "");
    a.setUser("alice", ["on", "+get"]);
    const before = a.serialize();
    expect(() => a.setUser("alice", ["+set", "~*", "~again"])).toThrow("Adding a pattern after the * pattern");
    expect(a.serialize()).toEqual(before);
  });

  test("ACL LOG counts an entry like one updated within the last minute with it, newest first", () => {
    const a = new AclRegistry(deps, "");
    const e = { reason: "key" as const, context: "toplevel" as const, object: "k", username: "u", clientInfo: "" };
    a.record({ ...e, at: 0 });
    a.record({ ...e, at: 30_000 });
    a.record({ ...e, object: "other", at: 31_000 });
    // 70 s after the last one counted: a new entry.
    a.record({ ...e, at: 100_000 });
    expect(a.logEntries(10).map((x) => [x.object, x.count])).toEqual([
      ["k", 1],
      ["other", 1],
      ["k", 2],
    ]);
    a.record({ ...e, at: 120_000 });
    expect(a.logEntries(10).map((x) => [x.object, x.count])).toEqual([
      ["k", 2],
      ["other", 1],
      ["k", 2],
    ]);
    expect(a.logEntries(1)).toHaveLength(1);
  });

  test("failed AUTHs: three free, then growing delays that queue; success clears them", () => {
    const a = new AclRegistry(deps, "pw");
    const src = "10.0.0.9";
    for (let i = 0; i < 3; i++) {
      expect(a.authDelay(src, 0)).toBe(0);
      a.authResult(src, true, 0, false);
    }
    // Three attempts arrive at once: each waits behind the one before, and longer.
    const delays = [a.authDelay(src, 0), a.authDelay(src, 0), a.authDelay(src, 0)];
    expect(delays).toEqual([100, 300, 600]);
    expect(a.authDelay("10.0.0.10", 0)).toBe(0);
    for (let i = 0; i < 3; i++) a.authResult(src, true, 600, true);
    expect(a.authDelay(src, 600)).toBe(400);
    a.authResult(src, false, 1000, true);
    expect(a.authDelay(src, 1000)).toBe(0);
    // Ten minutes later the count starts over.
    for (let i = 0; i < 5; i++) a.authResult("10.0.0.11", true, 0, false);
    expect(a.authDelay("10.0.0.11", 11 * 60_000)).toBe(0);
  });
});
