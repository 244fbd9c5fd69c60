import type { CommandFlag, CommandFn, CommandSpec, SessionFn } from "./types.ts";

/** One table row: name, arity, flags, first key, last key, step, since, summary, implementation. */
export type CommandRow = readonly [string, number, readonly CommandFlag[], number, number, number, string, string, CommandFn];

export function define(group: string, rows: readonly CommandRow[]): CommandSpec[] {
  return rows.map(([name, arity, flags, firstKey, lastKey, step, since, summary, run]) => ({
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
