// Untrusted bytes into the gossip decoder: never a throw, always a counted reason.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Packet } from "../../src/gossip/core/types.ts";
import { parsePacket } from "../../src/gossip/core/validate.ts";
import { GossipWire } from "../../src/gossip/wire.ts";

const sealed = new GossipWire("fuzz-secret");
const plain = new GossipWire(undefined);
const packet: Packet = { c: "c", f: "n1", a: "127.0.0.1:7946", m: [{ t: "ping", seq: 9, target: "n2" }] };

describe("gossip wire", () => {
  test("round-trips plain and sealed packets; a sealed packet opens once only", () => {
    expect(plain.decode(plain.encode(packet), 65_536)).toEqual({ ok: true, packet });
    const bytes = sealed.encode(packet);
    expect(sealed.decode(bytes, 65_536)).toEqual({ ok: true, packet });
    expect(sealed.decode(bytes, 65_536)).toEqual({ ok: false, reason: "replay" });
  });

  test("wrong key, plaintext to an encrypted node, ciphertext to a plain node, oversize", () => {
    expect(new GossipWire("other").decode(sealed.encode(packet), 65_536)).toEqual({ ok: false, reason: "auth" });
    expect(sealed.decode(plain.encode(packet), 65_536)).toEqual({ ok: false, reason: "unencrypted" });
    expect(plain.decode(sealed.encode(packet), 65_536)).toEqual({ ok: false, reason: "encrypted" });
    expect(plain.decode(plain.encode(packet), 10)).toEqual({ ok: false, reason: "oversize" });
  });

  test("rotation: each step of cluster_secret + cluster_secret_accept talks to the steps next to it", () => {
    const ok = { ok: true as const, packet };
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
      expect(to!.decode(from!.encode(packet), 65_536)).toEqual(ok);
    expect(step3!.decode(before!.encode(packet), 65_536)).toEqual({ ok: false, reason: "auth" });
  });

  test("a flipped bit anywhere in a sealed packet is rejected", () => {
    const bytes = sealed.encode(packet);
    for (let i = 1; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      expect(sealed.decode(copy, 65_536).ok).toBe(false);
    }
  });

  test("random and mutated bytes never throw", () => {
    const valid = plain.encode(packet);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat(valid.length), (junk, cut) => {
        for (const w of [plain, sealed]) {
          const r1 = w.decode(junk, 65_536);
          const r2 = w.decode(Buffer.concat([valid.subarray(0, cut), junk]), 65_536);
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
