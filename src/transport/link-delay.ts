// A test-only delay per link: FLYDB_TEST_LINK_DELAY_MS="n2=40,n3=40" makes every frame this node
// sends to n2 or n3 (messages, requests and replies) leave that many milliseconds late, which
// stands in for the distance between zones in the locality test (test/cluster/read-routing-zones.test.ts).
// The network namespaces of the tests share one bridge, so the delay is per sender, not `tc`.
// Not a setting: a real deployment never sets it.

/** Milliseconds of delay by peer node id; empty when the variable is unset. */
export function parseLinkDelays(text: string | undefined): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const part of (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [peer, ms] = part.split("=");
    const n = Number(ms);
    if (!peer || !Number.isFinite(n) || n < 0) {
      throw new Error(`FLYDB_TEST_LINK_DELAY_MS must be peer=milliseconds pairs separated by commas, got "${text}"`);
    }
    out.set(peer, n);
  }
  return out;
}

export const LINK_DELAYS = parseLinkDelays(process.env.FLYDB_TEST_LINK_DELAY_MS);
