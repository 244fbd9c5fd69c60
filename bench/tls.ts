// GET and SET over TLS and over plain TCP, FlyDB against redis-server in the same run, driven by
// redis-benchmark (--tls --cacert) on loopback. Both sides without durability (FlyDB fsync = "no",
// redis without persistence), so the numbers show the network and TLS path, not the disk.
// Prints a Markdown table of requests/s and the ratios.
//
//   bun bench/tls.ts [--requests 50000] [--clients 50]
import { parseArgs } from "node:util";
import { makeCertificates } from "../test/helpers/certs.ts";
import { freePort } from "../test/helpers/ports.ts";
import { ensureBinary, runTool, startFlyDB, startRedisServer } from "../test/helpers/processes.ts";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "50000" }, clients: { type: "string", default: "50" } },
});
const certs = makeCertificates();
const tlsFiles = (prefix: string) => [
  ...[`--${prefix}cert-file`, certs.crt("server"), `--${prefix}key-file`, certs.key("server")],
  ...[`--${prefix}ca-cert-file`, certs.crt("ca"), `--${prefix}auth-clients`, "no"],
];

async function rps(port: number, tls: boolean): Promise<Map<string, number>> {
  const args = ["redis-benchmark", "-h", "127.0.0.1", "-p", String(port), "-r", "100000", "-t", "set,get"];
  args.push("-n", values.requests!, "-c", values.clients!, "-q", "--csv");
  if (tls) args.push("--tls", "--cacert", certs.crt("ca"));
  const out = await runTool(args, { timeoutMs: 600_000 });
  if (out.code !== 0) throw new Error(`redis-benchmark failed (${out.code}): ${out.stderr}${out.stdout}`);
  const m = new Map<string, number>();
  for (const line of out.stdout.split("\n").slice(1)) {
    const cols = line.split(",").map((c) => c.replaceAll('"', ""));
    if (cols[1] !== undefined) m.set(cols[0]!, Number(cols[1]));
  }
  return m;
}

const binary = ensureBinary();
const redisTls = freePort();
const flyTls = freePort();
const redis = await startRedisServer({ args: ["--tls-port", String(redisTls), ...tlsFiles("tls-")] });
const fly = await startFlyDB({
  binary,
  args: ["--fsync", "no", "--log-level", "warn", "--tls-port", String(flyTls), ...tlsFiles("tls-")],
});
try {
  const r = { plain: await rps(redis.port, false), tls: await rps(redisTls, true) };
  const f = { plain: await rps(fly.port, false), tls: await rps(flyTls, true) };
  const fmt = (n = 0) => Math.round(n).toLocaleString("en-US");
  const ratio = (a = 0, b = 1) => `${(a / b).toFixed(2)}×`;
  console.log(
    `# redis-benchmark -t set,get -r 100000 -n ${values.requests} -c ${values.clients}; ${new Date().toISOString()}\n`,
  );
  console.log(
    "| test | redis plain | redis TLS | FlyDB plain | FlyDB TLS | FlyDB TLS / redis TLS | TLS / plain: redis | TLS / plain: FlyDB |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const t of ["SET", "GET"]) {
    const [rp, rt, fp, ft] = [r.plain.get(t), r.tls.get(t), f.plain.get(t), f.tls.get(t)];
    console.log(
      `| ${t} | ${fmt(rp)} | ${fmt(rt)} | ${fmt(fp)} | ${fmt(ft)} | ${ratio(ft, rt)} | ${ratio(rt, rp)} | ${ratio(ft, fp)} |`,
    );
  }
} finally {
  await Promise.all([redis.stop(), fly.stop()]);
}
