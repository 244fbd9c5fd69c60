import type { CommandFlag, CommandFn, CommandSpec, SessionFn } from "./types.ts";

/**
 * One table row: name, arity, flags, first key, last key, step, since, summary, implementation,
 * and for commands with a key count argument the function that finds their keys.
 */
export type CommandRow =
  | readonly [string, number, readonly CommandFlag[], number, number, number, string, string, CommandFn]
  | readonly [string, number, readonly CommandFlag[], number, number, number, string, string, CommandFn, (argv: readonly Uint8Array[]) => Uint8Array[]];

export function define(group: string, rows: readonly CommandRow[]): CommandSpec[] {
  return rows.map(([name, arity, flags, firstKey, lastKey, step, since, summary, run, keys]) => ({
    name,
    arity,
    flags,
    firstKey,
    lastKey,
    step,
    group,
    since,
    summary,
    run,
    ...(keys ? { keys } : {}),
  }));
}

export type SessionRow = readonly [string, number, readonly CommandFlag[], string, string, SessionFn];

/** Connection and server commands take no keys. */
export function defineSession(group: string, rows: readonly SessionRow[]): CommandSpec[] {
  return rows.map(([name, arity, flags, since, summary, exec]) => ({
    name,
    arity,
    flags: [...flags, "connection"],
    firstKey: 0,
    lastKey: 0,
    step: 0,
    group,
    since,
    summary,
    exec,
  }));
}
