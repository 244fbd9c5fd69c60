// Untrusted bytes into the gossip decoder: never a throw, always a counted reason.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Packet, Send } from "../../src/gossip/core/types.ts";
import { parsePacket } from "../../src/gossip/core/validate.ts";
import { GossipWire } from "../../src/gossip/wire.ts";

const sealed = new GossipWire("fuzz-secret");
const plain = new GossipWire(undefined);
const packet: Packet = { c: "c", f: "n1", a: "127.0.0.1:7946", m: [{ t: "ping", seq: 9, target: "n2" }] };
const MAX = 65_536;
const to = (addr = "127.0.0.1:7947"): Send => ({ to: addr, via: "udp", packet });

/**
 * What a first packet does between two sealed wires: `receiver` refuses it (sealed for an epoch it
 * does not have) with a NOTICE, and `sender` sends it again for the receiver's epoch.
 */
function introduce(sender: GossipWire, receiver: GossipWire): void {
  const refused = receiver.decode(sender.encode(to()), MAX);
  expect(refused).toMatchObject({ ok: false, reason: "stale", reply: { to: packet.a } });
  const notice = sender.decode((refused as { reply: { frame: Buffer } }).reply.frame, MAX);
  expect(notice).toEqual({ ok: false, reason: "notice", resend: to() });
  expect(receiver.decode(sender.encode(to()), MAX)).toEqual({ ok: true, packet });
}

describe("gossip wire", () => {
  test("round-trips plain and sealed packets; a sealed packet opens once only", () => {
    expect(plain.decode(plain.encode(to()), MAX)).toEqual({ ok: true, packet });
    const receiver = new GossipWire("fuzz-secret");
    introduce(sealed, receiver);
    const bytes = sealed.encode(to());
    expect(receiver.decode(bytes, MAX)).toEqual({ ok: true, packet });
    expect(receiver.decode(bytes, MAX)).toEqual({ ok: false, reason: "replay" });
  });

  test("a packet captured before the receiver restarted is refused after it, and not sent again", () => {
    let now = 0;
    const sender = new GossipWire("fuzz-secret", [], () => now);
    const before = new GossipWire("fuzz-secret");
    introduce(sender, before);
    const captured = sender.encode(to());
    expect(before.decode(captured, MAX)).toEqual({ ok: true, packet });
    // The restart: a new process, a new epoch, an empty replay window.
    const after = new GossipWire("fuzz-secret");
    const replayed = after.decode(captured, MAX);
    expect(replayed).toMatchObject({ ok: false, reason: "stale" });
    // Its NOTICE reaches the sender, which learns the new epoch but repeats nothing that old.
    now += 2_001;
    const notice = (replayed as { reply: { frame: Buffer } }).reply.frame;
    expect(sender.decode(notice, MAX)).toEqual({ ok: false, reason: "notice" });
    expect(after.decode(sender.encode(to()), MAX)).toEqual({ ok: true, packet });
    // A NOTICE replayed later asks for nothing either.
    expect(sender.decode(notice, MAX)).toMatchObject({ ok: false, reason: "replay" });
  });

  test("wrong key, plaintext to an encrypted node, ciphertext to a plain node, oversize", () => {
    expect(new GossipWire("other").decode(sealed.encode(to()), MAX)).toEqual({ ok: false, reason: "auth" });
    expect(sealed.decode(plain.encode(to()), MAX)).toEqual({ ok: false, reason: "unencrypted" });
    expect(plain.decode(sealed.encode(to()), MAX)).toEqual({ ok: false, reason: "encrypted" });
    expect(plain.decode(plain.encode(to()), 10)).toEqual({ ok: false, reason: "oversize" });
  });

  test("rotation: each step of cluster_secret + cluster_secret_accept talks to the steps next to it", () => {
    // Every node at step 1 (old, accepting new), then 2 (new, accepting old), then 3 (new only).
    const [before, step1, step2, step3] = [
      new GossipWire("old"),
      new GossipWire("old", ["new"]),
      new GossipWire("new", ["old"]),
      new GossipWire("new"),
    ];
    for (const [from, to] of [
      [before, step1],
      [step1, before],
      [step1, step2],
      [step2, step1],
      [step2, step3],
      [step3, step2],
    ] as const)
      introduce(from!, to!);
    expect(step3!.decode(before!.encode(to()), MAX)).toEqual({ ok: false, reason: "auth" });
  });

  test("a flipped bit anywhere in a sealed packet is rejected", () => {
    const bytes = sealed.encode(to());
    for (let i = 1; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      expect(sealed.decode(copy, MAX).ok).toBe(false);
    }
  });

  test("random and mutated bytes never throw", () => {
    const valid = plain.encode(to());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat(valid.length), (junk, cut) => {
        for (const w of [plain, sealed]) {
          const r1 = w.decode(junk, MAX);
          const r2 = w.decode(Buffer.concat([valid.subarray(0, cut), junk]), MAX);
          expect(typeof r1.ok).toBe("boolean");
          expect(typeof r2.ok).toBe("boolean");
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("parsePacket never throws on arbitrary structured input", () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4 }), fc.anything({ maxDepth: 3 }), (m, x) => {
        parsePacket(x);
        parsePacket({ c: "c", f: "n", a: "a:1", m: [m, { t: "pp", reply: true, states: [m] }] });
      }),
      { numRuns: 2000 },
    );
  });
});
