// Coalesced heartbeats on the wire: what coalesceHeartbeats makes of a turn's messages, that the
// receiver gets the very same Messages back through msgpack, that it is much smaller than the
// messages it replaces, and that anything else arriving on the Raft port is refused with a reason.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Packr } from "msgpackr";
import {
  coalesceHeartbeats,
  heartbeatBatchProblem,
  raftMessagesOf,
  type HeartbeatBatch,
} from "../../src/cluster/core/heartbeats.ts";
import { MsgType, type Message } from "../../src/raft/types.ts";

// The transport's encoding.
const packr = new Packr({ useRecords: false, moreTypes: false });
const wire = <T>(x: T): unknown => packr.unpack(packr.pack(x));

const beat = (grp: number, to: string, commit = 1000 + grp): Message => ({
  type: MsgType.Heartbeat,
  grp,
  from: "n1",
  to,
  term: 7,
  commit,
  seq: 40 + grp,
  tick: 123_456,
});
const ack = (grp: number, to: string): Message => ({
  type: MsgType.HeartbeatResp,
  grp,
  from: "n1",
  to,
  term: 7,
  seq: 40 + grp,
  tick: -3,
});
const app: Message = {
  type: MsgType.App,
  grp: 2,
  from: "n1",
  to: "n2",
  term: 7,
  index: 5,
  logTerm: 7,
  commit: 5,
  entries: [],
};

describe("coalesceHeartbeats", () => {
  test("one batch per destination with every heartbeat and response for it; other messages pass as they are", () => {
    const msgs = [beat(1, "n2"), app, beat(2, "n3"), ack(3, "n2"), beat(4, "n2")];
    const { messages, batches } = coalesceHeartbeats(msgs, new Set([2, 3]));
    expect(messages).toEqual([app]);
    // Group 3's response is not a heartbeat: only group 2's beat carries the quiet mark.
    expect(batches).toEqual([
      {
        from: "n1",
        to: "n2",
        beats: [1, 7, 1001, 41, 123_456, 4, 7, 1004, 44, 123_456],
        acks: [3, 7, 43, -3],
        quiet: [],
      },
      { from: "n1", to: "n3", beats: [2, 7, 1002, 42, 123_456], acks: [], quiet: [2] },
    ]);
  });

  test("through msgpack, a batch expands to exactly the heartbeats it replaced", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.boolean(),
            grp: fc.nat(300),
            to: fc.constantFrom("n2", "n3"),
            term: fc.nat(),
            commit: fc.nat(),
            seq: fc.nat(),
            tick: fc.integer(),
          }),
          { maxLength: 40 },
        ),
        (specs) => {
          const msgs: Message[] = specs.map((s) =>
            s.kind
              ? {
                  type: MsgType.Heartbeat,
                  grp: s.grp,
                  from: "n1",
                  to: s.to,
                  term: s.term,
                  commit: s.commit,
                  seq: s.seq,
                  tick: s.tick,
                }
              : {
                  type: MsgType.HeartbeatResp,
                  grp: s.grp,
                  from: "n1",
                  to: s.to,
                  term: s.term,
                  seq: s.seq,
                  tick: s.tick,
                },
          );
          const { messages, batches } = coalesceHeartbeats(msgs);
          expect(messages).toEqual([]);
          const back = batches.flatMap((b) => {
            const r = raftMessagesOf(wire(b));
            if ("problem" in r) throw new Error(r.problem);
            return r.messages;
          });
          // Per destination, heartbeats then responses, each in sending order.
          const order = (m: Message) => [m.to, m.type === MsgType.Heartbeat ? 0 : 1];
          const expected = [...msgs].sort((x, y) => String(order(x)).localeCompare(String(order(y))));
          expect(back.sort((x, y) => String(order(x)).localeCompare(String(order(y))))).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a batch for 256 groups is a fraction of the size of the 256 messages it replaces", () => {
    const msgs = Array.from({ length: 256 }, (_, g) => beat(g + 1, "n2", 50_000 + g));
    const separate = packr.pack(msgs).length;
    const batched = packr.pack(coalesceHeartbeats(msgs).batches).length;
    expect(batched * 4).toBeLessThan(separate);
  });
});

describe("raftMessagesOf: what arrives on the Raft port", () => {
  test("a Message passes as itself", () => {
    expect(raftMessagesOf(wire(app))).toEqual({ messages: [app], quiet: new Set() });
    const b = coalesceHeartbeats([beat(5, "n2"), beat(6, "n2")], new Set([6])).batches[0];
    expect(raftMessagesOf(wire(b))).toEqual({ messages: [beat(5, "n2"), beat(6, "n2")], quiet: new Set([6]) });
  });

  test("malformed batches and messages are refused with a reason", () => {
    const good: HeartbeatBatch = { from: "n1", to: "n2", beats: [1, 7, 9, 1, 5], acks: [], quiet: [1] };
    expect(heartbeatBatchProblem(good)).toBeNull();
    expect(raftMessagesOf({ ...good, beats: [1, 7, 9, 1] })).toEqual({
      problem: "heartbeat batch: beats has 4 numbers, not a multiple of 5",
    });
    expect(raftMessagesOf({ ...good, beats: [1, -7, 9, 1, 5] })).toEqual({
      problem: "heartbeat batch: beats[1] is not a non-negative safe integer",
    });
    expect(raftMessagesOf({ ...good, beats: [1, 7, 9, 1, 0.5] })).toEqual({
      problem: "heartbeat batch: beats[4] is not a safe integer",
    });
    expect(raftMessagesOf({ ...good, acks: undefined })).toEqual({ problem: "heartbeat batch: acks is not an array" });
    expect(raftMessagesOf({ ...good, from: 3 })).toEqual({ problem: "heartbeat batch: from/to" });
    expect(raftMessagesOf({ ...good, beats: "x" })).toEqual({ problem: "heartbeat batch: beats is not an array" });
    expect(raftMessagesOf({ ...good, quiet: [1, "2"] })).toEqual({
      problem: "heartbeat batch: quiet is not an array of group ids",
    });
    expect(raftMessagesOf({ ...good, quiet: undefined })).toEqual({
      problem: "heartbeat batch: quiet is not an array of group ids",
    });
    expect(raftMessagesOf("GET / HTTP/1.1")).toEqual({ problem: "raft message: not an object" });
    expect(raftMessagesOf({ ...app, type: 99 })).toEqual({ problem: "raft message: unknown type 99" });
  });

  test("never throws, whatever a frame decodes to", () => {
    const hostile = {
      toString: () => {
        throw new Error("boom");
      },
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            { from: fc.anything(), to: fc.anything(), beats: fc.anything(), acks: fc.anything(), quiet: fc.anything() },
            { requiredKeys: ["beats"] },
          ),
          fc.record({
            from: fc.constant("a"),
            to: fc.constant("b"),
            beats: fc.array(fc.oneof(fc.integer(), fc.double(), fc.constant(hostile))),
            acks: fc.array(fc.integer()),
            quiet: fc.array(fc.oneof(fc.integer(), fc.constant(hostile))),
          }),
        ),
        (x) => {
          const r = raftMessagesOf(x);
          if ("messages" in r) for (const m of r.messages) expect(typeof m.grp).toBe("number");
          else expect(r.problem.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
