// install.sh and uninstall.sh run for real into temporary prefix/config/data/systemd directories:
// the installed binaries start from the written configs and answer redis-cli and curl, a dry run
// and a second run change nothing, uninstall removes exactly what install created.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { createNetns, isRoot, skipNetns, type Netns } from "../helpers/netns.ts";
import { LineReader } from "../helpers/line-reader.ts";
import { freePort } from "../helpers/ports.ts";

// Installs copy 200 MB of binaries, and a cluster takes seconds to form.
setDefaultTimeout(90_000);

const ROOT = resolve(import.meta.dir, "../..");
const INSTALL = join(ROOT, "install.sh");
const UNINSTALL = join(ROOT, "uninstall.sh");
const DIST = join(ROOT, "dist");
const ENV = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" };
const PYTHON = "/usr/bin/python3";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string[], input?: string): Run {
  const r = Bun.spawnSync(cmd, {
    cwd: ROOT,
    env: ENV,
    stdin: input === undefined ? "ignore" : new Blob([input]),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Fails with the script's output, so a broken run explains itself. */
function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** A fresh set of install locations under one temporary directory. */
class Target {
  readonly dir = mkdtempSync(join(tmpdir(), "fly-ops-install-"));
  readonly prefix = join(this.dir, "usr");
  readonly configDir = join(this.dir, "etc/flydb");
  readonly dataDir = join(this.dir, "var/lib/flydb");
  readonly systemdDir = join(this.dir, "etc/systemd/system");
  get locations(): string[] {
    return [
      "--binary-dir",
      DIST,
      "--prefix",
      this.prefix,
      "--config-dir",
      this.configDir,
      "--data-dir",
      this.dataDir,
      "--systemd-dir",
      this.systemdDir,
    ];
  }
  install(args: string[], input?: string): Run {
    return run(["bash", INSTALL, ...this.locations, ...args], input);
  }
  uninstall(args: string[]): Run {
    return run(["bash", UNINSTALL, "--config-dir", this.configDir, ...args]);
  }
  /**
   * Every path with type, mode, size, owner and mtime: any change shows. Directory times can be
   * left out for comparing with a state before something was created and removed again.
   */
  tree(opts: { dirTimes: boolean } = { dirTimes: true }): string {
    const r = run(["find", this.dir, "-printf", "%P %y %m %s %U:%G %T@\\n"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    return lines
      .map((l) => (opts.dirTimes || !/^\S* d /.test(l) ? l : l.replace(/ [\d.]+$/, "")))
      .sort()
      .join("\n");
  }
  config(name = "flydb.toml"): string {
    return readFileSync(join(this.configDir, name), "utf8");
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freeAddrs(): { resp: number; http: number; args: string[] } {
  const resp = freePort();
  const http = freePort();
  return { resp, http, args: ["--bind-addr", `127.0.0.1:${resp}`, "--http-addr", `127.0.0.1:${http}`] };
}

const started: Bun.Subprocess[] = [];

const HEX_SECRET = /^[0-9a-f]{64}$/;

/** redis-cli arguments that AUTH with the requirepass of an installed config. */
function auth(configPath: string): string[] {
  const { config } = loadConfig({ configPath, env: {} });
  return config.requirepass === "" ? [] : ["--no-auth-warning", "-a", config.requirepass];
}

/**
 * Starts an installed flydb from its written config, checks that its generated secrets guard it
 * (PING without AUTH and /kv without the token refused), PING with them and /health, stops it with SIGTERM.
 */
async function startAndProbe(binary: string, config: string, ports: { resp: number; http: number }): Promise<void> {
  const p = Bun.spawn([binary, "--config", config], {
    cwd: tmpdir(),
    env: ENV,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  started.push(p);
  const log = new LineReader(p.stderr);
  const line = await log.waitFor((l) => l.includes("flydb started"), 15_000, "flydb to start");
  // One line per start, with the addresses it serves on.
  expect(line).toContain(`resp=127.0.0.1:${ports.resp} http=127.0.0.1:${ports.http}`);
  const cli = ["redis-cli", "-h", "127.0.0.1", "-p", String(ports.resp)];
  expect(run([...cli, "PING"]).stdout.trim()).toStartWith("NOAUTH");
  expect(run([...cli, ...auth(config), "PING"]).stdout.trim()).toBe("PONG");
  const kv = `http://127.0.0.1:${ports.http}/kv/k`;
  expect(run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", kv]).stdout).toBe("401");
  const { http_auth_token } = loadConfig({ configPath: config, env: {} }).config;
  const bearer = ["-H", `Authorization: Bearer ${http_auth_token}`];
  expect(run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", ...bearer, kv]).stdout).toBe("404");
  const health = run(["curl", "-sf", `http://127.0.0.1:${ports.http}/health`]);
  expect(health.code).toBe(0);
  expect(JSON.parse(health.stdout)).toEqual({ status: "ok" });
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
}

/** install.sh created no system user: nothing in its output or its manifest says so. */
function expectNoUserCreated(t: Target, r: Run): void {
  expect(r.stdout).not.toContain("useradd");
  expect(readFileSync(join(t.configDir, ".install-manifest"), "utf8")).not.toMatch(/^user\t/m);
}

/** A service user of this run only: concurrent test runs and a real `flydb` user stay untouched. */
const TEST_USER = `flyops${process.pid}`;

const targets: Target[] = [];
const target = () => {
  const t = new Target();
  targets.push(t);
  return t;
};

beforeAll(() => {
  if (!existsSync(join(DIST, "flydb"))) {
    const b = run(["npm", "run", "-s", "build"]);
    if (b.code !== 0) throw new Error(`npm run build failed:\n${b.stderr}`);
  }
});

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all(started.map((p) => p.exited));
  for (const t of targets) t.remove();
  if (run(["getent", "passwd", TEST_USER]).code === 0) run(["userdel", TEST_USER]);
});

describe("install.sh", () => {
  test("shellcheck finds nothing in install.sh and uninstall.sh", () => {
    const r = run(["shellcheck", INSTALL, UNINSTALL]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("--help lists every flag of the issue", () => {
    const r = run(["bash", INSTALL, "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--yes",
      "--prefix",
      "--cluster",
      "--discovery",
      "--node-id",
      "--cluster-addr",
      "--raft-addr",
      "--peers",
      "--bootstrap",
      "--join",
      "--cluster-id",
      "--config-dir",
      "--data-dir",
      "--systemd-dir",
      "--no-service",
      "--dry-run",
      "--force",
      "--help",
      "--binary-dir",
    ]) {
      expect(r.stdout).toContain(`${flag} `);
    }
  });

  test("bad flags stop before any change with exit 2 and the reason", () => {
    const t = target();
    const empty = t.tree();
    const cases: [string[], string][] = [
      [
        ["--node-id", "-x"],
        "install.sh: --node-id -x: 1-63 characters of letters, digits, '.', '_', '-', starting with a letter or digit (see --help)\n",
      ],
      [
        ["--cluster-addr", "10.0.0.1"],
        "install.sh: --cluster-addr 10.0.0.1: '10.0.0.1' is not [host]:port with a port from 1 to 65535 (see --help)\n",
      ],
      [
        ["--peers", "10.0.0.1:7946,:7946"],
        "install.sh: --peers :7946: ':7946' is not host:port with a port from 1 to 65535 (see --help)\n",
      ],
      [["--bootstrap", "--join"], "install.sh: --bootstrap, --join and --expect exclude each other (see --help)\n"],
      [
        ["--bootstrap", "--expect", "3"],
        "install.sh: --bootstrap, --join and --expect exclude each other (see --help)\n",
      ],
      [
        ["--discovery", "--expect", "9"],
        "install.sh: --expect 9: '9' is not a number of nodes from 1 to 7 (see --help)\n",
      ],
      [
        ["--cluster", "--discovery"],
        "install.sh: --discovery without --bootstrap or --join needs --expect N: how many nodes form the cluster (the same N on each of them) (see --help)\n",
      ],
      [["--join"], "install.sh: --join needs --peers or --discovery (see --help)\n"],
      [
        ["--join", "--peers", "10.0.0.1:7946"],
        "install.sh: a node joining or forming a cluster needs the cluster's secret: --cluster-secret S (the founder's cluster_secret; the same on every node), --secrets-from FILE, or --cluster-secret none (see --help)\n",
      ],
      [
        ["--bootstrap", "--requirepass", "pass word"],
        "install.sh: --requirepass: 8-512 printable characters without blanks, '\"' or '\\' (or none) (see --help)\n",
      ],
      [
        ["--prefix", "relative/dir"],
        "install.sh: --prefix relative/dir: 'relative/dir' is not an absolute path (see --help)\n",
      ],
      [
        ["--user", "Root!"],
        "install.sh: --user Root!: a user name: 1-32 lower-case letters, digits, '_' or '-', not starting with a digit or '-' (see --help)\n",
      ],
      [["--frobnicate"], "install.sh: unknown option '--frobnicate' (see --help)\n"],
    ];
    for (const [args, message] of cases) {
      const r = t.install(["--yes", "--no-service", ...args]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: message });
    }
    expect(t.tree()).toBe(empty);
  });

  test("peer lists with commas, spaces and IPv6 brackets are written as a TOML array the node loads", () => {
    const t = target();
    ok(
      t.install([
        "--yes",
        "--no-service",
        "--join",
        "--peers",
        "[fd00::1]:7946, 10.0.0.1:7946 db3.lan:7946",
        "--node-id",
        "n6",
        "--cluster-secret",
        "none",
      ]),
    );
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config.cluster_peers).toEqual(["[fd00::1]:7946", "10.0.0.1:7946", "db3.lan:7946"]);
    expect(config.cluster_secret).toBe("");
  });

  test("--yes --no-service: installs with generated secrets in a 0600 config, the node answers PING and /health, a second run changes nothing", async () => {
    const t = target();
    const addrs = freeAddrs();
    const first = t.install(["--yes", "--no-service", ...addrs.args]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    for (const bin of ["flydb", "flydb-discover"])
      expect(readFileSync(join(t.prefix, "bin", bin)).equals(readFileSync(join(DIST, bin)))).toBe(true);
    expect(existsSync(t.systemdDir)).toBe(false);
    expectNoUserCreated(t, first);
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({
      bind_addr: `127.0.0.1:${addrs.resp}`,
      http_addr: `127.0.0.1:${addrs.http}`,
      data_dir: t.dataDir,
    });
    expect(run(["stat", "-c", "%a", join(t.configDir, "flydb.toml")]).stdout.trim()).toBe("600");
    // Secrets by default, each its own, none of them printed; a standalone node has no cluster_secret.
    expect(config.requirepass).toMatch(HEX_SECRET);
    expect(config.http_auth_token).toMatch(HEX_SECRET);
    expect(config.http_auth_token).not.toBe(config.requirepass);
    expect(config.cluster_secret).toBe("");
    expect(first.stdout).toContain("Generated requirepass into");
    for (const secret of [config.requirepass, config.http_auth_token]) expect(first.stdout).not.toContain(secret);

    await startAndProbe(join(t.prefix, "bin/flydb"), join(t.configDir, "flydb.toml"), addrs);
    expect(readdirSync(t.dataDir).sort()).toContain("raft.db");

    const before = t.tree();
    const second = t.install(["--yes", "--no-service", ...addrs.args]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Nothing changed");
    expect(second.stdout).not.toMatch(/^\+ /m);
    expect(t.tree()).toBe(before);
  });

  test("without dist/, install.sh builds the binaries with the project's own build (npm run build)", async () => {
    const t = target();
    const tree = join(t.dir, "src-tree");
    mkdirSync(tree);
    for (const entry of ["install.sh", "deploy", "package.json", "tsconfig.json", "bunfig.toml", "cli", "src"]) {
      cpSync(join(ROOT, entry), join(tree, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
    const addrs = freeAddrs();
    const locations = t.locations.slice(2); // everything but --binary-dir
    const r = ok(run(["bash", join(tree, "install.sh"), ...locations, "--yes", "--no-service", ...addrs.args]));
    expect(r.stdout).toContain(`No ${tree}/dist/flydb yet: building it.`);
    for (const bin of ["flydb", "flydb-discover"])
      expect(readFileSync(join(t.prefix, "bin", bin)).equals(readFileSync(join(tree, "dist", bin)))).toBe(true);
    const version = run([join(t.prefix, "bin/flydb"), "--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("--dry-run changes nothing, on a fresh machine and over an installation", async () => {
    const t = target();
    const addrs = freeAddrs();
    mkdirSync(t.dir, { recursive: true });
    const empty = t.tree();
    const dry = t.install(["--yes", "--cluster", "--node-id", "n1", ...addrs.args, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`+ mkdir -p ${t.configDir}`);
    expect(dry.stdout).toContain(`+ write ${t.systemdDir}/flydb.service`);
    expect(dry.stdout).toMatch(/Dry run: \d+ change\(s\) would be made/);
    expect(t.tree()).toBe(empty);

    ok(t.install(["--yes", "--no-service", ...addrs.args]));
    const installed = t.tree();
    const dryForce = t.install(["--yes", "--cluster", "--node-id", "other", ...addrs.args, "--force", "--dry-run"]);
    expect(dryForce.code).toBe(0);
    expect(dryForce.stdout).toContain("+ cp -p");
    expect(dryForce.stdout).toContain(`+ write ${t.configDir}/flydb.toml`);
    expect(t.tree()).toBe(installed);
  });

  test("an existing config is kept without --force and replaced with a timestamped backup with it", async () => {
    const t = target();
    const addrs = freeAddrs();
    ok(t.install(["--yes", "--no-service", "--node-id", "first", ...addrs.args]));
    const original = t.config();

    const kept = t.install(["--yes", "--no-service", "--node-id", "second", ...addrs.args]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain("kept:");
    expect(t.config()).toBe(original);

    const forced = t.install(["--yes", "--no-service", "--node-id", "second", ...addrs.args, "--force"]);
    expect(forced.code).toBe(0);
    expect(t.config()).toContain('node_id = "second"');
    // A re-written config keeps its secrets: clients and peers keep working.
    const secretLines = (toml: string) => toml.split("\n").filter((l) => /^(requirepass|http_auth_token) = /.test(l));
    expect(secretLines(t.config())).toEqual(secretLines(original));
    expect(secretLines(original)).toHaveLength(2);
    const backups = readdirSync(t.configDir).filter((f) => /^flydb\.toml\.bak\.\d{8}T\d{6}Z$/.test(f));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(t.configDir, backups[0]!), "utf8")).toBe(original);

    // --force with the same settings is still a no-op: no second backup.
    const again = t.install(["--yes", "--no-service", "--node-id", "second", ...addrs.args, "--force"]);
    expect(again.stdout).toContain("Nothing changed");
    expect(readdirSync(t.configDir).filter((f) => f.includes(".bak."))).toHaveLength(1);
  });

  test("interactive standalone: invalid answers are asked again with the reason", async () => {
    const t = target();
    const addrs = freeAddrs();
    // mode, RESP address (bad, then good), HTTP address (bad port, then good).
    const answers = `${[
      "maybe",
      "standalone",
      "localhost",
      `127.0.0.1:${addrs.resp}`,
      "127.0.0.1:99999",
      `127.0.0.1:${addrs.http}`,
    ].join("\n")}\n`;
    const r = ok(t.install(["--no-service"], answers));
    expect(r.stderr).toContain("answer standalone or cluster");
    expect(r.stderr).toContain("'localhost' is not [host]:port");
    expect(r.stderr).toContain("'127.0.0.1:99999' is not [host]:port");
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({ bind_addr: `127.0.0.1:${addrs.resp}`, http_addr: `127.0.0.1:${addrs.http}` });
    await startAndProbe(join(t.prefix, "bin/flydb"), join(t.configDir, "flydb.toml"), addrs);
  });

  test("interactive cluster join without discovery: node id rule, addresses, peers asked until valid", async () => {
    const t = target();
    const addrs = freeAddrs();
    const answers = `${[
      "cluster",
      "join",
      "-bad-id",
      "node2",
      `127.0.0.1:${addrs.resp}`,
      `127.0.0.1:${addrs.http}`,
      "", // gossip: default (primary address:7946)
      "10.0.0.2:7947",
      "no", // discovery
      "", // peers: no default, must be given
      ":7946", // a peer needs a host
      "10.0.0.1:7946, 10.0.0.3:7946",
      "", // cluster secret: a joining node has no default
      "the-founders-secret",
      // requirepass and token: end of input takes the default, generate.
    ].join("\n")}\n`;
    const r = ok(t.install(["--no-service"], answers));
    expect(r.stderr).toContain(
      "Cluster secret (cluster_secret, the same on every node) (none: the cluster has none) []",
    );
    expect(r.stderr).toContain("8-512 printable characters");
    expect(r.stdout + r.stderr).not.toContain("the-founders-secret");
    expect(r.stderr).toContain("1-63 characters of letters, digits");
    expect(r.stderr).toContain("joining needs at least one peer address");
    expect(r.stderr).toContain("':7946' is not host:port");
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({
      node_id: "node2",
      raft_addr: "10.0.0.2:7947",
      cluster_peers: ["10.0.0.1:7946", "10.0.0.3:7946"],
      bootstrap: false,
      discovery_enabled: false,
      cluster_secret: "the-founders-secret",
    });
    expect(config.requirepass).toMatch(HEX_SECRET);
    expect(config.cluster_addr).toMatch(/^[0-9.]+:7946$/);
    // Not started: these peers are made up and off this machine (the LAN test starts clusters).
  });

  test("--discovery without a role never writes bootstrap = true: --yes needs --expect N, which writes bootstrap_expect; asked interactively", () => {
    // The refusals (--cluster --discovery alone, a bad N, --expect with a role) are in "bad flags" above.
    const t = target();
    const shared = ["--cluster-secret", "shared-by-the-batch"];
    const r = ok(
      t.install(["--yes", "--no-service", "--discovery", "--expect", "3", "--cluster-id", "prod", ...shared]),
    );
    expect(r.stdout).toContain("(form)");
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({
      bootstrap: false,
      bootstrap_expect: 3,
      cluster_peers: [],
      discovery_enabled: true,
      discovery_cluster_id: "prod",
      cluster_secret: "shared-by-the-batch",
    });
    // Installed alike without a shared secret, each node would seal with its own: refused.
    const alone = target().install(["--yes", "--no-service", "--discovery", "--expect", "3"]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("needs the cluster's secret");
    // Interactive: with --discovery the role question offers "form" first, then asks how many.
    const i = target();
    const addrs = freeAddrs();
    // role (default), bootstrap_expect (refused, then 3), node id, RESP, HTTP, gossip, raft, cluster id.
    const answers = ["", "0", "3", "db1", `127.0.0.1:${addrs.resp}`, `127.0.0.1:${addrs.http}`, "", "", "prod"];
    const asked = ok(i.install(["--no-service", "--discovery"], `${answers.join("\n")}\n`));
    expect(asked.stderr).toContain("(bootstrap/join/form) [form]");
    expect(asked.stderr).toContain("'0' is not a number of nodes from 1 to 7");
    // The first of a batch asked interactively generates the secret and is told to copy it.
    expect(asked.stdout).toContain("Every other node of this cluster needs the same cluster_secret");
    const formed = loadConfig({ configPath: join(i.configDir, "flydb.toml"), env: {} }).config;
    expect(formed.cluster_secret).toMatch(HEX_SECRET);
    expect(asked.stdout + asked.stderr).not.toContain(formed.cluster_secret);
    expect(formed).toMatchObject({
      node_id: "db1",
      bootstrap: false,
      bootstrap_expect: 3,
      discovery_enabled: true,
      discovery_cluster_id: "prod",
    });
  });

  test("the guide's three nodes on one host: flydb-cluster@ instances, units pass systemd-analyze verify, every node answers", async () => {
    const t = target();
    const nodes: { id: string; addrs: ReturnType<typeof freeAddrs>; cluster: string[]; role: string[] }[] = [];
    let seed = "";
    for (const [i, id] of ["node1", "node2", "node3"].entries()) {
      const addrs = freeAddrs();
      const gossip = `127.0.0.1:${freePort()}`;
      const cluster = ["--cluster-addr", gossip, "--raft-addr", `127.0.0.1:${freePort()}`];
      if (i === 0) seed = gossip;
      // The founder generates cluster_secret; the others are given it, as the install output says.
      const founder = () => loadConfig({ configPath: join(t.configDir, "node1.toml"), env: {} }).config;
      const role =
        i === 0 ? ["--bootstrap"] : ["--join", "--peers", seed, "--cluster-secret", founder().cluster_secret];
      const r = ok(t.install(["--yes", "--no-user", "--instance", id, ...cluster, ...role, ...addrs.args]));
      if (i === 0) expect(r.stdout).toContain("Every other node of this cluster needs the same cluster_secret");
      expect(r.stdout).toContain(`systemd is not running on this machine`);
      expect(r.stdout).toContain(`systemctl enable flydb-cluster@${id}.service`);
      expectNoUserCreated(t, r);
      nodes.push({ id, addrs, cluster, role });
    }
    const n2 = loadConfig({ configPath: join(t.configDir, "node2.toml"), env: {} }).config;
    expect(n2).toMatchObject({
      node_id: "node2",
      cluster_peers: [seed],
      bootstrap: false,
      data_dir: join(t.dataDir, "node2"),
    });
    const n1 = loadConfig({ configPath: join(t.configDir, "node1.toml"), env: {} }).config;
    expect(n1.bootstrap).toBe(true);
    expect(n1.cluster_secret).toMatch(HEX_SECRET);
    expect(n2.cluster_secret).toBe(n1.cluster_secret);
    // requirepass is per node unless shared (--secrets-from): each install generated its own.
    expect(n2.requirepass).not.toBe(n1.requirepass);

    const unit = readFileSync(join(t.systemdDir, "flydb-cluster@.service"), "utf8");
    expect(unit).toContain(
      `ExecStart=${t.prefix}/bin/flydb --config ${t.configDir}/%i.toml --data-dir ${t.dataDir}/%i`,
    );
    expect(unit).toContain(`ReadWritePaths=${t.dataDir}/%i`);
    // The installed units point at the installed binary, so verify checks the real ExecStart.
    const verify = run([
      "systemd-analyze",
      "verify",
      join(t.systemdDir, "flydb.service"),
      join(t.systemdDir, "flydb-cluster@.service"),
    ]);
    expect(verify.stderr).toBe("");
    expect(verify.code).toBe(0);

    // All three at once, each as the template unit runs it (%i filled in).
    const procs = nodes.map((n) => {
      const p = Bun.spawn(
        [
          join(t.prefix, "bin/flydb"),
          "--config",
          join(t.configDir, `${n.id}.toml`),
          "--data-dir",
          join(t.dataDir, n.id),
        ],
        { env: ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      started.push(p);
      return p;
    });
    await Promise.all(
      procs.map((p, i) =>
        new LineReader(p.stderr).waitFor((l) => l.includes("flydb started"), 15_000, `${nodes[i]!.id} to start`),
      ),
    );
    for (const n of nodes) {
      const a = auth(join(t.configDir, `${n.id}.toml`));
      expect(run(["redis-cli", "-p", String(n.addrs.resp), ...a, "PING"]).stdout.trim()).toBe("PONG");
      expect(JSON.parse(run(["curl", "-sf", `http://127.0.0.1:${n.addrs.http}/health`]).stdout)).toEqual({
        status: "ok",
      });
    }
    for (const p of procs) p.kill("SIGTERM");
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0]);
    for (const n of nodes) expect(readdirSync(join(t.dataDir, n.id))).toContain("raft.db");

    const before = t.tree();
    const again = ok(
      t.install([
        "--yes",
        "--no-user",
        "--instance",
        "node1",
        ...nodes[0]!.cluster,
        ...nodes[0]!.role,
        ...nodes[0]!.addrs.args,
      ]),
    );
    expect(again.stdout).toContain("Nothing changed");
    expect(t.tree()).toBe(before);
  });

  test("uninstall removes what install created; data only with --remove-data", async () => {
    const t = target();
    mkdirSync(join(t.dir, "etc"), { recursive: true });
    writeFileSync(join(t.dir, "etc/unrelated"), "not ours\n");
    const pristine = t.tree({ dirTimes: false });
    const addrs = freeAddrs();
    ok(t.install(["--yes", "--no-user", ...addrs.args]));
    writeFileSync(join(t.dataDir, "data.db"), "pretend data");

    const dry = t.uninstall(["--yes", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(existsSync(join(t.prefix, "bin/flydb"))).toBe(true);

    const keep = t.uninstall(["--yes"]);
    expect(keep.code).toBe(0);
    expect(keep.stdout).toContain(`kept: ${t.dataDir}`);
    for (const gone of ["bin/flydb", "bin/flydb-discover"]) expect(existsSync(join(t.prefix, gone))).toBe(false);
    expect(existsSync(join(t.configDir, "flydb.toml"))).toBe(false);
    expect(existsSync(join(t.systemdDir, "flydb.service"))).toBe(false);
    expect(readFileSync(join(t.dataDir, "data.db"), "utf8")).toBe("pretend data");

    const purge = t.uninstall(["--yes", "--remove-data"]);
    expect(purge.code).toBe(0);
    expect(t.tree({ dirTimes: false })).toBe(pristine);
  });

  test("without --yes, uninstall asks and removes nothing unless the answer is yes", async () => {
    const t = target();
    const addrs = freeAddrs();
    ok(t.install(["--yes", "--no-service", ...addrs.args]));
    const installed = t.tree();
    const r = run(["bash", UNINSTALL, "--config-dir", t.configDir], "\n");
    expect(r.stdout).toContain("Nothing removed");
    expect(t.tree()).toBe(installed);
  });

  test.skipIf(!isRoot() && process.env.CI !== "true")(
    "as an unprivileged user: system directories are refused with one clear line, own directories work",
    async () => {
      // A copy the unprivileged user can read wherever the checkout lives.
      const t = target();
      chmodSync(t.dir, 0o777);
      const pkg = join(t.dir, "pkg");
      for (const entry of ["install.sh", "deploy", "dist/flydb", "dist/flydb-discover"])
        cpSync(join(ROOT, entry), join(pkg, entry), { recursive: true });
      ok(run(["chmod", "-R", "a+rX", pkg]));
      const install = join(pkg, "install.sh");
      const binaries = ["--binary-dir", join(pkg, "dist")];
      const refused = run(["runuser", "-u", "nobody", "--", "bash", install, "--yes", "--no-service", ...binaries]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        "install.sh: cannot write to /etc/flydb: run as root, or choose writable directories (--prefix, --config-dir, --data-dir, --systemd-dir or --no-service)\n",
      );
      const addrs = freeAddrs();
      const r = ok(
        run([
          "runuser",
          "-u",
          "nobody",
          "--",
          "bash",
          install,
          ...t.locations.slice(2),
          ...binaries,
          "--yes",
          ...addrs.args,
        ]),
      );
      expect(r.stdout).not.toContain("useradd");
      expect(run(["stat", "-c", "%U %a", t.dataDir]).stdout.trim()).toBe("nobody 750");
      expectNoUserCreated(t, r);
    },
  );

  test.skipIf(!isRoot() && process.env.CI !== "true")(
    "as root without --no-user: creates the service user owning the data; uninstall --remove-data deletes it",
    () => {
      const t = target();
      const addrs = freeAddrs();
      const args = ["--yes", "--user", TEST_USER, ...addrs.args];
      const r = ok(t.install(args));
      expect(r.stdout).toContain("+ useradd --system");
      expect(run(["stat", "-c", "%U:%G %a", t.dataDir]).stdout.trim()).toBe(`${TEST_USER}:${TEST_USER} 750`);
      expect(run(["stat", "-c", "%U:%G %a", join(t.configDir, "flydb.toml")]).stdout.trim()).toBe(
        `${TEST_USER}:${TEST_USER} 600`,
      );
      for (const unit of ["flydb.service", "flydb-cluster@.service"]) {
        expect(readFileSync(join(t.systemdDir, unit), "utf8")).toContain(`\nUser=${TEST_USER}\nGroup=${TEST_USER}\n`);
      }
      const before = t.tree();
      expect(t.install(args).stdout).toContain("Nothing changed");
      expect(t.tree()).toBe(before);

      const keep = t.uninstall(["--yes"]);
      expect(keep.stdout).toContain(`kept: user ${TEST_USER}`);
      expect(run(["getent", "passwd", TEST_USER]).code).toBe(0);
      ok(t.uninstall(["--yes", "--remove-data"]));
      expect(run(["getent", "passwd", TEST_USER]).code).not.toBe(0);
    },
  );
});

describe.skipIf(skipNetns)("install.sh on a LAN of network namespaces", () => {
  let lan: Netns;
  beforeAll(async () => {
    lan = createNetns(3);
  });
  afterAll(async () => {
    await lan?.destroy();
  });

  test("the guide's three servers: bootstrap db1, join db2 and db3 through it; the cluster forms and serves through every node", async () => {
    const nodes = lan.hosts.map((host, i) => ({ host, id: `db${i + 1}`, t: target() }));
    const seed = `${nodes[0]!.host.address}:7946`;
    const db1Config = join(nodes[0]!.t.configDir, "flydb.toml");
    const db1 = () => loadConfig({ configPath: db1Config, env: {} }).config;
    for (const [i, n] of nodes.entries()) {
      // db1 generates the secrets; db2 takes them from a copy of db1's config, db3 as flags.
      const secrets =
        i === 0
          ? []
          : i === 1
            ? ["--secrets-from", db1Config]
            : ["--cluster-secret", db1().cluster_secret, "--requirepass", db1().requirepass];
      const role = i === 0 ? ["--bootstrap"] : ["--join", "--peers", seed, ...secrets];
      // As in docs/CLUSTER_SETUP.md, but with the addresses left to their defaults: this host's
      // primary address with 7946/7947, and :6380/:8080 (each namespace is its own host).
      ok(
        await lan.exec(n.host.ns, [
          "bash",
          INSTALL,
          ...n.t.locations,
          "--yes",
          "--no-user",
          "--node-id",
          n.id,
          ...role,
        ]),
      );
      const { config } = loadConfig({ configPath: join(n.t.configDir, "flydb.toml"), env: {} });
      expect(config).toMatchObject({
        node_id: n.id,
        cluster_addr: `${n.host.address}:7946`,
        raft_addr: `${n.host.address}:7947`,
        bootstrap: i === 0,
        cluster_secret: db1().cluster_secret,
        requirepass: db1().requirepass,
      });
      expect(config.cluster_secret).toMatch(HEX_SECRET);
    }
    // Gossip and Raft sealed with the shared cluster_secret; clients AUTH with the shared requirepass.
    const procs = nodes.map((n) =>
      lan.spawn(n.host.ns, [join(n.t.prefix, "bin/flydb"), "--config", join(n.t.configDir, "flydb.toml")]),
    );
    await Promise.all(
      procs.map((p, i) =>
        new LineReader(p.stderr).waitFor((l) => l.includes("flydb started"), 15_000, `${nodes[i]!.id} to start`),
      ),
    );
    const inNs = (i: number, cmd: string[]) => lan.exec(nodes[i]!.host.ns, cmd);
    const http = (i: number, path: string) => inNs(i, ["curl", "-s", `http://${nodes[i]!.host.address}:8080${path}`]);
    const pass = auth(db1Config);
    const cli = (i: number, ...args: string[]) =>
      inNs(i, ["redis-cli", "-h", nodes[i]!.host.address, "-p", "6380", ...pass, ...args]);
    const deadline = Date.now() + 60_000;
    for (const i of [0, 1, 2]) {
      for (;;) {
        const r = await http(i, "/ready");
        if (r.stdout === '{"ready":true}') break;
        if (Date.now() > deadline) throw new Error(`${nodes[i]!.id} not ready: ${r.stdout}`);
        await Bun.sleep(250);
      }
    }
    for (const i of [0, 1, 2]) {
      expect((await cli(i, "PING")).stdout.trim()).toBe("PONG");
      expect(JSON.parse((await http(i, "/health")).stdout)).toEqual({ status: "ok" });
    }
    const status = JSON.parse((await http(0, "/cluster/status")).stdout) as {
      members: { id: string; state: string }[];
    };
    expect(status.members.map((m) => `${m.id}:${m.state}`).sort()).toEqual(["db1:alive", "db2:alive", "db3:alive"]);
    expect((await cli(1, "SET", "greeting", "hello")).stdout.trim()).toBe("OK");
    expect((await cli(2, "GET", "greeting")).stdout.trim()).toBe("hello");
    // After READONLY a connection gets -MOVED to the partition leader; redis-cli -c follows it.
    const asClusterClient = (i: number, follow: boolean, cmds: string[][]) => {
      const input = `${["READONLY", ...cmds.map((c) => c.join(" "))].join("\n")}\n`;
      const args = ["redis-cli", ...(follow ? ["-c"] : []), "-h", nodes[i]!.host.address, "-p", "6380", ...pass];
      return inNs(i, ["bash", "-c", `printf '%s' '${input}' | ${args.join(" ")}`]);
    };
    const keys = Array.from({ length: 12 }, (_, k) => `key${k}`);
    // db3 joined last: right after forming, the bootstrap node still leads most partitions (leaders
    // are spread over time), so of twelve keys some are led elsewhere whatever the timing.
    const raw = (
      await asClusterClient(
        2,
        false,
        keys.map((k) => ["SET", k, "x"]),
      )
    ).stdout.split("\n");
    expect(raw.some((l) => /^MOVED \d+ [\d.]+:6380$/.test(l))).toBe(true);
    const replies = (out: string) =>
      out
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("-> Redirected to slot"));
    expect(
      replies(
        (
          await asClusterClient(
            1,
            true,
            keys.map((k) => ["SET", k, `v-${k}`]),
          )
        ).stdout,
      ),
    ).toEqual(["OK", ...keys.map(() => "OK")]);
    expect(
      replies(
        (
          await asClusterClient(
            0,
            true,
            keys.map((k) => ["GET", k]),
          )
        ).stdout,
      ),
    ).toEqual(["OK", ...keys.map((k) => `v-${k}`)]);
    for (const p of procs) p.kill("SIGTERM");
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0]);
  });

  test("the guide's automated discovery: three servers installed alike with --discovery --expect 3 form one cluster", async () => {
    const nodes = lan.hosts.map((host, i) => ({ host, id: `auto${i + 1}`, t: target() }));
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    for (const n of nodes) {
      // As in docs/CLUSTER_SETUP.md, "Option 3": the same command on every server but the node id.
      const args = ["--yes", "--no-user", "--discovery", "--expect", "3", "--cluster-id", "auto", "--node-id", n.id];
      args.push("--cluster-secret", secret);
      ok(await lan.exec(n.host.ns, ["bash", INSTALL, ...n.t.locations, ...args]));
      const { config } = loadConfig({ configPath: join(n.t.configDir, "flydb.toml"), env: {} });
      expect(config).toMatchObject({
        bootstrap: false,
        bootstrap_expect: 3,
        discovery_enabled: true,
        cluster_secret: secret,
      });
    }
    const started = Date.now();
    const procs = nodes.map((n) =>
      lan.spawn(n.host.ns, [join(n.t.prefix, "bin/flydb"), "--config", join(n.t.configDir, "flydb.toml")]),
    );
    const http = (i: number, path: string) =>
      lan.exec(nodes[i]!.host.ns, ["curl", "-s", `http://${nodes[i]!.host.address}:8080${path}`]);
    try {
      const deadline = Date.now() + 60_000;
      for (const i of [0, 1, 2]) {
        while ((await http(i, "/ready")).stdout !== '{"ready":true}') {
          if (Date.now() > deadline) throw new Error(`${nodes[i]!.id} not ready`);
          await Bun.sleep(250);
        }
      }
      const formedMs = Date.now() - started;
      const statuses = await Promise.all(
        [0, 1, 2].map(async (i) => JSON.parse((await http(i, "/cluster/status")).stdout)),
      );
      for (const st of statuses) {
        expect(st.members.map((m: { id: string }) => m.id).sort()).toEqual(["auto1", "auto2", "auto3"]);
        expect(st.metadata_leader).toBe(statuses[0].metadata_leader);
        expect(st.foreign_clusters).toEqual([]);
      }
      console.log(`[formation] discovery --expect 3: start to all three ready in ${formedMs} ms`);
    } finally {
      for (const p of procs) p.kill("SIGTERM");
      await Promise.all(procs.map((p) => p.exited));
    }
  });

  test("joining with discovery on offers the nodes flydb-discover finds, and writes them as peers", async () => {
    const [seed, fresh] = lan.hosts as [(typeof lan.hosts)[0], (typeof lan.hosts)[0]];
    const zc = lan.spawn(seed.ns, [
      PYTHON,
      join(ROOT, "test/fixtures/discovery/zeroconf_publish.py"),
      seed.address,
      "seed",
      "opsjoin",
      "7946",
    ]);
    await new LineReader(zc.stdout).waitFor((l) => l === "registered", 10_000, "zeroconf to register");
    const t = target();
    // mode, role, node id, RESP, HTTP, gossip, raft: from flags; cluster id asked; found nodes offered;
    // the cluster's secret asked (this one has none).
    const answers = `${["opsjoin", "yes", "none"].join("\n")}\n`;
    const p = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        fresh.ns,
        "bash",
        INSTALL,
        ...t.locations,
        "--no-service",
        "--join",
        "--discovery",
        "--discover-timeout",
        "1.5",
        "--node-id",
        "fresh",
        "--bind-addr",
        ":6380",
        "--http-addr",
        ":8080",
        "--cluster-addr",
        `${fresh.address}:7946`,
        "--raft-addr",
        `${fresh.address}:7947`,
      ],
      { cwd: ROOT, env: ENV, stdin: new Blob([answers]), stdout: "pipe", stderr: "pipe" },
    );
    const [stdout, stderr, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    ok({ code, stdout, stderr });
    expect(stderr).toContain(`Found: ${seed.address}:7946`);
    expect(stdout).toContain("FlyDB install: cluster node 'fresh' (join)");
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({
      cluster_peers: [`${seed.address}:7946`],
      discovery_enabled: true,
      discovery_cluster_id: "opsjoin",
      bootstrap: false,
    });
    zc.kill("SIGTERM");
    await zc.exited;
  });

  test("--yes --join --discovery with no node answering writes no peers and no warning: the node finds its cluster itself", () => {
    const t = target();
    const r = run([
      "ip",
      "netns",
      "exec",
      lan.hosts[1]!.ns,
      "bash",
      INSTALL,
      ...t.locations,
      "--yes",
      "--no-service",
      "--join",
      "--discovery",
      "--cluster-id",
      "nobody-here",
      "--discover-timeout",
      "1",
      "--node-id",
      "alone",
      "--cluster-secret",
      "none",
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("No nodes answered now");
    expect(r.stderr).not.toContain("install.sh: warning: no peers");
    const { config } = loadConfig({ configPath: join(t.configDir, "flydb.toml"), env: {} });
    expect(config).toMatchObject({ cluster_peers: [], discovery_enabled: true, discovery_cluster_id: "nobody-here" });
  });
});

describe("systemd units", () => {
  test("the shipped units pass systemd-analyze verify as written (flydb.service and an instance of the template)", () => {
    const root = mkdtempSync(join(tmpdir(), "fly-ops-units-"));
    targets.push({ remove: () => rmSync(root, { recursive: true, force: true }) } as Target);
    mkdirSync(join(root, "usr/local/bin"), { recursive: true });
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    // verify resolves ExecStart inside --root: put an executable at the unit's own path.
    writeFileSync(join(root, "usr/local/bin/flydb"), `#!/bin/sh\nexec ${join(DIST, "flydb")} "$@"\n`);
    chmodSync(join(root, "usr/local/bin/flydb"), 0o755);
    for (const unit of ["flydb.service", "flydb-cluster@.service"]) {
      writeFileSync(join(root, "etc/systemd/system", unit), readFileSync(join(ROOT, "deploy/systemd", unit)));
    }
    const r = run([
      "systemd-analyze",
      "verify",
      "--recursive-errors=no",
      `--root=${root}`,
      "flydb.service",
      "flydb-cluster@node1.service",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("the units keep the hardening and the paths the docs promise", () => {
    const plain = readFileSync(join(ROOT, "deploy/systemd/flydb.service"), "utf8");
    const template = readFileSync(join(ROOT, "deploy/systemd/flydb-cluster@.service"), "utf8");
    for (const unit of [plain, template]) {
      for (const line of [
        "User=flydb",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "LimitNOFILE=65536",
        "StandardError=journal",
        "RestartPreventExitStatus=2",
      ]) {
        expect(unit).toContain(`\n${line}\n`);
      }
    }
    expect(plain).toContain("\nExecStart=/usr/local/bin/flydb --config /etc/flydb/flydb.toml\n");
    expect(plain).toContain("\nReadWritePaths=/var/lib/flydb\n");
    expect(template).toContain(
      "\nExecStart=/usr/local/bin/flydb --config /etc/flydb/%i.toml --data-dir /var/lib/flydb/%i\n",
    );
    expect(template).toContain("\nReadWritePaths=/var/lib/flydb/%i\n");
  });
});
