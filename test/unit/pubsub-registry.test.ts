// The node's subscription registry (src/pubsub/registry.ts): who receives what, the counts PUBSUB
// reports, and that a closed client leaves nothing behind.
import { describe, expect, test } from "bun:test";
import { PubSubRegistry } from "../../src/pubsub/registry.ts";
import type { Reply } from "../../src/resp/reply.ts";

const b = (s: string) => new TextEncoder().encode(s);
const text = (r: Reply): string[] =>
  r.t === "push"
    ? r.v.map((x) => (x.t !== "bulk" ? "?" : typeof x.v === "string" ? x.v : new TextDecoder().decode(x.v)))
    : [];

function receiver(registry: PubSubRegistry, id: number) {
  const got: string[][] = [];
  return { got, client: registry.client({ id, push: (m) => got.push(text(m)) }) };
}

describe("PubSubRegistry", () => {
  test("channels, patterns and shard channels each reach their own subscribers", () => {
    const r = new PubSubRegistry();
    const a = receiver(r, 1);
    const c = receiver(r, 2);
    a.client.subscribe("channel", b("news"));
    a.client.subscribe("pattern", b("n*"));
    c.client.subscribe("pattern", b("n*"));
    c.client.subscribe("shard", b("news"));
    expect(r.publish(b("news"), b("hi"))).toBe(3);
    expect(a.got).toEqual([
      ["message", "news", "hi"],
      ["pmessage", "n*", "news", "hi"],
    ]);
    expect(c.got).toEqual([["pmessage", "n*", "news", "hi"]]);
    expect(r.publishShard(b("news"), b("s"))).toBe(1);
    expect(c.got.at(-1)).toEqual(["smessage", "news", "s"]);
    expect(r.publish(b("other"), b("x"))).toBe(0);
  });

  test("introspection counts this node's subscriptions; a subscription is made once", () => {
    const r = new PubSubRegistry();
    const a = receiver(r, 1);
    const c = receiver(r, 2);
    expect(a.client.subscribe("channel", b("x"))).toBe(true);
    expect(a.client.subscribe("channel", b("x"))).toBe(false);
    c.client.subscribe("channel", b("x"));
    c.client.subscribe("channel", b("y1"));
    a.client.subscribe("pattern", b("p*"));
    c.client.subscribe("pattern", b("p*"));
    expect(r.subscribers("channel", b("x"))).toBe(2);
    expect(r.patternCount()).toBe(1);
    expect(r.names("channel", b("y?")).map((n) => new TextDecoder().decode(n))).toEqual(["y1"]);
    expect(a.client.unsubscribe("channel", b("nope"))).toBe(false);
    a.client.close();
    c.client.close();
    expect(r.names("channel")).toEqual([]);
    expect(r.patternCount()).toBe(0);
    expect(a.client.count("channel") + a.client.count("pattern")).toBe(0);
  });

  test("binary channel names are matched byte for byte", () => {
    const r = new PubSubRegistry();
    const a = receiver(r, 1);
    a.client.subscribe("channel", new Uint8Array([0, 255]));
    expect(r.publish(new Uint8Array([0, 255]), b("m"))).toBe(1);
    expect(r.publish(new Uint8Array([0, 254]), b("m"))).toBe(0);
  });
});
