// Idle cost of a cluster: 3 members on loopback with many partitions (rf 3, so every node holds a
// replica of every partition and leads about a third), no client traffic. Once the leaders are
// spread, samples each member's CPU time (/proc/<pid>/stat) and transport counters (/metrics) over
// a window and prints CPU % and Raft frames/bytes per second per node.
//
//   npx bun bench/cluster-idle.ts [--partitions 256] [--seconds 20]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureBinary, metricValue, startClusterMember, type ClusterMemberProcess } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    partitions: { type: "string", default: "256" },
    seconds: { type: "string", default: "20" },
  },
});
const PARTITIONS = Number(values.partitions);
const SECONDS = Number(values.seconds);
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Transport counters from /metrics (frames and bytes sent). */
async function transport(m: ClusterMemberProcess): Promise<{ frames: number; bytes: number }> {
  return {
    frames: await metricValue(m, 'flydb_transport_frames_total{direction="out"}'),
    bytes: await metricValue(m, 'flydb_transport_bytes_total{direction="out"}'),
  };
}

async function settled(m: ClusterMemberProcess, members: number): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    try {
      const s = (await (await fetch(`${m.http}/cluster/status`)).json()) as {
        members: unknown[];
        partitions: { healthy: number; leaders_per_node: Record<string, number> };
      };
      const perNode = Object.values(s.partitions.leaders_per_node);
      const even = perNode.length === members && Math.max(...perNode) - Math.min(...perNode) <= 2;
      if (s.members.length === members && s.partitions.healthy === PARTITIONS && even) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(500);
  }
  throw new Error("cluster did not settle within 120 s");
}

const binary = ensureBinary();
const start = (id: string, seed?: number) =>
  startClusterMember({ id, seed, partitions: PARTITIONS, binary, args: ["--log-level", "warn"] });
const m1 = await start("i1");
const members = [m1, await start("i2", m1.gossip), await start("i3", m1.gossip)];
try {
  await settled(m1, 3);
  await Bun.sleep(3000); // let the last transfers and catch-up traffic finish
  const before = await Promise.all(members.map(async (m) => ({ cpu: cpuSeconds(m.pid), t: await transport(m) })));
  const t0 = performance.now();
  await Bun.sleep(SECONDS * 1000);
  const secs = (performance.now() - t0) / 1000;
  const after = await Promise.all(members.map(async (m) => ({ cpu: cpuSeconds(m.pid), t: await transport(m) })));
  console.log(`# ${new Date().toISOString()}; 3 nodes, ${PARTITIONS} partitions, rf 3, idle for ${SECONDS} s`);
  console.log("| node | CPU % | Raft frames sent/s | Raft bytes sent/s |");
  console.log("|---|---:|---:|---:|");
  members.forEach((m, i) => {
    const b = before[i]!;
    const a = after[i]!;
    console.log(
      `| ${m.id} | ${((100 * (a.cpu - b.cpu)) / secs).toFixed(1)} | ${((a.t.frames - b.t.frames) / secs).toFixed(0)} | ${((a.t.bytes - b.t.bytes) / secs).toFixed(0)} |`,
    );
  });
} finally {
  for (const m of members) await m.stop(2000);
}
