// What a write's error reply tells the client about whether the write was applied
// (docs/design/cluster.md, "Unknown outcomes"). Redis Cluster client libraries send a command
// again by themselves when it is answered -TRYAGAIN or -CLUSTERDOWN (ioredis, go-redis,
// redis-py), go-redis also on -LOADING, -READONLY and -MASTERDOWN: a write answered with one of
// these must not have been applied, or the client's resend applies it twice (an INCR counted
// twice, a BullMQ job added twice). A write that may have been applied is answered -UNKNOWN, a
// code no client library knows, so every one of them hands it to the application as it is.
import { err, type Reply } from "../../resp/reply.ts";

/** The code of a write whose outcome is unknown. */
export const UNKNOWN_OUTCOME = "UNKNOWN";

/** Codes some client library resends on by itself: only for a write known not to be applied. */
export const RESENT_BY_CLIENTS: ReadonlySet<string> = new Set([
  "TRYAGAIN",
  "CLUSTERDOWN",
  "LOADING",
  "READONLY",
  "MASTERDOWN",
]);

/** The code of an error reply (its first word); undefined for any other reply. */
export function errorCode(r: Reply): string | undefined {
  if (r.t !== "error") return undefined;
  const space = r.v.indexOf(" ");
  return space < 0 ? r.v : r.v.slice(0, space);
}

/** A write that may or may not have been applied; `why` says what was last heard of it. */
export const unknownOutcome = (why: string): Reply =>
  err(`${UNKNOWN_OUTCOME} ${why}; the write may or may not have been applied`);

/**
 * The error of a write split over partitions (MSET, DEL, FLUSHALL, …), given every part's reply in
 * order; undefined when no part failed. A part of unknown outcome makes the whole unknown. A part
 * refused with a code clients resend on, beside parts that were applied, makes the whole partly
 * applied: a resend would apply those parts twice (deleting or overwriting what another client
 * wrote in between), so that is answered as unknown too. Otherwise the first failure.
 */
export function splitWriteError(command: string, replies: readonly Reply[]): Reply | undefined {
  const failed = replies.filter((r) => r.t === "error");
  if (failed.length === 0) return undefined;
  const unknown = failed.find((r) => errorCode(r) === UNKNOWN_OUTCOME);
  if (unknown) return unknown;
  const first = failed[0]! as Reply & { t: "error" };
  const applied = replies.length - failed.length;
  if (applied > 0 && RESENT_BY_CLIENTS.has(errorCode(first)!)) {
    return err(
      `${UNKNOWN_OUTCOME} ${command} was applied in ${applied} of its ${replies.length} partitions, ` +
        `not in another (${first.v}); do not send it again as it is`,
    );
  }
  return first;
}
