import { LOCAL, type ClusterTips } from "./cluster-policy.ts";
import type { CommandFlag, CommandFn, CommandSpec, KeyFlags, SessionFn, Subcommand } from "./types.ts";

/** Key positions as COMMAND INFO reports them (see CommandSpec.firstKey). */
export interface KeyPositions {
  readonly first: number;
  readonly last: number;
  readonly step: number;
  /** Redis's "movablekeys": every key of a call whose keys are counted by an argument (see CommandSpec.keys). */
  readonly find?: (argv: readonly Uint8Array[]) => Uint8Array[];
}

interface RowBase {
  /** Lower-case. */
  readonly name: string;
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  readonly since: string;
  readonly summary: string;
  /** See CommandSpec.subcommands. */
  readonly subcommands?: CommandSpec["subcommands"];
  /** Absent: one slot for a command with keys (see ClusterTips); data commands without keys must declare. */
  readonly cluster?: ClusterTips;
}

/** A data command: runs on the keyspace. Without `keys` it takes none. */
export interface DataRow extends RowBase {
  readonly keys?: KeyPositions;
  /** Only where Redis's differ from "RW update" (write) or "RO access" (readonly). */
  readonly keyFlags?: KeyFlags;
  readonly run: CommandFn;
  /** See CommandSpec.completeReply. */
  readonly completeReply?: CommandSpec["completeReply"];
  /** See CommandSpec.resolve. */
  readonly resolve?: CommandSpec["resolve"];
}

/** A connection or server command: runs on the session, takes no keys, runs locally unless it declares otherwise. */
export interface SessionRow extends RowBase {
  readonly exec: SessionFn;
}

export type CommandRow = DataRow | SessionRow;

export function define(group: string, rows: readonly CommandRow[]): CommandSpec[] {
  return rows.map((row) => {
    const common = {
      name: row.name,
      arity: row.arity,
      group,
      since: row.since,
      summary: row.summary,
      ...(row.subcommands ? { subcommands: row.subcommands } : {}),
    };
    if ("exec" in row) {
      const flags: readonly CommandFlag[] = [...row.flags, "connection"];
      return { ...common, flags, firstKey: 0, lastKey: 0, step: 0, exec: row.exec, cluster: row.cluster ?? LOCAL };
    }
    const k = row.keys;
    return {
      ...common,
      flags: row.flags,
      firstKey: k?.first ?? 0,
      lastKey: k?.last ?? 0,
      step: k?.step ?? 0,
      run: row.run,
      ...(k?.find ? { keys: k.find } : {}),
      ...(row.keyFlags ? { keyFlags: row.keyFlags } : {}),
      ...(row.cluster ? { cluster: row.cluster } : {}),
      ...(row.completeReply ? { completeReply: row.completeReply } : {}),
      ...(row.resolve ? { resolve: row.resolve } : {}),
    };
  });
}

/** Subcommands from [name, arity] rows; a keyed one adds its key's position and key-spec flags. */
export function subcommands(rows: readonly (readonly [string, number] | readonly [string, number, number, string])[]) {
  return rows.map(
    ([name, arity, at, flags]): Subcommand =>
      at === undefined ? { name, arity } : { name, arity, key: { at, flags: flags! } },
  );
}
