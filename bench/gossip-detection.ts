// Crash detection and message load of gossip at DEFAULT (memberlist LAN-like) settings:
// 5 member processes on loopback with cluster_secret set, packets counted over a quiet window,
// then `kill -9` of one member per trial, detection time measured at every survivor.
// Usage: npx bun bench/gossip-detection.ts [--trials N] [--window S]
import { MemberProc, waitFor } from "../test/helpers/gossip-procs.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const TRIALS = arg("--trials", 5);
const WINDOW_S = arg("--window", 30);
const N = 5;
const CLUSTER = `bench-${process.pid}`;
const procs = new Map<string, MemberProc>();

function spawn(id: string, seeds: string[]): MemberProc {
  const p = new MemberProc({ nodeId: id, clusterId: CLUSTER, bindAddr: "127.0.0.1:0", seeds, secret: "bench-secret" });
  procs.set(id, p);
  return p;
}
const live = () => [...procs.values()].filter((p) => !p.exited);
const allAlive = () => live().every((p) => Object.values(p.view).filter((s) => s === "alive").length === N);

try {
  const first = spawn("b0", []);
  await waitFor(() => first.addr !== "", 10_000, "b0 ready");
  for (let i = 1; i < N; i++) spawn(`b${i}`, [first.addr]);
  await waitFor(allAlive, 60_000, "convergence");

  console.log(`# message load over ${WINDOW_S} s (includes push-pull every 30 s)`);
  const before = new Map<string, Awaited<ReturnType<MemberProc["stats"]>>>();
  for (const p of live()) before.set(p.id, await p.stats());
  await Bun.sleep(WINDOW_S * 1000);
  console.log("| member | UDP sent/s | TCP sent/s | packets sent/s | packets received/s | bytes sent/s |");
  console.log("|---|---|---|---|---|---|");
  for (const p of live()) {
    const a = before.get(p.id)?.counters;
    const b = (await p.stats()).counters;
    if (!a || !b) continue;
    const rate = (x: number, y: number) => ((y - x) / WINDOW_S).toFixed(2);
    const sentA = a.udpOut + a.tcpOut;
    const sentB = b.udpOut + b.tcpOut;
    const bytes = (b.bytesOut - a.bytesOut) / WINDOW_S;
    console.log(
      `| ${p.id} | ${rate(a.udpOut, b.udpOut)} | ${rate(a.tcpOut, b.tcpOut)} | ${rate(sentA, sentB)} | ${rate(a.udpIn + a.tcpIn, b.udpIn + b.tcpIn)} | ${bytes.toFixed(0)} |`,
    );
  }

  console.log(`\n# crash detection (kill -9), ${TRIALS} trials`);
  console.log("| trial | killed | detection at each survivor (ms) | first | last |");
  console.log("|---|---|---|---|---|");
  const firsts: number[] = [];
  const lasts: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const victim = `b${1 + (t % (N - 1))}`;
    const proc = procs.get(victim) as MemberProc;
    await Bun.sleep(Math.random() * 1000); // a random phase against the probe ticker
    const killedAt = Date.now();
    proc.kill9();
    const survivors = live().filter((p) => p !== proc);
    await waitFor(() => survivors.every((p) => p.view[victim] === "dead"), 60_000, `${victim} dead`);
    const times = survivors.map((p) => Math.round((p.eventsAbout(victim, "dead").at(-1)?.at ?? NaN) - killedAt));
    firsts.push(Math.min(...times));
    lasts.push(Math.max(...times));
    console.log(`| ${t + 1} | ${victim} | ${times.join(", ")} | ${Math.min(...times)} | ${Math.max(...times)} |`);
    await proc.close();
    spawn(victim, [first.addr]);
    await waitFor(allAlive, 60_000, `${victim} rejoined`);
  }
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const summary = (xs: number[]) =>
    `mean ${mean(xs)} ms, median ${pct(xs, 0.5)} ms, p90 ${pct(xs, 0.9)} ms, max ${Math.max(...xs)} ms`;
  console.log(`\nfirst survivor: ${summary(firsts)}\nlast survivor:  ${summary(lasts)}`);
  console.log(`trials under 5 s (last survivor): ${lasts.filter((t) => t < 5000).length}/${lasts.length}`);
} finally {
  await Promise.all([...procs.values()].map((p) => p.close()));
}
