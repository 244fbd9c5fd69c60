// How fast does a browse resolve N FlyDB nodes? Runs in private network namespaces (root only):
// one namespace hosts N advertisers in one process, another runs browse() with stopWhen = N
// found, several rounds. Usage: sudo npx bun bench/discovery.ts [N=3,10,30] [ROUNDS=5]
import { join, resolve } from "node:path";
import { createNetns, isRoot } from "../test/helpers/netns.ts";
import { LineReader } from "../test/helpers/line-reader.ts";

if (!isRoot()) throw new Error("bench/discovery.ts needs root (it creates network namespaces)");
const sizes = (process.argv[2] ?? "3,10,30").split(",").map(Number);
const rounds = Number(process.argv[3] ?? 5);
const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;

const lan = createNetns(2);
const [advHost, browserHost] = lan.hosts;
try {
  for (const n of sizes) {
    const script = `
      import { startAdvertiser } from ${JSON.stringify(join(ROOT, "src/discovery/index.ts"))};
      const ads = await Promise.all(Array.from({ length: ${n} }, (_, i) => startAdvertiser({
        nodeId: "bench-" + i, clusterId: "bench${n}", version: "bench",
        ports: { resp: 6380 + i, http: 8080, gossip: 7946 + i, raft: 7947 } })));
      await Promise.all(ads.map((a) => a.announced));
      console.log("ready");
      process.on("SIGTERM", async () => { await Promise.all(ads.map((a) => a.stop())); process.exit(0); });`;
    const advertisers = lan.spawn(advHost.ns, [BUN, "-e", script], { cwd: ROOT });
    await new LineReader(advertisers.stdout).waitFor((l) => l === "ready", 30_000, `${n} advertisers`);
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const out = await lan.exec(
        browserHost.ns,
        [BUN, join(ROOT, "test/fixtures/discovery/browse.ts"), "10000", String(n), `bench${n}`],
        { cwd: ROOT },
      );
      const { elapsedMs, nodes } = JSON.parse(out.stdout);
      if (nodes.length !== n) throw new Error(`round ${r}: found ${nodes.length} of ${n}`);
      times.push(elapsedMs);
    }
    advertisers.kill("SIGTERM");
    await advertisers.exited;
    times.sort((a, b) => a - b);
    console.log(
      `N=${n}: browse resolved all nodes in median ${times[Math.floor(times.length / 2)]} ms (min ${times[0]}, max ${times[times.length - 1]}, ${rounds} rounds)`,
    );
  }
} finally {
  await lan.destroy();
}
