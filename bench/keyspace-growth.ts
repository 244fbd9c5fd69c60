// The SET rate as the keyspace grows: redis-benchmark writes random new keys in batches (by default
// five of 200k, to ~1M keys) to redis-server and to each given FlyDB binary, a standalone node on a
// fresh data dir (`dist`: dist/flydb, rebuilt when older than the source). The servers take turns batch by batch, so the machine's load falls on each alike.
// Prints each server's rate per batch, FlyDB's ratio to redis-server in that batch, and each rate
// relative to the server's own first batch (Redis's does not depend on the key count).
//
//   npx bun bench/keyspace-growth.ts [--flydb dist] [--flydb /path/to/old/flydb] [--batches 5]
//     [--requests 200000] [--fsync no]
import { parseArgs } from "node:util";
import { ensureBinary, runTool, type ServerProcess, startFlyDB, startRedisServer } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: {
    flydb: { type: "string", multiple: true, default: ["dist"] },
    batches: { type: "string", default: "5" },
    requests: { type: "string", default: "200000" },
    fsync: { type: "string", default: "no" },
  },
});
const BATCHES = Number(values.batches);
const REQUESTS = Number(values.requests);
// A key space far larger than the keys written: nearly every SET creates a key.
const KEY_RANGE = 100_000_000;

async function setRate(port: number): Promise<number> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "set", "-r", String(KEY_RANGE), "-n", String(REQUESTS)];
  const out = await runTool(["redis-benchmark", ...args, "-P", "32", "-d", "10", "-q", "--csv"], {
    timeoutMs: 1_800_000,
  });
  if (out.code !== 0) throw new Error(`redis-benchmark on port ${port} failed: ${out.stderr}${out.stdout}`);
  const line = out.stdout.split("\n").find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`no SET line in redis-benchmark's output: ${out.stdout}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

async function dbsize(port: number): Promise<number> {
  const out = await runTool(["redis-cli", "-p", String(port), "DBSIZE"]);
  return Number(out.stdout.trim());
}

const servers: { name: string; proc: ServerProcess }[] = [{ name: "redis", proc: await startRedisServer() }];
try {
  for (const binary of values.flydb) {
    const path = binary === "dist" ? ensureBinary() : binary;
    const proc = await startFlyDB({ binary: path, args: ["--log-level", "warn", "--fsync", values.fsync!] });
    servers.push({ name: `flydb ${binary}`, proc });
  }
  const rates = servers.map(() => [] as number[]);
  for (let b = 0; b < BATCHES; b++) {
    for (const [i, s] of servers.entries()) rates[i]!.push(await setRate(s.proc.port));
    const keys = await dbsize(servers[0]!.proc.port);
    const cells = servers.map((s, i) => {
      const r = rates[i]![b]!;
      const vsRedis = i === 0 ? "" : `, ${(r / rates[0]![b]!).toFixed(2)}× redis`;
      return `${s.name} ${r.toFixed(0)}/s (${(r / rates[i]![0]!).toFixed(2)} of batch 1${vsRedis})`;
    });
    console.log(`batch ${b + 1} (to ~${keys} keys): ${cells.join("; ")}`);
  }
} finally {
  for (const s of servers) await s.proc.stop(5000);
}
