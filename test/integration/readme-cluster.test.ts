// README.md's three-node block runs as written: the same commands, with free ports for its fixed
// ones and a temporary working directory (holding ./dist and ./data) for the repository's, and its
// redis-cli GET through the third node answers the value the SET through the second one wrote.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "../helpers/ports.ts";
import { ensureBinary, REPO_ROOT, runTool, tempDir } from "../helpers/processes.ts";

setDefaultTimeout(240_000);

/** The README's sh block that follows "A three-node cluster", one command per line (continuations joined). */
function readmeClusterBlock(): string[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("A three-node cluster");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start));
  if (start < 0 || !block) throw new Error("README.md has no three-node cluster block");
  return block[1]!
    .replaceAll("\\\n", " ")
    .split("\n")
    .filter((l) => l.trim() !== "");
}

const dir = tempDir("readme-cluster");
const pidFile = join(dir, "pids");

afterAll(async () => {
  // The block starts its nodes in the background; the harness line below recorded their PIDs.
  const pids = existsSync(pidFile) ? readFileSync(pidFile, "utf8").split(/\s+/).filter(Boolean).map(Number) : [];
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await Bun.sleep(200); // SIGKILL is delivered asynchronously: let them go before their data dirs do
  rmSync(dir, { recursive: true, force: true });
});

test("README.md's three-node cluster block works as written", async () => {
  const lines = readmeClusterBlock();
  expect(lines[0]).toBe("npm run build");
  // The block's wait lines are what makes it work: each node is ready before the first request.
  expect(lines.filter((l) => l.startsWith("./dist/flydb wait ")).length).toBe(3);
  ensureBinary();
  mkdirSync(join(dir, "data"));
  symlinkSync(join(REPO_ROOT, "dist"), join(dir, "dist"));
  const ports = new Map<string, string>();
  for (const l of lines) for (const m of l.matchAll(/:(\d{4})\b/g)) ports.set(m[1]!, "");
  for (const m of lines.join("\n").matchAll(/-p (\d{4})\b/g)) ports.set(m[1]!, "");
  const free = freePorts(ports.size);
  [...ports.keys()].forEach((p, i) => {
    ports.set(p, String(free[i]));
  });
  expect(ports.size).toBe(12);
  const adapted = lines
    .slice(1) // npm run build: ensureBinary above
    .map((l) => l.replace(/\b\d{4}\b/g, (p) => ports.get(p) ?? p));
  const script = [`trap 'jobs -p > ${pidFile}' EXIT`, `exec >${join(dir, "out.log")} 2>&1`, ...adapted].join("\n");
  const r = await runTool(["bash", "-c", script], { cwd: dir, timeoutMs: 200_000 });
  const out = readFileSync(join(dir, "out.log"), "utf8");
  expect({ code: r.code, out }).toMatchObject({ code: 0 });
  expect(out).toContain('"metadata_leader"');
  // curl prints no newline, so SET's OK ends its line; the nodes' own log lines may follow.
  expect(out).toMatch(/OK\n/);
  expect(out.split("\n")).toContain("v");
});
