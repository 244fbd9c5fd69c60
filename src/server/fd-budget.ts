// How close this process is to its open-file limit (RLIMIT_NOFILE), read from /proc on Linux.
// The RESP listener stops accepting before the limit: at the limit accept() fails with EMFILE
// while the connection stays in the backlog, and Bun's event loop retries it at once, forever,
// spinning a core and leaving no descriptor for /health, SQLite or the cluster transport.
import { readdirSync, readFileSync } from "node:fs";

export interface FdUsage {
  readonly open: number;
  /** The soft limit; Infinity where /proc does not say (not Linux). */
  readonly limit: number;
}

/** Descriptors kept free for everything but new RESP clients (HTTP, files, node-to-node links). */
export const FD_RESERVE = 32;

export function fdUsage(): FdUsage {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    const limit = soft === undefined || soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
    // The listing's own descriptor is counted too: one too many is on the safe side.
    return { open: readdirSync("/proc/self/fd").length, limit };
  } catch {
    return { open: 0, limit: Number.POSITIVE_INFINITY };
  }
}

/** Whether to stop accepting: fewer than FD_RESERVE descriptors left. */
export function fdsRunningOut(u: FdUsage): boolean {
  return u.limit - u.open < FD_RESERVE;
}

/** Whether to accept again: half the reserve more free, so accepting does not flap at the edge. */
export function fdsRecovered(u: FdUsage): boolean {
  return u.limit - u.open >= FD_RESERVE + FD_RESERVE / 2;
}
