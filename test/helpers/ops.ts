// Ops and keys for tests that drive the store or a standalone host directly, below the RESP layer.
import type { Op } from "../../src/commands/types.ts";

const text = new TextDecoder();
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array | undefined | symbol): string | undefined =>
  b instanceof Uint8Array ? text.decode(b) : b === undefined ? undefined : String(b);

/** Builds an op from string arguments: op(now, ["set", "k", "v"], …). */
export function op(now: number, ...cmds: (string | Uint8Array)[][]): Op {
  return { cmds: cmds.map((c) => c.map((a) => (typeof a === "string" ? utf8(a) : a))), now, seed: 0 };
}
