// Wall-clock time as TTLs see it. FLYDB_TEST_CLOCK_OFFSET_MS shifts it, for tests only: nodes in
// the test network namespaces share one kernel clock, so clock-skew tests (test/cluster/clock-skew.test.ts)
// start each node process with its own offset. Not a setting: a real deployment never sets it.
const offset = Number(process.env.FLYDB_TEST_CLOCK_OFFSET_MS ?? 0);
if (!Number.isFinite(offset)) {
  throw new Error(`FLYDB_TEST_CLOCK_OFFSET_MS must be milliseconds, got ${process.env.FLYDB_TEST_CLOCK_OFFSET_MS}`);
}

/** Milliseconds since the epoch, as Date.now(), plus the test-only offset. */
export const wallNow = (): number => Date.now() + offset;
