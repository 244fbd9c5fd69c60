// The command table: every command FlyDB knows, by lower-case name. Dispatch, arity checks,
// COMMAND INFO/DOCS and key extraction for routing all read it.
import { CLUSTER_COMMANDS } from "./cluster.ts";
import { CONNECTION_COMMANDS, SERVER_COMMANDS } from "./connection.ts";
import { KEY_COMMANDS } from "./keys.ts";
import { PARTITION_COMMANDS } from "./partition.ts";
import { STRING_COMMANDS } from "./strings.ts";
import type { CommandSpec } from "./types.ts";

function build(groups: readonly (readonly CommandSpec[])[]): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of groups.flat()) {
    if (table.has(spec.name)) throw new Error(`command ${spec.name} is defined twice`);
    table.set(spec.name, spec);
  }
  return table;
}

export const COMMANDS: ReadonlyMap<string, CommandSpec> = build([
  CONNECTION_COMMANDS,
  SERVER_COMMANDS,
  CLUSTER_COMMANDS,
  STRING_COMMANDS,
  KEY_COMMANDS,
  PARTITION_COMMANDS,
]);

export const isWrite = (spec: CommandSpec) => spec.flags.includes("write");
