import { expect, test } from "bun:test";
import { ProposalIds } from "../../src/keyspace/sessions.ts";

test("ack is the lowest sequence still in flight to the same group", () => {
  const ids = new ProposalIds("n1", 42);
  const a = ids.next(1);
  const b = ids.next(1);
  const c = ids.next(2);
  expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
  expect([a.ack, b.ack, c.ack]).toEqual([1, 1, 3]);
  ids.settle(1, b.seq);
  expect(ids.next(1).ack).toBe(1); // seq 1 is still unanswered
  ids.settle(1, a.seq);
  const e = ids.next(1);
  expect(e).toEqual({ node: "n1", session: 42, seq: 5, ack: 4 });
  ids.settle(1, 4);
  ids.settle(1, 5);
  expect(ids.next(1).ack).toBe(6);
});
