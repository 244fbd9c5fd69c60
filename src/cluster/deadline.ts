// A bound on how long the router waits for a node's own answer, as the transport bounds a
// remote request: shared by a write served here (src/cluster/router.ts) and a follower's
// ReadIndex barrier (src/cluster/follower-read.ts).
/** Settles as `p` does, or rejects with `expired()` after `ms`; the timer never outlives `p`. */
export function withDeadline<T>(p: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
