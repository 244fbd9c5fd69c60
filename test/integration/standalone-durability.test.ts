// kill -9 durability of a standalone node's write path (src/cluster/standalone.ts): a child
// process acknowledges writes (fsync = "always") and is killed mid-stream; every write it
// acknowledged must be there when the data dir is reopened.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { str, utf8 } from "../helpers/ops.ts";
import { openStandalone } from "../helpers/standalone-host.ts";

const root = mkdtempSync(join(tmpdir(), "flydb-durability-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const writer = join(import.meta.dir, "..", "helpers", "standalone-writer.ts");

/** Runs the writer until it has acknowledged at least `acks` writes, SIGKILLs it, returns every ack it printed. */
async function writeAndKill(dir: string, acks: number): Promise<number[]> {
  const child = Bun.spawn([process.execPath, writer, dir], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" },
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let output = "";
  let killed = false;
  let refusedWhileRunning = false;
  const deadline = Date.now() + 15_000;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      output += decoder.decode(value, { stream: true });
      if (!killed && !refusedWhileRunning && output.includes("\n")) {
        // The writer holds data.db: a second node on the same data_dir must not start.
        await expect(openStandalone(dir)).rejects.toThrow(/data\.db is in use by another process/);
        refusedWhileRunning = true;
      }
      if (!killed && (output.split("\n").length > acks || Date.now() > deadline)) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  } finally {
    if (!killed) child.kill("SIGKILL");
  }
  await child.exited;
  expect(child.signalCode).toBe("SIGKILL");
  expect(refusedWhileRunning).toBe(true);
  const lines = output.split("\n").slice(0, -1); // a last line without "\n" was cut by the kill
  return lines.map((line) => {
    const m = /^ack (\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected writer output line: ${JSON.stringify(line)}`);
    return Number(m[1]);
  });
}

let ackedSoFar = 0;
for (const round of [1, 2]) {
  test(`every acknowledged write survives kill -9 (round ${round}: ${round === 1 ? "fresh" : "after a recovery"})`, async () => {
    const dir = join(root, "node");
    const acked = await writeAndKill(dir, 1500);
    expect(acked.length).toBeGreaterThanOrEqual(1500);
    const host = await openStandalone(dir);
    try {
      const ks = host.replicas.keyspace;
      const missing = acked.filter((i) => str(ks.getString(utf8(`k${i}`), Date.now())) !== `v${i}`);
      expect(missing).toEqual([]);
      // Round 2 wrote on top of round 1, so the log holds at least both rounds' acks.
      ackedSoFar += acked.length;
      expect(host.appliedIndex()).toBeGreaterThanOrEqual(ackedSoFar);
    } finally {
      await host.stop();
    }
  }, 30_000);
}
