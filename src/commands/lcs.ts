// LCS: the longest common subsequence of two strings, with Redis 7.0's options, reply shapes
// and the ranges it reports (see lcsCommand in src/t_string.c of redis 7.0).
import { array, bulk, err, int, map, type Reply } from "../resp/reply.ts";
import { ONE_SLOT } from "./cluster-policy.ts";
import { define } from "./define.ts";
import { MAX_STRING } from "./strings.ts";
import { WRONG_TYPE, type CommandContext } from "./types.ts";
import { E, lower, parseInt64 } from "./util.ts";

interface LcsOptions {
  len: boolean;
  idx: boolean;
  withMatchLen: boolean;
  minMatchLen: number;
}

function parseOptions(argv: readonly Uint8Array[]): LcsOptions | Reply {
  const o: LcsOptions = { len: false, idx: false, withMatchLen: false, minMatchLen: 0 };
  for (let j = 3; j < argv.length; j++) {
    const opt = lower(argv[j]!);
    if (opt === "idx") o.idx = true;
    else if (opt === "len") o.len = true;
    else if (opt === "withmatchlen") o.withMatchLen = true;
    else if (opt === "minmatchlen" && j + 1 < argv.length) {
      const v = parseInt64(argv[++j]!);
      if (v === undefined) return E.notInt;
      o.minMatchLen = v < 0n ? 0 : Number(v);
    } else return E.syntax;
  }
  if (o.len && o.idx) return err("ERR If you want both the length and indexes, please just use IDX.");
  return o;
}

/** One matching run, as IDX reports it: inclusive ranges in a and in b. */
interface Match {
  readonly a: readonly [number, number];
  readonly b: readonly [number, number];
}

/**
 * The classic dynamic-programming table, walked back from the end. Runs are collected from the
 * end of the strings towards the start, which is the order Redis reports them in.
 */
export function lcs(a: Uint8Array, b: Uint8Array): { text: Uint8Array; matches: Match[] } {
  const w = b.length + 1;
  const t = new Uint32Array((a.length + 1) * w);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const up = t[(i - 1) * w + j]!;
      const left = t[i * w + j - 1]!;
      t[i * w + j] = a[i - 1] === b[j - 1] ? t[(i - 1) * w + j - 1]! + 1 : Math.max(up, left);
    }
  }
  let k = t[a.length * w + b.length]!;
  const text = new Uint8Array(k);
  const matches: Match[] = [];
  let run: { a0: number; a1: number; b0: number; b1: number } | undefined;
  let i = a.length;
  let j = b.length;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      text[--k] = a[i - 1]!;
      if (!run) run = { a0: i - 1, a1: i - 1, b0: j - 1, b1: j - 1 };
      else if (run.a0 === i && run.b0 === j) {
        run.a0--;
        run.b0--;
      } else emit = true;
      // A run that reached the start of either string ends here: the loop stops after this step.
      if (run.a0 === 0 || run.b0 === 0) emit = true;
      i--;
      j--;
    } else {
      if (t[(i - 1) * w + j]! > t[i * w + j - 1]!) i--;
      else j--;
      if (run) emit = true;
    }
    if (emit && run) {
      matches.push({ a: [run.a0, run.a1], b: [run.b0, run.b1] });
      run = undefined;
    }
  }
  return { text, matches };
}

function lcsCommand(ctx: CommandContext, argv: readonly Uint8Array[]): Reply {
  const values: Uint8Array[] = [];
  for (const key of [argv[1]!, argv[2]!]) {
    const v = ctx.db.getString(key, ctx.now);
    if (v === WRONG_TYPE) return err("ERR The specified keys must contain string values");
    values.push(v ?? new Uint8Array(0));
  }
  const o = parseOptions(argv);
  if ("t" in o) return o;
  const [a, b] = values as [Uint8Array, Uint8Array];
  // Redis refuses a table larger than proto-max-bulk-len rather than risk the allocation.
  if ((a.length + 1) * (b.length + 1) * 4 > MAX_STRING) {
    return err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  const r = lcs(a, b);
  if (o.len) return int(r.text.length);
  if (!o.idx) return bulk(r.text);
  const shown = r.matches.filter((m) => m.a[1] - m.a[0] + 1 >= o.minMatchLen);
  const matches = shown.map((m) =>
    array([array(m.a.map(int)), array(m.b.map(int)), ...(o.withMatchLen ? [int(m.a[1] - m.a[0] + 1)] : [])]),
  );
  return map([
    [bulk("matches"), array(matches)],
    [bulk("len"), int(r.text.length)],
  ]);
}

export const LCS_COMMANDS = define("string", [
  {
    name: "lcs",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 2, step: 1 },
    since: "7.0.0",
    summary: "Finds the longest common substring.",
    run: lcsCommand,
    cluster: ONE_SLOT,
  },
]);
