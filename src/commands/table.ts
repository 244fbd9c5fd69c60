// The command table: every command FlyDB knows, by lower-case name. Dispatch, arity checks,
// COMMAND INFO/DOCS and key extraction for routing all read it.
import { ACL_COMMANDS } from "./acl.ts";
import { BIT_COMMANDS } from "./bits.ts";
import { BLOCKING_COMMANDS } from "./blocking.ts";
import { CLUSTER_COMMANDS } from "./cluster.ts";
import { CONNECTION_COMMANDS } from "./connection.ts";
import { DATABASE_COMMANDS } from "./databases.ts";
import { SERVER_COMMANDS } from "./server.ts";
import { LIFECYCLE_COMMANDS } from "./lifecycle.ts";
import { MEMORY_COMMANDS } from "./memory.ts";
import { GEO_COMMANDS } from "./geo.ts";
import { DEBUG_COMMANDS } from "./debug.ts";
import { DUMP_COMMANDS } from "./dump.ts";
import { HASH_COMMANDS } from "./hash.ts";
import { HYPERLOGLOG_COMMANDS } from "./hyperloglog.ts";
import { KEY_COMMANDS } from "./keys.ts";
import { PARTITION_COMMANDS } from "./partition.ts";
import { PUBSUB_COMMANDS } from "./pubsub.ts";
import { LCS_COMMANDS } from "./lcs.ts";
import { LIST_COMMANDS } from "./list.ts";
import { OBJECT_COMMANDS } from "./object.ts";
import { REPLICATION_COMMANDS } from "./replication.ts";
import { FUNCTION_COMMANDS } from "./functions.ts";
import { KEYLESS_SCRIPT_COMMANDS } from "./keyless-scripts.ts";
import { SCRIPTING_COMMANDS } from "./scripting.ts";
import { SERVER_MISC_COMMANDS } from "./server-misc.ts";
import { SET_COMMANDS } from "./set.ts";
import { SORT_COMMANDS } from "./sort.ts";
import { TRANSACTION_COMMANDS } from "./transactions.ts";
import { STRING_COMMANDS } from "./strings.ts";
import { STREAM_COMMANDS } from "./stream.ts";
import { STREAM_GROUP_COMMANDS } from "./stream-groups.ts";
import type { CommandSpec } from "./types.ts";
import { ZSET_COMMANDS } from "./zset.ts";
import { ZSET_ALGEBRA_COMMANDS } from "./zset-algebra.ts";

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
  BIT_COMMANDS,
  LCS_COMMANDS,
  KEY_COMMANDS,
  DATABASE_COMMANDS,
  PARTITION_COMMANDS,
  PUBSUB_COMMANDS,
  HASH_COMMANDS,
  LIST_COMMANDS,
  BLOCKING_COMMANDS,
  SET_COMMANDS,
  ZSET_COMMANDS,
  GEO_COMMANDS,
  HYPERLOGLOG_COMMANDS,
  ZSET_ALGEBRA_COMMANDS,
  STREAM_COMMANDS,
  STREAM_GROUP_COMMANDS,
  SORT_COMMANDS,
  TRANSACTION_COMMANDS,
  OBJECT_COMMANDS,
  DUMP_COMMANDS,
  LIFECYCLE_COMMANDS,
  MEMORY_COMMANDS,
  REPLICATION_COMMANDS,
  SERVER_MISC_COMMANDS,
  DEBUG_COMMANDS,
  SCRIPTING_COMMANDS,
  FUNCTION_COMMANDS,
  KEYLESS_SCRIPT_COMMANDS,
  ACL_COMMANDS,
]);

export const isWrite = (spec: CommandSpec) => spec.flags.includes("write");
