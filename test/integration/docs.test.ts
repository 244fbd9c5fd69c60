// The operator docs stay true to the code: generated parts match their generators, the example
// config has every key and loads, API.md's examples run against a real node, and every flag the
// docs pass to install.sh, uninstall.sh, flydb or flydb-discover exists. ARCHITECTURE.md stays a short map,
// links between the docs resolve, and no file cites design sections users do not have.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { CONFIG_KEYS, SCHEMA } from "../../src/config/schema.ts";
import { GENERATED_FILES } from "../../scripts/gen-config-doc.ts";
import { spliceCommandSection } from "../../scripts/gen-api-doc.ts";
import { LineReader } from "../helpers/line-reader.ts";
import { freePort } from "../helpers/ports.ts";

// Installs copy 200 MB of binaries, and a cluster takes seconds to form.
setDefaultTimeout(90_000);

const ROOT = resolve(import.meta.dir, "../..");
const DOCS = join(ROOT, "docs");
const DIST = join(ROOT, "dist");
const ENV = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" };
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

function run(cmd: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, env: ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Lines of the fenced code blocks of the given languages in a markdown text. */
function codeLines(markdown: string, langs: readonly string[]): string[] {
  const out: string[] = [];
  let inside = false;
  for (const line of markdown.split("\n")) {
    const fence = /^```(\S*)/.exec(line);
    if (fence) {
      inside = !inside && langs.includes(fence[1]!);
      continue;
    }
    if (inside) out.push(line);
  }
  return out;
}

/** Every file under a folder, recursively, as repository paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe("generated docs", () => {
  test("docs/CONFIGURATION.md and deploy/flydb.toml match scripts/gen-config-doc.ts (run it after changing the schema)", () => {
    for (const [path, render] of Object.entries(GENERATED_FILES)) expect(read(path)).toBe(render());
  });

  test("the command list in docs/API.md matches scripts/gen-api-doc.ts (run it after changing the command table)", () => {
    const doc = read("docs/API.md");
    expect(spliceCommandSection(doc)).toBe(doc);
  });
});

describe("deploy/flydb.toml", () => {
  const text = read("deploy/flydb.toml");

  test("names every key of the schema", () => {
    const missing = CONFIG_KEYS.filter((k) => !new RegExp(`^(# )?${k} = `, "m").test(text));
    expect(missing).toEqual([]);
  });

  test("loads without error and spells every default as the loader reads it", () => {
    const { config } = loadConfig({
      configPath: join(ROOT, "deploy/flydb.toml"),
      env: {},
      flags: { node_id: "example" },
    });
    for (const key of CONFIG_KEYS)
      if (key !== "node_id") expect({ key, value: config[key] }).toEqual({ key, value: SCHEMA[key].def });
  });

  test("loads with its commented node_id uncommented", () => {
    const dir = mkdtempSync(join(tmpdir(), "fly-ops-example-"));
    try {
      const path = join(dir, "flydb.toml");
      writeFileSync(path, text.replace(/^# node_id = /m, "node_id = "));
      expect(loadConfig({ configPath: path, env: {} }).config.node_id).toBe("node1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("docs/API.md examples against a running node", () => {
  let node: Bun.Subprocess | undefined;
  let dataDir = "";
  let resp = 0;
  let http = 0;

  beforeAll(async () => {
    resp = freePort();
    http = freePort();
    dataDir = mkdtempSync(join(tmpdir(), "fly-ops-docs-"));
    node = Bun.spawn(
      [
        join(DIST, "flydb"),
        "--bind-addr",
        `127.0.0.1:${resp}`,
        "--http-addr",
        `127.0.0.1:${http}`,
        "--data-dir",
        dataDir,
        "--node-id",
        "docs",
      ],
      {
        env: ENV,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    await new LineReader(node.stderr as ReadableStream<Uint8Array>).waitFor(
      (l) => l.includes("flydb started"),
      15_000,
      "flydb to start",
    );
  });

  afterAll(async () => {
    node?.kill("SIGTERM");
    await node?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("every sh line runs without error; a trailing comment is the expected first line of output", () => {
    const lines = codeLines(read("docs/API.md"), ["sh"]).filter((l) => l.trim() !== "");
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const local = line
        .replaceAll("-p 6380", `-p ${resp}`)
        .replaceAll("localhost 6380", `127.0.0.1 ${resp}`)
        .replaceAll("localhost:8080", `127.0.0.1:${http}`);
      const r = run(["bash", "-c", local]);
      const first = r.stdout.split("\n")[0]!.trim();
      expect({ line, code: r.code, error: /^(ERR|NOAUTH|WRONGTYPE)/.test(first) }).toEqual({
        line,
        code: 0,
        error: false,
      });
      expect({ line, empty: first === "" }).toEqual({ line, empty: false });
      const comment = /\s#\s(.*)$/.exec(line)?.[1];
      if (comment === undefined) continue;
      // redis-cli in a terminal shows `"hello"` and `(integer) 60`; piped it prints hello and 60.
      const expected = comment
        .replace(/\s+\(.*\)$/, "")
        .replace(/^\(integer\) /, "")
        .replace(/^"(.*)"$/, "$1");
      expect({ line, output: first }).toEqual({ line, output: expected });
    }
  });
});

describe("commands in the docs", () => {
  const tools: Record<string, string[]> = {
    "install.sh": ["bash", join(ROOT, "install.sh"), "--help"],
    "uninstall.sh": ["bash", join(ROOT, "uninstall.sh"), "--help"],
    flydb: [join(DIST, "flydb"), "--help"],
    "flydb-discover": [join(DIST, "flydb-discover"), "--help"],
  };

  test("every flag given to install.sh, uninstall.sh, flydb and flydb-discover in a docs example exists", () => {
    const known = new Map<string, Set<string>>();
    for (const [tool, cmd] of Object.entries(tools)) {
      expect(existsSync(cmd[0] === "bash" ? cmd[1]! : cmd[0]!)).toBe(true);
      const r = run(cmd);
      expect(r.code).toBe(0);
      known.set(tool, new Set(r.stdout.match(/--[a-z][a-z-]*/g) ?? []));
    }
    const used: string[] = [];
    const unknown: string[] = [];
    const files = [
      ...filesUnder("docs")
        .filter((f) => f.endsWith(".md"))
        .map((f) => join(ROOT, f)),
      join(ROOT, "README.md"),
    ];
    for (const path of files) {
      const file = basename(path);
      for (const line of codeLines(readFileSync(path, "utf8"), ["sh", "console", "text"])) {
        const words = line
          .replace(/^\$ /, "")
          .replace(/\s#\s.*$/, "")
          .replaceAll("$(", " ; ")
          .replaceAll(")", " ; ")
          .replaceAll('"', " ")
          .split(/\s+/);
        let tool: string | undefined;
        for (const w of words) {
          if (["&&", "||", "|", ";"].includes(w)) tool = undefined;
          else if (basename(w) in tools) tool = basename(w);
          else if (tool && w.startsWith("--")) {
            const flag = w.split("=")[0]!;
            used.push(`${tool} ${flag}`);
            if (!known.get(tool)!.has(flag)) unknown.push(`${file}: ${tool} ${flag}`);
          }
        }
      }
    }
    expect(used.length).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });
});

describe("docs as a map", () => {
  test("docs/ARCHITECTURE.md stays a map: at most 15 KB", () => {
    expect(statSync(join(DOCS, "ARCHITECTURE.md")).size).toBeLessThanOrEqual(15_000);
  });

  test("every relative link in README.md and docs/ points to a file that exists", () => {
    const pages = ["README.md", ...filesUnder("docs").filter((f) => f.endsWith(".md"))];
    const broken: string[] = [];
    for (const page of pages) {
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split("#")[0]!;
        if (target === "" || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(page), target))) broken.push(`${page}: ${m[1]}`);
      }
    }
    expect(pages.length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  test("no source, script, bench or test cites the design sections users do not have", () => {
    // Built from parts so this file does not match itself.
    const citation = ["DESIGN", "§"].join(" ");
    const citing = ["src", "cli", "scripts", "bench", "test"]
      .flatMap(filesUnder)
      .filter((f) => readFileSync(join(ROOT, f), "utf8").includes(citation));
    expect(citing).toEqual([]);
  });
});

describe("docs/CLUSTER_SETUP.md", () => {
  test("the unprivileged install example runs as written, and the node starts from what it wrote", async () => {
    const home = mkdtempSync(join(tmpdir(), "fly-ops-home-"));
    try {
      const lines = codeLines(read("docs/CLUSTER_SETUP.md"), ["sh"]);
      const install = lines.find((l) => l.startsWith('./install.sh --yes --no-service --prefix "$HOME/.local"'));
      const start = lines.find((l) => l.startsWith('"$HOME/.local/bin/flydb" --config'));
      expect(install).toBeDefined();
      expect(start).toBeDefined();
      const env = { ...ENV, HOME: home };
      const r = Bun.spawnSync(["bash", "-c", install!], {
        cwd: ROOT,
        env,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" });
      // Only the ports differ from the example, so the test does not collide with anything.
      const ports = [freePort(), freePort()];
      const node = Bun.spawn(
        ["bash", "-c", `exec ${start!} --bind-addr 127.0.0.1:${ports[0]} --http-addr 127.0.0.1:${ports[1]}`],
        { cwd: home, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      try {
        await new LineReader(node.stderr as ReadableStream<Uint8Array>).waitFor(
          (l) => l.includes("flydb started") && l.includes(`data_dir=${home}/.local/share/flydb`),
          15_000,
          "flydb to start",
        );
        // The install generated requirepass (docs: "Secrets by default"): PING needs it.
        const configPath = join(home, ".config/flydb/flydb.toml");
        const { requirepass } = loadConfig({ configPath, env: {} }).config;
        const cli = ["redis-cli", "-p", String(ports[0])];
        expect(run([...cli, "PING"]).stdout.trim()).toStartWith("NOAUTH");
        expect(run([...cli, "--no-auth-warning", "-a", requirepass, "PING"]).stdout.trim()).toBe("PONG");
      } finally {
        node.kill("SIGTERM");
        expect(await node.exited).toBe(0);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
