// The size limit on a cluster write, checked by the router (src/cluster/router.ts) before a write
// is sent anywhere. Standalone writes are bounded by proto_max_bulk_len instead.
import type { Op } from "../commands/types.ts";
import { err, type Reply } from "../resp/reply.ts";
import { DEFAULT_MAX_FRAME } from "../transport/transport.ts";

/**
 * The largest write a cluster carries: its log entry travels to the followers in one node-to-node
 * frame (DEFAULT_MAX_FRAME), with room left for the entry's envelope. Larger ones are refused
 * before anything is sent; sent, they would break the links between the nodes at every retry.
 */
export const MAX_CLUSTER_WRITE_BYTES = DEFAULT_MAX_FRAME - 1024 * 1024;

const MB = 1024 * 1024;

function opBytes(op: Op): number {
  let n = 0;
  for (const argv of op.cmds) for (const a of argv) n += a.length;
  return n;
}

/** The error for a write over MAX_CLUSTER_WRITE_BYTES; undefined when it fits. */
export function clusterWriteTooLarge(op: Op): Reply | undefined {
  const size = opBytes(op);
  if (size <= MAX_CLUSTER_WRITE_BYTES) return undefined;
  return err(
    `ERR write too large for a cluster: its arguments take ${(size / MB).toFixed(1)} MB, a cluster write may take ` +
      `at most ${MAX_CLUSTER_WRITE_BYTES / MB} MB (one node-to-node frame); ` +
      "proto_max_bulk_len bounds standalone writes",
  );
}
