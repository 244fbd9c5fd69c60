// Anything can arrive on UDP 5353: the receive path must never throw, whatever the bytes.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { ServiceCache } from "../../src/discovery/core/browser.ts";
import { decodeMessage, encodeMessage } from "../../src/discovery/core/codec.ts";
import { allRecords, serviceRecords } from "../../src/discovery/core/records.ts";
import { Responder } from "../../src/discovery/core/responder.ts";
import { desc, seeded } from "../unit/discovery/sample.ts";

const valid = encodeMessage({
  isResponse: true,
  questions: [{ name: "_flydb._tcp.local", type: "PTR" }],
  answers: allRecords(serviceRecords(desc)),
});

function announcedResponder(): Responder {
  const r = new Responder(desc, { random: seeded(5) });
  r.start(0);
  for (let t = 0; t < 5000; t += 50) r.tick(t);
  return r;
}

const mutated = fc
  .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })
  .chain((flips) =>
    fc.nat(valid.length).map((cut) => {
      const b = Uint8Array.from(valid);
      for (const [i, v] of flips) b[i] = v;
      return b.subarray(0, Math.max(cut, 12));
    }),
  );
const packets = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated);

test("decoding, browsing and answering survive random and mutated packets", () => {
  const responder = announcedResponder();
  const cache = new ServiceCache();
  let now = 10_000;
  fc.assert(
    fc.property(packets, fc.boolean(), (bytes, legacy) => {
      now += 7;
      expect(() => decodeMessage(bytes)).not.toThrow();
      expect(() => cache.ingest(bytes, "10.0.0.9", now)).not.toThrow();
      const step = responder.receive(bytes, { address: "10.0.0.9", port: legacy ? 40000 : 5353 }, now);
      for (const out of [...step.send, ...responder.tick(now + 200).send])
        expect(() => encodeMessage(out.message)).not.toThrow();
      expect(() => cache.nodes(now)).not.toThrow();
    }),
    { numRuns: 3000, seed: 42 },
  );
  // Mutated packets may look like rival claims (and force a re-probe or a rename); once the
  // noise stops the responder must settle and answer for whatever name it holds.
  for (const end = now + 20_000; now < end; now += 50) responder.tick(now);
  expect(responder.state).toBe("announced");
  const q = encodeMessage({
    isResponse: false,
    questions: [{ name: `${responder.instance}._flydb._tcp.local`, type: "SRV" }],
  });
  expect(responder.receive(q, { address: "10.0.0.9", port: 40000 }, now).send).toHaveLength(1);
});
