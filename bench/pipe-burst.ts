// A `redis-cli --pipe` burst of SETs through one member of a fresh 3-node loopback cluster, for
// each binary given, in interleaved rounds: the proxying member forwards thousands of writes at
// once, which is what broke the first transport write coalescing (docs/PERFORMANCE.md). Prints
// per round the errors and the seconds the burst took; with --secret the members seal every
// node-to-node frame (cluster_secret).
//
//   npx bun bench/pipe-burst.ts BINARY... [--keys 6000] [--partitions 2] [--rounds 1] [--secret]
import { argValue } from "./lib.ts";
import { runTool, startClusterMember } from "../test/helpers/processes.ts";
import { waitUntil } from "../test/helpers/cluster-harness.ts";

const VALUED = new Set(["--keys", "--partitions", "--rounds"]);
const bins = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !VALUED.has(all[i - 1] ?? ""));
if (bins.length === 0) throw new Error("usage: bench/pipe-burst.ts BINARY... [--keys N] [--partitions N] [--rounds N]");
const KEYS = argValue("--keys", 6000);
const PARTITIONS = argValue("--partitions", 2);
const ROUNDS = argValue("--rounds", 1);
const secret = process.argv.includes("--secret") ? ["--cluster-secret", "pipe-burst-secret"] : [];

async function round(binary: string): Promise<{ errors: number; replies: number; seconds: number }> {
  const args = ["--log-level", "warn", ...secret];
  const start = (id: string, seed?: number) => startClusterMember({ id, seed, partitions: PARTITIONS, binary, args });
  const m1 = await start("p1");
  const members = [m1, await start("p2", m1.gossip), await start("p3", m1.gossip)];
  try {
    await waitUntil(
      async () => {
        const s = (await (await fetch(`${m1.http}/cluster/status`)).json()) as {
          members: unknown[];
          partitions: { healthy: number };
        };
        return s.members.length === 3 && s.partitions.healthy === PARTITIONS;
      },
      60_000,
      "3 members, every partition healthy",
      200,
    );
    const lines = `${Array.from({ length: KEYS }, (_, i) => `SET burst-${i} v${i}`).join("\n")}\n`;
    const t0 = performance.now();
    const out = await runTool(["redis-cli", "-p", String(members[1]!.port), "--pipe"], {
      stdin: lines,
      timeoutMs: 120_000,
    });
    const seconds = (performance.now() - t0) / 1000;
    const m = /errors: (\d+), replies: (\d+)/.exec(out.stdout);
    if (!m) throw new Error(`redis-cli --pipe printed no summary: ${out.stdout}${out.stderr}`);
    // The first error reply, without the key's partition, names why the burst failed.
    const first = `${out.stdout}\n${out.stderr}`.split("\n").find((l) => /TRYAGAIN|CLUSTERDOWN|ERR/.test(l));
    if (first) console.log(`first error: ${first.slice(0, 300)}`);
    return { errors: Number(m[1]), replies: Number(m[2]), seconds };
  } finally {
    for (const m of members) await m.stop(2000);
  }
}

const loadAverage = async () => (await Bun.file("/proc/loadavg").text()).split(" ")[0];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? bins : [...bins].reverse();
  for (const b of order) {
    const x = await round(b);
    console.log(
      `round ${r + 1} ${b}: ${x.errors} errors of ${x.replies} replies in ${x.seconds.toFixed(1)} s; ` +
        `load average ${await loadAverage()}`,
    );
  }
}
