// The script bodies a partition's state machine keeps (src/store/script-bodies.ts) so that a writing
// EVAL is proposed as `__evalsha`, its SHA1 alone, once the partition has applied the body
// (src/commands/scripting.ts): what such an op answers before and after, across a reopened data.db,
// in a replica made from the partition's snapshot, and how eviction keeps replicas equal.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyOp } from "../../src/commands/apply.ts";
import { isUnknownScript, luaVm, proposedBySha } from "../../src/commands/scripting.ts";
import type { Op } from "../../src/commands/types.ts";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { encodeOp } from "../../src/store/op-codec.ts";
import { dropPartition, exportPartition, importPartition } from "../../src/store/partition-snapshot.ts";
import { SCRIPTS_KEPT } from "../../src/store/script-bodies.ts";
import { StateDb } from "../../src/store/state.ts";
import { op, str, utf8 } from "../helpers/ops.ts";

const PARTITIONS = 4;
const root = mkdtempSync(join(tmpdir(), "flydb-script-bodies-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const open = (path = join(root, `data-${dirs++}.db`)) =>
  StateDb.open({ path, partitionCount: PARTITIONS, clustered: true });

const KEY = "{t}:counter";
const PART = partitionOf(keySlot(utf8(KEY)), PARTITIONS);
/** A script long enough to be proposed by its SHA1. */
const BODY = `redis.call('incr', KEYS[1])\n${"-- padding to make the body worth not sending\n".repeat(40)}return redis.call('get', KEYS[1])`;
const evalOp = (key = KEY) => op(1000, ["eval", BODY, "1", key]);
const bySha = (key = KEY): Op => proposedBySha(evalOp(key))!;
const reply = (o: Op, s: StateDb) => {
  const r = applyOp(o, s.keyspace);
  return isUnknownScript(r) ? "unknown" : r.t === "bulk" ? str(r.v as Uint8Array) : JSON.stringify(r);
};

let state: StateDb;
beforeEach(() => {
  state = open();
});
afterEach(() => state.close());

describe("script bodies kept per partition", () => {
  test("the op proposed first names the script by SHA1 and carries no body", () => {
    const lean = bySha();
    expect(str(lean.cmds[0]![0])).toBe("__evalsha");
    expect(str(lean.cmds[0]![1])).toBe((luaVm().load(utf8(BODY)) as { sha: string }).sha);
    expect(encodeOp(lean).length).toBeLessThan(100);
    expect(encodeOp(evalOp()).length).toBeGreaterThan(BODY.length);
    // Not for: a transaction, a keyless script, EVAL_RO (a read), a short body.
    expect(proposedBySha({ ...evalOp(), multi: true })).toBeUndefined();
    expect(proposedBySha(op(0, ["eval", BODY, "0"]))).toBeUndefined();
    expect(proposedBySha(op(0, ["eval_ro", BODY, "1", KEY]))).toBeUndefined();
    expect(proposedBySha(op(0, ["eval", "return redis.call('incr', KEYS[1])", "1", KEY]))).toBeUndefined();
  });

  test("unknown before the partition applied an EVAL of the body, writing nothing; runs the kept body after", () => {
    expect(reply(bySha(), state)).toBe("unknown");
    expect(state.keyspace.getString(utf8(KEY), 0)).toBeUndefined();
    expect(reply(evalOp(), state)).toBe("1");
    expect(reply(bySha(), state)).toBe("2");
    // The node's script cache (SCRIPT FLUSH) is not what apply reads.
    luaVm().flush();
    expect(reply(bySha(), state)).toBe("3");
    // Another partition has not applied the body.
    const other = ["{a}", "{b}", "{c}", "{d}", "{e}"]
      .map((t) => `${t}:k`)
      .find((k) => {
        return partitionOf(keySlot(utf8(k)), PARTITIONS) !== PART;
      })!;
    expect(reply(bySha(other), state)).toBe("unknown");
  });

  test("kept across a reopened data.db, in a replica made from the snapshot, and gone with the partition", () => {
    const path = join(root, `data-${dirs++}.db`);
    let s = open(path);
    expect(reply(evalOp(), s)).toBe("1");
    s.close();
    s = open(path);
    expect(reply(bySha(), s)).toBe("2");
    const snapshot = exportPartition(s, PART, PART + 1);
    const replica = open();
    expect(reply(bySha(), replica)).toBe("unknown");
    importPartition(replica, PART, snapshot, PART + 1, 10);
    expect(reply(bySha(), replica)).toBe("3");
    expect(reply(bySha(), s)).toBe("3");
    dropPartition(replica, PART, PART + 1);
    expect(reply(bySha(), replica)).toBe("unknown");
    replica.close();
    s.close();
  });

  test("the oldest body is evicted past the limit, the same in a replica made from the snapshot", () => {
    const key = utf8(KEY);
    const ks = state.keyspace;
    for (let i = 0; i <= SCRIPTS_KEPT; i++) ks.keepScript(key, `sha-${i}`, utf8(`return ${i}`));
    expect(ks.scriptBody(key, "sha-0")).toBeUndefined();
    expect(str(ks.scriptBody(key, "sha-1"))).toBe("return 1");
    // Keeping a body again does not make it newer: eviction follows when bodies were first applied.
    ks.keepScript(key, "sha-1", utf8("return 1"));
    const replica = open();
    importPartition(replica, PART, exportPartition(state, PART, PART + 1), PART + 1, 10);
    for (const s of [state, replica]) {
      s.keyspace.keepScript(key, "sha-new", utf8("return 'new'"));
      expect([s.keyspace.scriptBody(key, "sha-1"), str(s.keyspace.scriptBody(key, "sha-2"))]).toEqual([
        undefined,
        "return 2",
      ]);
    }
    replica.close();
  });
});
