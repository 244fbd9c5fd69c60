// A keyless EVAL/EVAL_RO/FCALL/FCALL_RO (numkeys 0) in a cluster. Redis Cluster runs one on the node
// the client is connected to, and lets it touch that node's keys; FlyDB has no such node (every node
// answers for every key), so it runs the script in one partition's state machine instead: first a
// partition this node leads (no hop, as Redis's "this node"), and if the first key the script
// touches belongs to another partition, the script — which has then written nothing — is sent once
// more to that key's partition, with the same `now` and seed; it usually takes the same path to that
// key (a keyless read such as RANDOMKEY may send it elsewhere: then the non-local error). A script
// that touches no keys runs where it was first sent.
import { SCRIPT_MOVED } from "../commands/scripting.ts";
import { lower, utf8 } from "../commands/util.ts";
import { SLOT_COUNT, partitionOf } from "../keyspace/slot.ts";
import { err, type Reply } from "../resp/reply.ts";

const SCRIPTS = new Set(["eval", "eval_ro", "fcall", "fcall_ro"]);
const NON_LOCAL = err("ERR Script attempted to access a non local key in a cluster node");

/** The slot a keyless script's run asked to be sent to, if it did (scripting.ts's movedTo). */
function movedSlot(r: Reply): number | undefined {
  if (r.t !== "error" || !r.v.startsWith(`${SCRIPT_MOVED} `)) return undefined;
  const slot = Number(r.v.slice(SCRIPT_MOVED.length + 1));
  return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT ? slot : undefined;
}

/**
 * Runs a keyless script command starting in partition `home`; `send` delivers the wrapped command
 * (`__scriptpart`, or `__scriptpart_ro` for a read) to a partition's leader. Undefined for any
 * other command.
 */
export function keylessScript(
  argv: readonly Uint8Array[],
  partitionCount: number,
  home: number,
  write: boolean,
  send: (partition: number, wrapped: readonly Uint8Array[]) => Promise<Reply> | Reply,
): Promise<Reply> | undefined {
  if (!SCRIPTS.has(lower(argv[0]!))) return undefined;
  const via = utf8(write ? "__scriptpart" : "__scriptpart_ro");
  const run = (p: number) => send(p, [via, utf8(String(p)), utf8(String(p * (SLOT_COUNT / partitionCount))), ...argv]);
  return (async () => {
    const first = await run(home);
    const moved = movedSlot(first);
    if (moved === undefined) return first;
    const again = await run(partitionOf(moved, partitionCount));
    return movedSlot(again) === undefined ? again : NON_LOCAL;
  })();
}
