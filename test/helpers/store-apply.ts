// A tiny deterministic apply for store tests (the real command layer is the lead's): enough
// commands to write, fail halfway, and expire through the log.
import type { Keyspace, Op } from "../../src/commands/types.ts";
import { EXPIRE_COMMAND } from "../../src/store/engine.ts";
import { err, int, OK, type Reply } from "../../src/resp/reply.ts";

const text = new TextDecoder();
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array | undefined | symbol): string | undefined =>
  b instanceof Uint8Array ? text.decode(b) : b === undefined ? undefined : String(b);

/** Builds an op from string arguments: op(now, ["set", "k", "v"], …). */
export function op(now: number, ...cmds: (string | Uint8Array)[][]): Op {
  return { cmds: cmds.map((c) => c.map((a) => (typeof a === "string" ? utf8(a) : a))), now, seed: 0 };
}

function run(argv: readonly Uint8Array[], ks: Keyspace, now: number): Reply {
  const name = text.decode(argv[0]);
  switch (name) {
    case "set": // set key value [pxat]
      ks.setString(argv[1], argv[2], argv[3] ? Number(text.decode(argv[3])) : null);
      return OK;
    case "incr": {
      const current = ks.getString(argv[1], now);
      if (typeof current === "symbol") return err("WRONGTYPE");
      const next = (current ? Number(text.decode(current)) : 0) + 1;
      ks.setString(argv[1], utf8(String(next)), ks.meta(argv[1], now)?.expireAt ?? null);
      return int(next);
    }
    case "del":
      return int(argv.slice(1).filter((k) => ks.delete(k, now)).length);
    case "boom": // writes, then throws: the write must be rolled back
      ks.setString(argv[1], utf8("partial"), null);
      throw new Error("boom after a write");
    case EXPIRE_COMMAND:
      return int(argv.slice(1).filter((k) => ks.deleteIfExpired(k, now)).length);
    default:
      return err(`ERR unknown test command '${name}'`);
  }
}

export function testApply(op: Op, ks: Keyspace): Reply {
  const replies = op.cmds.map((argv) => run(argv, ks, op.now));
  return replies.length === 1 ? replies[0] : { t: "array", v: replies };
}
