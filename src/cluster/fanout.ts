// Keyless commands in a cluster: those whose table row declares all_shards (DBSIZE, KEYS, RANDOMKEY,
// FLUSHDB/FLUSHALL, INFO keyspace) or a special request (SCAN), see src/commands/cluster-policy.ts.
// data.db on a node holds the rows of every partition it replicates, so no node can answer these
// from its own rows: each partition's part is asked of that partition's leader (with the read
// consistency of any other read) through the internal per-partition commands, in parallel, under
// one deadline. A partition that does not answer fails the whole command with -CLUSTERDOWN or
// -TRYAGAIN: a partial answer is never returned as if it were complete. A write (FLUSHALL) that
// may have been applied in some partition answers -UNKNOWN instead (core/write-outcome.ts).
import type { ClusterTips, SpecialRequest } from "../commands/cluster-policy.ts";
import { parseScanOptions } from "../commands/keys.ts";
import { COMMANDS } from "../commands/table.ts";
import type { CommandSpec, Op } from "../commands/types.ts";
import { ascii, E, lower, utf8 } from "../commands/util.ts";
import { array, bulk, err, type Reply } from "../resp/reply.ts";
import { items, mergeFor, num } from "./core/reply-merge.ts";
import type { DatabaseKeys } from "../commands/types.ts";
import { decodeCursor, groupBytes, nextCursor } from "./core/scan-cursor.ts";
import { splitWriteError, unknownOutcome } from "./core/write-outcome.ts";
import { keylessScript } from "./keyless-script.ts";

/** How one node reaches the leader of any partition (ClusterNode's forwarding with redirects). */
export interface PartitionRunner {
  readonly partitionCount: number;
  /** Runs a read-only command on partition p's leader (replies in RESP3 when `resp3`). */
  read(p: number, argv: readonly Uint8Array[], resp3?: boolean): Promise<Reply>;
  /** Proposes an op to partition p's group; resolves with what apply returned. */
  write(p: number, op: Op): Promise<Reply>;
  /** Whether this node leads partition p (where a keyless script starts: keyless-script.ts). */
  readonly leads?: (p: number) => boolean;
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

/**
 * Asks the given partitions in parallel; every reply in order, or the first failure. A `write`
 * that some partition may have applied fails as unknown (core/write-outcome.ts).
 */
export async function fanOut(
  command: string,
  partitions: readonly number[],
  ask: (p: number) => Promise<Reply>,
  { write = false, timeoutMs = FANOUT_TIMEOUT_MS }: { write?: boolean; timeoutMs?: number } = {},
): Promise<Reply[] | { failed: Reply }> {
  const pending = new Set(partitions);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  const all = Promise.all(
    partitions.map(async (p) => {
      const r = await ask(p).catch((e: unknown) =>
        write
          ? unknownOutcome(`partition ${p}: ${(e as Error).message}`)
          : err(`TRYAGAIN partition ${p}: ${(e as Error).message}`),
      );
      pending.delete(p);
      return r;
    }),
  );
  try {
    const replies = await Promise.race([all, expired]);
    if (replies === "timeout") {
      const missing = [...pending].slice(0, 8).join(", ");
      const why = `no answer within ${timeoutMs} ms from partition(s) ${missing}${pending.size > 8 ? ", …" : ""}`;
      return {
        failed: write
          ? unknownOutcome(`${command} needs every partition: ${why}`)
          : err(`CLUSTERDOWN ${command} needs every partition: ${why}`),
      };
    }
    const failed = replies.find((r): r is Reply & { t: "error" } => r.t === "error");
    if (!failed) return replies;
    // The same error from every partition is the command's own answer (FUNCTION LOAD of a bad library).
    if (replies.every((r) => r.t === "error" && r.v === failed.v)) return { failed };
    const worded = replies.map((r) => (r.t === "error" ? partFailure(command, r) : r));
    return { failed: (write ? splitWriteError(command, worded) : undefined) ?? partFailure(command, failed) };
  } finally {
    clearTimeout(timer);
  }
}

type AllShards = Extract<ClusterTips, { request: "all_shards" }>;
type Ask = (p: number, argv: readonly Uint8Array[]) => Promise<Reply>;

/** An all_shards command: its row's internal command on every partition, the replies merged by its response policy. */
async function allShards(
  run: PartitionRunner,
  name: string,
  tips: AllShards,
  argv: readonly Uint8Array[],
  ask: Ask,
  random: () => number,
  write = false,
): Promise<Reply> {
  const args = tips.partArgs ? tips.partArgs(argv) : argv.slice(1);
  if ("t" in args) return args;
  const via = utf8(tips.via);
  const r = await fanOut(
    name.toUpperCase(),
    range(run.partitionCount),
    (p) => ask(p, [via, utf8(String(p)), ...args]),
    {
      write,
    },
  );
  return "failed" in r ? r.failed : mergeFor(tips.response)(r, random);
}

export interface KeyspaceTotals {
  readonly keys: number;
  readonly expires: number;
  /** Per non-empty database, in database order (INFO keyspace's dbN lines). */
  readonly dbs: readonly DatabaseKeys[];
}

/** Live keys and keys with an expiry over every partition (INFO keyspace), as INFO's row declares. */
export async function keyspaceTotals(run: PartitionRunner): Promise<KeyspaceTotals | { failed: Reply }> {
  const tips = COMMANDS.get("info")?.cluster;
  if (tips?.request !== "all_shards") throw new Error("INFO declares no all_shards fan-out for its keyspace section");
  const r = await allShards(run, "info", tips, [utf8("info")], (p, argv) => run.read(p, argv), Math.random);
  if (r.t === "error") return { failed: r };
  const v = items(r);
  const dbs: DatabaseKeys[] = [];
  for (let i = 0; i + 2 < v.length; i += 3) dbs.push({ db: num(v[i]), keys: num(v[i + 1]), expires: num(v[i + 2]) });
  return { keys: dbs.reduce((n, d) => n + d.keys, 0), expires: dbs.reduce((n, d) => n + d.expires, 0), dbs };
}

/** SCAN: one partition per call; the cursor says which, and where in it to resume. */
async function scanCursor(run: PartitionRunner, via: string, argv: readonly Uint8Array[]): Promise<Reply> {
  const cursor = decodeCursor(ascii(argv[1]!), run.partitionCount);
  if (!cursor) return E.invalidCursor;
  const opts = parseScanOptions(argv, 2, true);
  if ("t" in opts) return opts;
  const p = cursor.partition;
  const group = utf8(String(groupBytes(run.partitionCount)));
  const part = [utf8(via), utf8(String(p)), cursor.from, group, ...argv.slice(2)];
  const r = await fanOut("SCAN", [p], () => run.read(p, part));
  if ("failed" in r) return r.failed;
  const [next, found] = items(r[0]!);
  const resume = next?.t === "bulk" ? (typeof next.v === "string" ? utf8(next.v) : next.v) : undefined;
  return array([bulk(nextCursor(p, resume, run.partitionCount)), found ?? array([])]);
}

type SpecialHandler = (run: PartitionRunner, via: string, argv: readonly Uint8Array[]) => Promise<Reply>;

const SPECIAL_REQUESTS: { readonly [H in SpecialRequest]: SpecialHandler } = {
  scan_cursor: scanCursor,
};

/**
 * Keyless reads whose row declares all_shards or a special request, and keyless read-only scripts;
 * undefined for any other command.
 */
export function keylessRead(
  run: PartitionRunner,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
  random: () => number,
  resp3 = false,
): Promise<Reply> | undefined {
  const script = spec.flags.includes("write") ? undefined : keylessScript(run, argv, undefined, resp3);
  if (script) return script;
  const tips = spec.cluster;
  if (spec.flags.includes("write")) return undefined;
  if (tips?.request === "all_shards") return allShards(run, spec.name, tips, argv, (p, a) => run.read(p, a), random);
  if (tips?.request === "special") return SPECIAL_REQUESTS[tips.handler](run, tips.via, argv);
  return undefined;
}

/**
 * Keyless writing scripts (keyless-script.ts), and keyless writes whose row declares all_shards
 * (FLUSHDB, FLUSHALL): one op per partition group,
 * so every replica applies that partition's part at the same log position. Not atomic across
 * partitions (nor is anything else across partitions): a failure after some partition may have
 * applied it answers -UNKNOWN, since a client's resend would flush what was written in between.
 * Undefined for any other op.
 */
export function keylessWrite(run: PartitionRunner, op: Op): Promise<Reply> | undefined {
  if (op.cmds.length !== 1 || op.multi) return undefined;
  const argv = op.cmds[0]!;
  const script = keylessScript(run, argv, op);
  if (script) return script;
  const spec = COMMANDS.get(lower(argv[0]!));
  const tips = spec?.cluster;
  if (!spec?.flags.includes("write") || tips?.request !== "all_shards") return undefined;
  const write: Ask = (p, cmd) =>
    run.write(p, { cmds: [cmd], now: op.now, seed: op.seed, ...(op.db ? { db: op.db } : {}) });
  return allShards(run, spec.name, tips, argv, write, Math.random, true);
}
