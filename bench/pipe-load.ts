// A bulk load of N keys with `redis-cli --pipe` into a fresh standalone node of each binary given
// and into redis-server, in interleaved rounds (issue #20): the load's seconds, the server's RSS
// right after it, 5 s later and at its peak (VmHWM), the disk it then takes (FlyDB: data dir after
// SAVE; redis: dump.rdb after SAVE) and a DBSIZE's time. Then, on the loaded servers, SET and GET
// of 1k hot keys against the same on a server holding only those 1k keys (redis-benchmark -r 1000
// -P 32), alternated: the "with 1M keys present vs 1k keys" ratio.
//
//   npx bun bench/pipe-load.ts BINARY... [--keys 1000000] [--rounds 2] [--fsync no]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { argValue, loadAverage, median } from "./lib.ts";
import { ensureBinary, runTool, type ServerProcess, startFlyDB, startRedisServer } from "../test/helpers/processes.ts";

const VALUED = new Set(["--keys", "--rounds", "--fsync"]);
const bins = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !VALUED.has(all[i - 1] ?? ""));
const KEYS = argValue("--keys", 1_000_000);
const ROUNDS = argValue("--rounds", 2);
const fsyncAt = process.argv.indexOf("--fsync");
const FSYNC = fsyncAt >= 0 ? process.argv[fsyncAt + 1]! : "no";

/** The load as RESP: SET key:<i> value:<i>. */
function pipeInput(n: number): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = `key:${i}`;
    const v = `value:${i}`;
    parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
  }
  return new TextEncoder().encode(parts.join(""));
}

const statusKb = (pid: number, field: string): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN);
};
const mb = (kb: number) => kb / 1024;

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

interface Loaded {
  readonly name: string;
  readonly server: ServerProcess;
  readonly seconds: number;
  readonly errors: string;
  readonly rssMb: number;
  readonly rssLaterMb: number;
  readonly peakMb: number;
  readonly diskMb: number;
  /** A `redis-cli DBSIZE` run, process start included. */
  readonly dbsizeMs: number;
}

async function start(name: string): Promise<ServerProcess> {
  if (name === "redis") return startRedisServer();
  const binary = name === "dist" ? ensureBinary() : name;
  return startFlyDB({ binary, args: ["--log-level", "warn", "--fsync", FSYNC] });
}

async function load(name: string, input: Uint8Array): Promise<Loaded> {
  const server = await start(name);
  const t0 = performance.now();
  const out = await runTool(["redis-cli", "-p", String(server.port), "--pipe"], { stdin: input, timeoutMs: 1_800_000 });
  const seconds = (performance.now() - t0) / 1000;
  const rssMb = mb(statusKb(server.pid, "VmRSS"));
  await Bun.sleep(5000);
  const rssLaterMb = mb(statusKb(server.pid, "VmRSS"));
  const peakMb = mb(statusKb(server.pid, "VmHWM"));
  const d0 = performance.now();
  await runTool(["redis-cli", "-p", String(server.port), "DBSIZE"]);
  const dbsizeMs = performance.now() - d0;
  await runTool(["redis-cli", "-p", String(server.port), "SAVE"], { timeoutMs: 600_000 });
  const diskMb =
    ("dataDir" in server ? dirBytes(server.dataDir as string) : statSync(join(server.dir, "dump.rdb")).size) / 1e6;
  const errors = /errors: \d+, replies: \d+/.exec(out.stdout)?.[0] ?? `no summary: ${out.stdout}${out.stderr}`;
  return { name, server, seconds, errors, rssMb, rssLaterMb, peakMb, diskMb, dbsizeMs };
}

/** requests/s of `test` (set or get) on 1k hot keys. */
async function hotRate(port: number, test: "set" | "get"): Promise<number> {
  const args = ["-p", String(port), "-t", test, "-r", "1000", "-n", "50000", "-P", "32", "-d", "10", "-q", "--csv"];
  const out = await runTool(["redis-benchmark", ...args], { timeoutMs: 600_000 });
  const line = out.stdout.split("\n").find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!line) throw new Error(`redis-benchmark on ${port}: ${out.stdout}${out.stderr}`);
  return Number(line.split(",")[1]!.replaceAll('"', ""));
}

const input = pipeInput(KEYS);
const names = ["redis", ...bins];
const loads = new Map<string, Loaded[]>(names.map((n) => [n, []]));
const hot = new Map<string, { set: number[]; get: number[] }>(names.map((n) => [n, { set: [], get: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? names : [...names].reverse();
  for (const name of order) {
    const l = await load(name, input);
    try {
      loads.get(name)!.push(l);
      console.log(
        `round ${r + 1} ${name}: load ${l.seconds.toFixed(1)} s (${l.errors}), RSS ${l.rssMb.toFixed(0)} MB, ` +
          `5 s later ${l.rssLaterMb.toFixed(0)} MB, peak ${l.peakMb.toFixed(0)} MB, disk ${l.diskMb.toFixed(1)} MB, DBSIZE ${l.dbsizeMs.toFixed(0)} ms; ` +
          `load average ${loadAverage()}`,
      );
      // 1M keys present vs a fresh server holding only the 1k hot keys, alternated.
      const small = await start(name);
      try {
        const h = hot.get(name)!;
        for (const test of ["set", "get"] as const) {
          const big = await hotRate(l.server.port, test);
          const one = await hotRate(small.port, test);
          h[test].push(big / one);
          console.log(
            `  ${name} ${test.toUpperCase()} hot 1k: ${big.toFixed(0)}/s with ${KEYS} keys, ${one.toFixed(0)}/s with 1k`,
          );
        }
      } finally {
        await small.stop(5000);
      }
    } finally {
      await l.server.stop(10_000);
    }
  }
}
const redis = loads.get("redis")!;
for (const name of bins) {
  const m = (f: (l: Loaded) => number, of = loads.get(name)!) => median(of.map(f));
  console.log(
    `${name} vs redis (medians): load time ${(m((l) => l.seconds) / m((l) => l.seconds, redis)).toFixed(2)}×, ` +
      `RSS after ${(m((l) => l.rssMb) / m((l) => l.rssMb, redis)).toFixed(2)}×, ` +
      `5 s later ${(m((l) => l.rssLaterMb) / m((l) => l.rssLaterMb, redis)).toFixed(2)}×, ` +
      `peak ${(m((l) => l.peakMb) / m((l) => l.peakMb, redis)).toFixed(2)}×, disk ${(m((l) => l.diskMb) / m((l) => l.diskMb, redis)).toFixed(2)}×; ` +
      `SET/GET with ${KEYS} keys vs 1k: ${median(hot.get(name)!.set).toFixed(2)} / ${median(hot.get(name)!.get).toFixed(2)}`,
  );
}
