// The admin subcommands of dist/flydb against a real 3-node loopback cluster: the tables and JSON
// they print, and the exit codes scripts rely on (0 ok, 1 failure, 2 usage, 3 unreachable); and
// `flydb members` and `flydb wait` in a terminal (tmux), as a person sees them.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startLoopbackCluster, type LoopbackCluster } from "../helpers/loopback-cluster.ts";
import { freePort } from "../helpers/ports.ts";
import { DIST_BINARY, REPO_ROOT, runTool, startFlyDB, tempDir, type FlyDBProcess } from "../helpers/processes.ts";

setDefaultTimeout(90_000);
const PARTITIONS = 4;
const TOKEN = "adm-s3cret";
let c: LoopbackCluster;
let standalone: FlyDBProcess;
const httpOf = (i: number) => `127.0.0.1:${c.members[i]!.proc.httpPort}`;
const flydb = (...args: string[]) => runTool([DIST_BINARY, ...args], { timeoutMs: 60_000 });

beforeAll(async () => {
  c = await startLoopbackCluster({ size: 3, partitions: PARTITIONS, prefix: "adm" });
  standalone = await startFlyDB({ binary: "dist", args: ["--log-level", "warn", "--http-auth-token", TOKEN] });
  await c.settled();
});

afterAll(async () => {
  await c?.stop();
  await standalone?.stop();
});

describe("flydb admin commands", () => {
  test("wait --ready: exit 0 once the node is ready, plain lines when stdout is not a terminal", async () => {
    const r = await flydb("wait", "--http", httpOf(1), "--ready", "--timeout", "30s");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`^${httpOf(1)} is ready after \\d+\\.\\ds\\n$`));
    expect(r.stdout).not.toContain("\r");
    const h = await flydb("wait", "--http", httpOf(2), "--healthy", "--json");
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout)).toMatchObject({ http: httpOf(2), healthy: true });
  });

  test("status: the node, the metadata leader, members and partition health", async () => {
    const r = await flydb("status", "--http", httpOf(0));
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^node:\s+adm1$/m);
    expect(r.stdout).toMatch(/^role:\s+cluster$/m);
    expect(r.stdout).toMatch(/^metadata leader:\s+adm\d$/m);
    expect(r.stdout).toMatch(/^members:\s+3 \(3 alive\)$/m);
    expect(r.stdout).toMatch(
      new RegExp(`^partitions:\\s+${PARTITIONS}/${PARTITIONS} healthy, 0 under-replicated`, "m"),
    );
  });

  test("members --json: the node's member list as JSON", async () => {
    const r = await flydb("members", "--http", httpOf(2), "--json");
    expect(r.code).toBe(0);
    const members = JSON.parse(r.stdout) as { id: string; state: string; addresses: { http: string } }[];
    expect(members.map((m) => m.id).sort()).toEqual(["adm1", "adm2", "adm3"]);
    expect(members.every((m) => m.state === "alive")).toBe(true);
    expect(members.find((m) => m.id === "adm1")!.addresses.http).toBe(httpOf(0));
  });

  test("partitions: one row per partition, every one led and healthy", async () => {
    // A leadership can be in flight right after the cluster settles (rebalancing): the table then
    // shows a dash for the leader, so take the first table with every partition led.
    const rows = await waitUntil(
      async () => {
        const r = await flydb("partitions", "--http", httpOf(1));
        expect(r.code).toBe(0);
        const [header, ...rest] = r.stdout.trimEnd().split("\n");
        expect(header!.split(/\s+/)).toEqual([
          "PARTITION",
          "GROUP",
          "SLOTS",
          "LEADER",
          "TERM",
          "VOTERS",
          "LEARNERS",
          "HEALTHY",
        ]);
        const cells = rest.map((row) => row.split(/\s+/));
        return cells.every((x) => x[3] !== "-") ? cells : undefined;
      },
      20_000,
      "a partitions table with every partition led",
      200,
    );
    expect(rows.length).toBe(PARTITIONS);
    for (const cells of rows) {
      expect(cells[3]).toMatch(/^adm\d$/);
      expect(cells[5]!.split(",").sort()).toEqual(["adm1", "adm2", "adm3"]);
      expect(cells[7]).toBe("yes");
    }
    expect(rows.map((x) => x[2])).toEqual(["0-4095", "4096-8191", "8192-12287", "12288-16383"]);
  });

  test("a dead address: exit 3 from wait when the timeout runs out, and at once from status", async () => {
    const dead = `127.0.0.1:${freePort()}`;
    const w = await flydb("wait", "--http", dead, "--ready", "--timeout", "1s");
    expect(w.code).toBe(3);
    expect(w.stderr).toContain(`${dead} not ready after 1s (unreachable)`);
    const s = await flydb("status", "--http", dead);
    expect(s.code).toBe(3);
    expect(s.stderr).toContain("connection refused");
  });

  test("a node that answers with a failure: exit 1 (a standalone node has no members or partitions)", async () => {
    const http = `127.0.0.1:${standalone.httpPort}`;
    const m = await flydb("members", "--http", http);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain("runs standalone");
    const p = await flydb("partitions", "--http", http, "--json");
    expect(p.code).toBe(1);
    expect(p.stderr).toContain("HTTP 409");
    expect(JSON.parse(p.stdout).error).toContain("standalone");
  });

  test("join: token from FLYDB_HTTP_AUTH_TOKEN or --token-file; refused: exit 1; bad address: exit 2", async () => {
    const http = `127.0.0.1:${standalone.httpPort}`;
    const bare = await runTool([DIST_BINARY, "join", "--http", http, "127.0.0.1:1"], {
      env: { FLYDB_HTTP_AUTH_TOKEN: "" },
    });
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("HTTP 401");
    expect(bare.stderr).toContain("FLYDB_HTTP_AUTH_TOKEN");
    // With the token the node gets past the check and refuses for its own reason: it runs standalone.
    const viaEnv = await runTool([DIST_BINARY, "join", "--http", http, "127.0.0.1:1"], {
      env: { FLYDB_HTTP_AUTH_TOKEN: TOKEN },
    });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toMatch(/POST \/cluster\/join on .*: HTTP 409: this node runs standalone/);
    const file = join(tempDir("admin-token"), "token");
    writeFileSync(file, `${TOKEN}\n`);
    const viaFile = await flydb("join", "--http", http, "--token-file", file, "127.0.0.1:1");
    expect(viaFile.code).toBe(1);
    expect(viaFile.stderr).toContain("HTTP 409");
    rmSync(dirname(file), { recursive: true });
    expect((await flydb("join", "--http", httpOf(0), "not an address")).code).toBe(2);
  });

  test("usage errors: exit 2", async () => {
    expect((await flydb("wait", "--http", httpOf(0))).code).toBe(2); // neither --ready nor --healthy
    expect((await flydb("wait", "--ready", "--timeout", "soon")).code).toBe(2);
    expect((await flydb("remove")).code).toBe(2);
    expect((await flydb("status", "--bogus")).code).toBe(2);
    expect((await flydb("status", "--http", "no-port")).code).toBe(2);
  });
});

describe("in a terminal (tmux)", () => {
  const socket = `flydb-admin-test-${process.pid}`;
  const tmux = (...args: string[]) => runTool(["tmux", "-L", socket, ...args], { env: { TERM: "xterm-256color" } });
  const pane = async () => (await tmux("capture-pane", "-p", "-t", "admin")).stdout;
  /** The pane once the command sent has printed its exit line (the typed command holds `exit=$?`, not a digit). */
  const finished = () =>
    waitUntil(
      async () => {
        const text = await pane();
        return /^exit=\d+$/m.test(text) ? text : undefined;
      },
      20_000,
      "the command's exit line",
      100,
    );

  beforeAll(async () => {
    const r = await tmux(
      "new-session",
      "-d",
      "-s",
      "admin",
      "-x",
      "160",
      "-y",
      "30",
      "-c",
      REPO_ROOT,
      "bash --norc --noprofile",
    );
    expect(r.code).toBe(0);
  });

  afterAll(async () => {
    await tmux("kill-server");
  });

  test("flydb members prints an aligned table", async () => {
    await tmux("send-keys", "-t", "admin", `clear; ./dist/flydb members --http ${httpOf(0)}; echo "exit=$?"`, "Enter");
    const text = await finished();
    const lines = text.split("\n");
    const header = lines.findIndex((l) => l.startsWith("ID "));
    expect(header).toBeGreaterThanOrEqual(0);
    const rows = lines.slice(header + 1, header + 4);
    expect(rows.map((r) => r.split(/\s+/)[0]).sort()).toEqual(["adm1", "adm2", "adm3"]);
    for (const column of ["STATE", "HTTP", "LEADS"]) {
      const at = lines[header]!.indexOf(column);
      for (const row of rows) expect(row[at - 1]).toBe(" ");
      for (const row of rows) expect(row[at]).not.toBe(" ");
    }
    expect(lines[header + 4]).toBe("exit=0");
  });

  test("flydb wait redraws one live line while it waits, then clears it", async () => {
    const dead = `127.0.0.1:${freePort()}`;
    await tmux(
      "send-keys",
      "-t",
      "admin",
      `clear; ./dist/flydb wait --http ${dead} --ready --timeout 4s; echo "exit=$?"`,
      "Enter",
    );
    const live = await waitUntil(
      async () => {
        const t = await pane();
        return /waiting for .* to be ready \d+\.\ds \(unreachable\)/.test(t) ? t : undefined;
      },
      10_000,
      "the live wait line",
      100,
    );
    expect(live.split("\n").filter((l) => l.includes("waiting for")).length).toBe(1);
    const done = await finished();
    expect(done).not.toMatch(/waiting for .* \d+\.\ds/);
    expect(done).toContain(`${dead} not ready after 4s (unreachable)`);
    expect(done).toContain("exit=3");
  });
});

// Last: it takes a member out of the cluster the tests above share.
describe("leaving", () => {
  test("leave: the member drains, says so, exits; the others then list two members", async () => {
    const r = await flydb("leave", "--http", httpOf(2), "--timeout", "60s");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^adm3 left the cluster \(drained in \d+ ms\)\n$/);
    c.members[2]!.up = false;
    await waitUntil(
      async () => {
        const m = await flydb("members", "--http", httpOf(0), "--json");
        const ids = (JSON.parse(m.stdout) as { id: string }[]).map((x) => x.id).sort();
        return ids.join(",") === "adm1,adm2" || undefined;
      },
      30_000,
      "adm3 gone from the member list",
      250,
    );
  });

  test("remove: a member already gone is reported removed (exit 0); --json gives the node's answer", async () => {
    const r = await flydb("remove", "--http", httpOf(0), "adm3", "--timeout", "10s");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^removed adm3 \(in \d+ ms\)\n$/);
    const j = await flydb("remove", "--http", httpOf(1), "adm3", "--json");
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ removed: true, node: "adm3", voter_groups: [] });
  });
});
