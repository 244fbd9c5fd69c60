// A/B of cluster SET throughput between two compiled binaries (e.g. main's and a branch's), in
// interleaved rounds (old, new; then new, old; …), each on a fresh 3-node loopback cluster (16
// partitions, rf 3): redis-benchmark SET through one node (proxied) and with --cluster. Prints
// per-round new/old ratios and their median: on a shared, noisy machine only ratios mean much.
// Also per round: server CPU µs per proxied SET (summed over the 3 nodes, from /proc/PID/stat),
// and, with --strace, socket writes (sendto, write, writev, sendmsg) per SET on the proxying node
// and on the two others, from `strace -c -f -p` on each during a further 2,000 proxied SETs.
//
//   npx bun bench/cluster-ab.ts OLD_BINARY NEW_BINARY [rounds=3] [requests=10000] [fsync=always] [--strace]
import { clusterSettled, cpuTicks, interleavedRounds, median } from "./lib.ts";
import { runTool, startClusterMember } from "../test/helpers/processes.ts";

const STRACE = process.argv.includes("--strace");
const [oldBin, newBin, roundsArg, requestsArg, fsyncArg] = process.argv.slice(2).filter((a) => a !== "--strace");
if (!oldBin || !newBin) throw new Error("usage: bench/cluster-ab.ts OLD_BINARY NEW_BINARY [rounds] [requests] [fsync]");
const ROUNDS = Number(roundsArg ?? 3);
const REQUESTS = Number(requestsArg ?? 10000);
const FSYNC = fsyncArg ?? "always";
const PARTITIONS = 16;
const TRACED_REQUESTS = 2000;
const TICK_US = 1e6 / 100; // CLK_TCK

interface Result {
  proxied: number;
  direct: number;
  cpuUsPerSet: number;
  /** Socket writes per proxied SET on the proxying node and on the two others (NaN without --strace). */
  proxyWrites: number;
  otherWrites: number;
}

async function setRps(port: number, extra: string[] = [], n = REQUESTS): Promise<number> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "set", "-r", "100000", "-n", String(n), "-c", "50"];
  const out = await runTool(["redis-benchmark", ...args, "-q", "--csv", ...extra], { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`no SET line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

/** Socket write calls in `strace -c` summaries. */
const SOCKET_WRITES = new Set(["sendto", "write", "writev", "sendmsg"]);

/** Runs `traffic` with `strace -c -f` attached to each pid; the socket write calls each made. */
async function tracedWrites(pids: number[], traffic: () => Promise<unknown>): Promise<number[]> {
  const straces = pids.map((pid) =>
    Bun.spawn(["strace", "-c", "-f", "-qq", "-p", String(pid)], { stdin: "ignore", stdout: "ignore", stderr: "pipe" }),
  );
  await Bun.sleep(1000); // attached to every thread
  await traffic();
  for (const t of straces) t.kill("SIGINT");
  return Promise.all(
    straces.map(async (t) => {
      let calls = 0;
      for (const line of (await new Response(t.stderr).text()).split("\n")) {
        const cols = line.trim().split(/\s+/);
        if (SOCKET_WRITES.has(cols.at(-1)!)) calls += Number(cols[3]);
      }
      return calls;
    }),
  );
}

async function traced(pids: number[], port: number): Promise<[number, number]> {
  const [proxy, ...others] = await tracedWrites(pids, () => setRps(port, [], TRACED_REQUESTS));
  return [proxy! / TRACED_REQUESTS, others.reduce((a, b) => a + b, 0) / TRACED_REQUESTS / others.length];
}

async function round(binary: string): Promise<Result> {
  const args = ["--log-level", "warn", "--fsync", FSYNC];
  const start = (id: string, seed?: number) => startClusterMember({ id, seed, partitions: PARTITIONS, binary, args });
  const m1 = await start("b1");
  const members = [m1, await start("b2", m1.gossip), await start("b3", m1.gossip)];
  try {
    await clusterSettled(m1, PARTITIONS);
    const pids = members.map((m) => m.pid);
    const c0 = pids.map(cpuTicks);
    const proxied = await setRps(m1.port);
    const cpu = pids.map(cpuTicks).reduce((s, x, i) => s + x - c0[i]!, 0);
    const direct = await setRps(m1.port, ["--cluster"]);
    const [proxyWrites, otherWrites] = STRACE ? await traced(pids, m1.port) : [Number.NaN, Number.NaN];
    return { proxied, direct, cpuUsPerSet: (cpu * TICK_US) / REQUESTS, proxyWrites, otherWrites };
  } finally {
    for (const m of members) await m.stop(2000);
  }
}

const results = await interleavedRounds(
  ROUNDS,
  { old: oldBin, new: newBin },
  round,
  (x) =>
    `proxied ${x.proxied.toFixed(0)} SET/s, --cluster ${x.direct.toFixed(0)},` +
    ` ${x.cpuUsPerSet.toFixed(0)} µs CPU/proxied SET (3 nodes), socket writes/SET proxy` +
    ` ${x.proxyWrites.toFixed(2)} others ${x.otherWrites.toFixed(2)}`,
);
for (const k of ["proxied", "direct", "cpuUsPerSet", "proxyWrites", "otherWrites"] as const) {
  const ratios = results.new.map((n, i) => n[k] / results.old[i]![k]);
  const [o, n] = [results.old, results.new].map((r) =>
    median(r.map((x) => x[k])).toFixed(k.endsWith("Writes") ? 2 : 0),
  );
  const perRound = ratios.map((x) => x.toFixed(2)).join(" ");
  const ratio = median(ratios).toFixed(2);
  console.log(`${k}: new/old per round ${perRound}; median ratio ${ratio}; median old ${o}, new ${n}`);
}
