import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isMessage, messageProblem } from "../../src/raft/message-check.ts";
import { MsgType } from "../../src/raft/types.ts";
import type { Message } from "../../src/raft/types.ts";

const app: Message = {
  type: MsgType.App,
  grp: 3,
  from: "a",
  to: "b",
  term: 4,
  index: 9,
  logTerm: 3,
  commit: 8,
  entries: [
    { index: 10, term: 4, kind: 0, data: new Uint8Array([1, 2]) },
    { index: 11, term: 4, kind: 2, data: null },
  ],
};
const snap: Message = {
  type: MsgType.Snap,
  grp: 3,
  from: "a",
  to: "b",
  term: 4,
  snap: {
    meta: { index: 50, term: 3, conf: { voters: ["a", "b"], learners: [] } },
    offset: 0,
    chunk: new Uint8Array(3),
    last: true,
  },
};

describe("messageProblem", () => {
  test("accepts well-formed messages (every message the simulator produces is checked too)", () => {
    expect(messageProblem(app)).toBeNull();
    expect(messageProblem(snap)).toBeNull();
    expect(isMessage({ type: MsgType.HeartbeatResp, grp: 0, from: "x", to: "y", term: 1, seq: 3, tick: -5 })).toBe(
      true,
    );
  });

  test("names what is wrong", () => {
    expect(messageProblem({ ...app, type: 99 })).toBe("unknown type 99");
    expect(messageProblem({ ...app, grp: -1 })).toBe("grp/term");
    expect(messageProblem({ ...app, to: 7 })).toBe("from/to");
    expect(messageProblem({ ...app, commit: 1.5 })).toBe("field commit");
    expect(messageProblem({ ...app, entries: [app.entries![1], app.entries![0]] })).toBe("entries not contiguous");
    expect(messageProblem({ ...app, entries: [{ index: 1, term: 1, kind: 5, data: null }] })).toBe("entry kind 5");
    expect(messageProblem({ ...app, entries: [{ index: 1, term: 1, kind: 0, data: "str" }] })).toBe("entry data");
    expect(messageProblem({ ...snap, snap: { ...snap.snap!, chunk: [1, 2] } })).toBe("snapshot chunk");
    expect(
      messageProblem({
        ...snap,
        snap: { ...snap.snap!, meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } } },
      }),
    ).toBe("snapshot conf member ids");
  });

  test("never throws on arbitrary input, and only accepts objects with a known type", () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true }), (x) => {
        const p = messageProblem(x);
        if (p === null) expect(Object.values(MsgType)).toContain((x as Message).type);
      }),
      { numRuns: 2000 },
    );
  });

  test("a field whose toString is not callable is reported, not thrown on (a fuzzing find)", () => {
    expect(messageProblem({ ...app, type: { toString: {} } })).toMatch(/unknown type object/);
  });

  test("mutating one field of a valid message to a random value never throws", () => {
    const keys = [
      "type",
      "grp",
      "from",
      "to",
      "term",
      "index",
      "logTerm",
      "commit",
      "entries",
      "snap",
      "reject",
      "ctx",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(app, snap),
        fc.constantFrom(...keys),
        fc.anything({ withTypedArray: true }),
        (base, k, v) => {
          expect(() => messageProblem({ ...base, [k]: v })).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
