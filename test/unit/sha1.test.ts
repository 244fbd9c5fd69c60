// The pure SHA-1 that names scripts (src/scripting/sha1.ts) against node:crypto, at the lengths where
// the padding changes blocks and at a BullMQ-sized script.
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { sha1hex } from "../../src/scripting/sha1.ts";

test("sha1hex matches node:crypto at block edges and on a 40 KB body", () => {
  const data = new Uint8Array(40_133).map((_, i) => (i * 131 + (i >> 7)) & 0xff);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, data.length]) {
    const part = data.subarray(0, n);
    expect(sha1hex(part)).toBe(createHash("sha1").update(part).digest("hex"));
  }
});
