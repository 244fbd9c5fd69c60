// A Wing–Gong / Lowe style linearizability checker (the algorithm behind Porcupine and Knossos'
// WGL), for histories recorded by cluster fault tests: each operation has an invocation time,
// a completion time (Infinity when the outcome is unknown: it may or may not have taken effect,
// at any time after its invocation), and the value it returned.
//
// Search: repeatedly pick an operation that could take effect next (its invocation precedes
// every pending completion), apply it to the model; backtrack on a mismatch. States already seen
// with the same set of linearized operations are cached, which keeps typical histories fast.

export interface Operation<I, O> {
  readonly client: number;
  readonly input: I;
  /** undefined for unknown outcomes (timeouts, crashes): such an op matches any output. */
  readonly output: O | undefined;
  readonly call: number;
  readonly ret: number; // Infinity when the outcome is unknown
}

export interface Model<S, I, O> {
  readonly init: S;
  /** The next state and whether `output` is what the model returns for `input` in `state`. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; next: S };
  key(state: S): string;
}

export interface CheckResult {
  readonly ok: boolean;
  /** Operations linearized in the longest prefix found (to point at the problem when !ok). */
  readonly longestPrefix: number;
  /** True when the search budget ran out: the history is neither proven right nor wrong. */
  readonly inconclusive: boolean;
}

export function checkLinearizable<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  budget = 5_000_000,
): CheckResult {
  const ops = [...history].sort((a, b) => a.call - b.call);
  const n = ops.length;
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  let longest = 0;
  let steps = 0;
  // Pointers to the first open op in call order and in completion order, so a step costs the
  // concurrency window rather than a scan of the whole history (histories run to tens of
  // thousands of ops per key in the fault tests).
  const byRet = [...ops.keys()].sort((a, b) => ops[a]!.ret - ops[b]!.ret);
  const retPos = new Int32Array(n);
  byRet.forEach((op, pos) => {
    retPos[op] = pos;
  });
  let firstOpen = 0;
  let firstOpenByRet = 0;
  const close = (i: number) => {
    done[i] = 1;
    while (firstOpen < n && done[firstOpen]) firstOpen++;
    while (firstOpenByRet < n && done[byRet[firstOpenByRet]!]) firstOpenByRet++;
  };
  const reopen = (i: number) => {
    done[i] = 0;
    if (i < firstOpen) firstOpen = i;
    if (retPos[i]! < firstOpenByRet) firstOpenByRet = retPos[i]!;
  };

  // Iterative DFS over (linearized set, model state).
  const stack: { state: S; tried: number; chosen: number }[] = [{ state: model.init, tried: -1, chosen: -1 }];
  let count = 0;
  while (stack.length > 0) {
    if (++steps > budget) return { ok: false, longestPrefix: longest, inconclusive: true };
    if (count === n) return { ok: true, longestPrefix: n, inconclusive: false };
    const top = stack[stack.length - 1]!;
    // The earliest completion among ops not yet linearized bounds which ops may go next.
    const minRet = firstOpenByRet < n ? ops[byRet[firstOpenByRet]!]!.ret : Infinity;
    let advanced = false;
    for (let i = Math.max(top.tried + 1, firstOpen); i < n; i++) {
      if (done[i]) continue;
      const op = ops[i]!;
      if (op.call > minRet) break; // sorted by call: nothing later can go first
      top.tried = i;
      const r = model.step(top.state, op.input, op.output);
      if (!r.ok) continue;
      close(i);
      const memo = `${bitsKey(done)}|${model.key(r.next)}`;
      if (seen.has(memo)) {
        reopen(i);
        continue;
      }
      seen.add(memo);
      count++;
      if (count > longest) longest = count;
      stack.push({ state: r.next, tried: -1, chosen: i });
      advanced = true;
      break;
    }
    if (!advanced) {
      const popped = stack.pop()!;
      if (popped.chosen >= 0) {
        reopen(popped.chosen);
        count--;
      }
    }
  }
  return { ok: false, longestPrefix: longest, inconclusive: false };
}

function bitsKey(bits: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bits.length; i += 16) {
    let v = 0;
    for (let j = 0; j < 16 && i + j < bits.length; j++) v |= bits[i + j]! << j;
    s += String.fromCharCode(v + 1);
  }
  return s;
}

/** GET/SET register: input {op:"get"} → output value|null; {op:"set", value} → output "OK". */
export type RegisterInput = { op: "get" } | { op: "set"; value: string };
export const registerModel: Model<string | null, RegisterInput, string | null> = {
  init: null,
  step(state, input, output) {
    if (input.op === "set") return { ok: output === undefined || output === "OK", next: input.value };
    return { ok: output === undefined || output === state, next: state };
  },
  key: (s) => (s === null ? "\u0000" : s),
};

/** INCR counter: input {op:"incr"} → the new value; {op:"get"} → current value. */
export type CounterInput = { op: "incr" } | { op: "get" };
export const counterModel: Model<number, CounterInput, number> = {
  init: 0,
  step(state, input, output) {
    if (input.op === "incr") return { ok: output === undefined || output === state + 1, next: state + 1 };
    return { ok: output === undefined || output === state, next: state };
  },
  key: (s) => String(s),
};

/** RPUSH/LRANGE list: input {op:"push", value} → new length; {op:"range"} → the whole list. */
export type ListInput = { op: "push"; value: string } | { op: "range" };
export const listModel: Model<readonly string[], ListInput, number | readonly string[]> = {
  init: [],
  step(state, input, output) {
    if (input.op === "push") {
      const next = [...state, input.value];
      return { ok: output === undefined || output === next.length, next };
    }
    const ok =
      output === undefined ||
      (Array.isArray(output) && output.length === state.length && output.every((v, i) => v === state[i]));
    return { ok, next: state };
  },
  key: (s) => s.join("\u0001"),
};
