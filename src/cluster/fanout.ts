// Keyless commands in a cluster (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB/FLUSHALL, INFO keyspace).
// data.db on a node holds the rows of every partition it replicates, so no node can answer these
// from its own rows: each partition's part is asked of that partition's leader (with the read
// consistency of any other read) through the internal per-partition commands, in parallel, under
// one deadline. A partition that does not answer fails the whole command with -CLUSTERDOWN or
// -TRYAGAIN: a partial answer is never returned as if it were complete.
import { flushArgsError, parseScanOptions } from "../commands/keys.ts";
import type { CommandSpec, Op } from "../commands/types.ts";
import { ascii, E, utf8 } from "../commands/util.ts";
import { array, bulk, err, int, NULL_BULK, OK, type Reply } from "../resp/reply.ts";
import { decodeCursor, groupBytes, nextCursor } from "./core/scan-cursor.ts";

/** How one node reaches the leader of any partition (ClusterNode's forwarding with redirects). */
export interface PartitionRunner {
  readonly partitionCount: number;
  /** Runs a read-only command on partition p's leader. */
  read(p: number, argv: readonly Uint8Array[]): Promise<Reply>;
  /** Proposes an op to partition p's group; resolves with what apply returned. */
  write(p: number, op: Op): Promise<Reply>;
}

/** Above the per-partition request timeout, so a partition's own -CLUSTERDOWN arrives first. */
export const FANOUT_TIMEOUT_MS = 6_000;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** An error of one partition, reworded for the whole command but keeping its code (TRYAGAIN, …). */
function partFailure(command: string, reply: Reply & { t: "error" }): Reply {
  const space = reply.v.indexOf(" ");
  const code = space < 0 ? reply.v : reply.v.slice(0, space);
  const rest = space < 0 ? "" : reply.v.slice(space + 1);
  return err(`${code} ${command} needs every partition: ${rest}`);
}

/** Asks the given partitions in parallel; every reply in order, or the first failure. */
export async function fanOut(command: string, partitions: readonly number[], ask: (p: number) => Promise<Reply>, timeoutMs = FANOUT_TIMEOUT_MS): Promise<Reply[] | { failed: Reply }> {
  const pending = new Set(partitions);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  const all = Promise.all(
    partitions.map(async (p) => {
      const r = await ask(p).catch((e: unknown) => err(`TRYAGAIN partition ${p}: ${(e as Error).message}`));
      pending.delete(p);
      return r;
    }),
  );
  try {
    const replies = await Promise.race([all, expired]);
    if (replies === "timeout") {
      const missing = [...pending].slice(0, 8).join(", ");
      return { failed: err(`CLUSTERDOWN ${command} needs every partition: no answer within ${timeoutMs} ms from partition(s) ${missing}${pending.size > 8 ? ", …" : ""}`) };
    }
    const failed = replies.find((r): r is Reply & { t: "error" } => r.t === "error");
    return failed ? { failed: partFailure(command, failed) } : replies;
  } finally {
    clearTimeout(timer);
  }
}

const items = (r: Reply): readonly Reply[] => (r.t === "array" ? r.v : []);
const num = (r: Reply | undefined): number => (r?.t === "int" ? Number(r.v) : 0);

export interface KeyspaceTotals {
  readonly keys: number;
  readonly expires: number;
}

/** Live keys and keys with an expiry over every partition (DBSIZE, INFO keyspace). */
export async function keyspaceTotals(run: PartitionRunner): Promise<KeyspaceTotals | { failed: Reply }> {
  const r = await fanOut("DBSIZE", range(run.partitionCount), (p) => run.read(p, [utf8("__dbsizepart"), utf8(String(p))]));
  if ("failed" in r) return r;
  let keys = 0;
  let expires = 0;
  for (const part of r) {
    const [k, e] = items(part);
    keys += num(k);
    expires += num(e);
  }
  return { keys, expires };
}

async function dbsize(run: PartitionRunner): Promise<Reply> {
  const t = await keyspaceTotals(run);
  return "failed" in t ? t.failed : int(t.keys);
}

async function keys(run: PartitionRunner, pattern: Uint8Array): Promise<Reply> {
  const r = await fanOut("KEYS", range(run.partitionCount), (p) => run.read(p, [utf8("__keyspart"), utf8(String(p)), pattern]));
  if ("failed" in r) return r.failed;
  return array(r.flatMap(items));
}

/** One partition per call: the cursor says which, and where in it to resume. */
async function scan(run: PartitionRunner, argv: readonly Uint8Array[]): Promise<Reply> {
  const cursor = decodeCursor(ascii(argv[1]!), run.partitionCount);
  if (!cursor) return E.invalidCursor;
  const opts = parseScanOptions(argv, 2, true);
  if ("t" in opts) return opts;
  const p = cursor.partition;
  const part = [utf8("__scanpart"), utf8(String(p)), cursor.from, utf8(String(groupBytes(run.partitionCount))), ...argv.slice(2)];
  const r = await fanOut("SCAN", [p], () => run.read(p, part));
  if ("failed" in r) return r.failed;
  const [next, found] = items(r[0]!);
  const resume = next?.t === "bulk" ? (typeof next.v === "string" ? utf8(next.v) : next.v) : undefined;
  return array([bulk(nextCursor(p, resume, run.partitionCount)), found ?? array([])]);
}

/** Every partition offers a random key and its size; one is chosen in proportion to size. */
async function randomKey(run: PartitionRunner, random: () => number): Promise<Reply> {
  const r = await fanOut("RANDOMKEY", range(run.partitionCount), (p) => run.read(p, [utf8("__randomkeypart"), utf8(String(p))]));
  if ("failed" in r) return r.failed;
  const offers = r.map(items).filter(([n, key]) => num(n) > 0 && key?.t === "bulk");
  const total = offers.reduce((s, [n]) => s + num(n), 0);
  let pick = random() * total;
  for (const [n, key] of offers) {
    pick -= num(n);
    if (pick < 0) return key!;
  }
  return offers.length > 0 ? offers[offers.length - 1]![1]! : NULL_BULK;
}

/**
 * FLUSHDB/FLUSHALL: one `__flushpart` op per partition group, so every replica deletes exactly
 * that partition's rows at the same log position. Not atomic across partitions (nor is anything
 * else across partitions); a failure says how far it got, and repeating it is harmless.
 */
async function flush(run: PartitionRunner, op: Op, name: string): Promise<Reply> {
  const argv = op.cmds[0]!;
  const bad = flushArgsError(argv);
  if (bad) return bad;
  const r = await fanOut(name, range(run.partitionCount), (p) => run.write(p, { cmds: [[utf8("__flushpart"), utf8(String(p))]], now: op.now, seed: op.seed }));
  return "failed" in r ? r.failed : OK;
}

/** Keyless reads this module answers; undefined for any other command. */
export function keylessRead(run: PartitionRunner, spec: CommandSpec, argv: readonly Uint8Array[], random: () => number): Promise<Reply> | undefined {
  switch (spec.name) {
    case "dbsize":
      return dbsize(run);
    case "keys":
      return keys(run, argv[1]!);
    case "scan":
      return scan(run, argv);
    case "randomkey":
      return randomKey(run, random);
    default:
      return undefined;
  }
}

/** Keyless writes this module answers (FLUSHDB, FLUSHALL); undefined for any other op. */
export function keylessWrite(run: PartitionRunner, op: Op): Promise<Reply> | undefined {
  if (op.cmds.length !== 1 || op.multi) return undefined;
  const name = ascii(op.cmds[0]![0]!).toLowerCase();
  return name === "flushdb" || name === "flushall" ? flush(run, op, name.toUpperCase()) : undefined;
}

