// Return after a partition heals (issue #18 item 4), N times: runs test/cluster/heal-return.test.ts
// (three nodes in network namespaces, one cut off until both sides declared each other dead, held,
// link back) with HEAL_RUNS=N and prints each run's time from the heal to the first moment the
// cut-off node served a write in every partition, then p50/p99. Needs root (netns) and
// redis-cli. About 25 s per run plus start-up; bounded by the test's own timeout. HEAL_DEBUG=1
// also prints every node's log from the heal on for runs over 3 s.
//
//   npx bun bench/heal-return.ts [runs=20]
const RUNS = Number(process.argv[2] ?? 20);

const proc = Bun.spawn(
  [process.execPath, "test", "--timeout", String((60 + RUNS * 60) * 1000), "test/cluster/heal-return.test.ts"],
  {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, HEAL_RUNS: String(RUNS), MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" },
    stdout: "pipe",
    stderr: "pipe",
  },
);
// bun test writes test output to stderr and console.log lines to stdout.
const show = (line: string) =>
  process.env.HEAL_DEBUG !== undefined || line.startsWith("[heal]") || /^\((pass|fail)\)|^error:/.test(line);
const relay = async (stream: ReadableStream<Uint8Array>) => {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) if (show(line)) console.log(line);
  }
  if (show(rest)) console.log(rest);
};
await Promise.all([relay(proc.stdout), relay(proc.stderr)]);
process.exit(await proc.exited);
