// A fresh data.db for each test, driven through the real command layer (applyOp) as the log would
// drive it: one command per entry, at consecutive log indexes.
import { afterAll, afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyOp } from "../../src/commands/apply.ts";
import type { Reply } from "../../src/resp/reply.ts";
import { StateDb } from "../../src/store/state.ts";

export interface CommandStore {
  /** The running test's StateDb (16 partitions). */
  readonly state: StateDb;
  /** The log index of the last command applied. */
  readonly lastIndex: number;
  /** Applies one command at time `now` (ms) as the next log entry; its reply. */
  at(now: number, ...argv: (string | Uint8Array)[]): Reply;
  /** A path for one more database file in the file's temp dir, `name` plus a unique suffix. */
  tempPath(name: string): string;
}

/** Opens a StateDb before each test and closes it after; the temp dir `prefix`… goes after the file. */
export function useCommandStore(prefix: string): CommandStore {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const enc = new TextEncoder();
  let files = 0;
  const tempPath = (name: string) => join(dir, `${name}-${files++}.db`);
  let state: StateDb | undefined;
  let index = 0;
  beforeEach(() => {
    state = StateDb.open({ path: tempPath("data"), partitionCount: 16 });
    index = 1;
  });
  afterEach(() => state?.close());
  const current = (): StateDb => {
    if (!state) throw new Error("useCommandStore: the StateDb is open only inside a test");
    return state;
  };
  return {
    get state() {
      return current();
    },
    get lastIndex() {
      return index - 1;
    },
    at(now, ...argv) {
      const cmd = argv.map((a) => (typeof a === "string" ? enc.encode(a) : a));
      return current().applyBatch(-1, index++, [{ cmds: [cmd], now, seed: 7 }], applyOp)[0]!;
    },
    tempPath,
  };
}
