// The operator's log lines about the cluster (src/cluster/core/cluster-events.ts): one per
// membership change, a throttled leader balance, rebalancing start/progress/end.
import { describe, expect, test } from "bun:test";
import {
  BALANCE_EVERY_MS,
  ClusterEventLog,
  type ClusterSnapshot,
  PROGRESS_EVERY_MS,
} from "../../src/cluster/core/cluster-events.ts";
import type { MemberState } from "../../src/gossip/core/types.ts";

const snap = (at: number, over: Partial<ClusterSnapshot> = {}): ClusterSnapshot => ({
  at,
  gossip: new Map<string, MemberState>([
    ["n2", "alive"],
    ["n3", "alive"],
  ]),
  members: ["n1", "n2", "n3"],
  draining: [],
  moving: 0,
  deadNodeTimeoutMs: 300_000,
  ...over,
});
const gossip = (n2: MemberState, n3: MemberState = "alive") =>
  new Map<string, MemberState>([
    ["n2", n2],
    ["n3", n3],
  ]);
const msgs = (events: { msg: string }[]) => events.map((e) => e.msg);

describe("membership", () => {
  test("the first snapshot is a baseline; each change after it is one line", () => {
    const log = new ClusterEventLog();
    expect(log.observe(snap(0))).toEqual([]);
    expect(log.observe(snap(2000))).toEqual([]);
    const suspect = log.observe(snap(4000, { gossip: gossip("suspect") }));
    expect(suspect).toEqual([
      { level: "info", msg: "member is suspected: it missed its probes", fields: { member: "n2", was: "alive" } },
    ]);
    const [dead] = log.observe(snap(6000, { gossip: gossip("dead") }));
    expect(dead).toMatchObject({ level: "warn", msg: "member is dead", fields: { member: "n2", was: "suspect" } });
    expect(String(dead!.fields.action)).toContain("dead_node_timeout (300s)");
    expect(String(dead!.fields.action)).toContain("flydb remove n2");
    expect(msgs(log.observe(snap(8000, { gossip: gossip("alive") })))).toEqual(["member is alive"]);
    expect(log.observe(snap(9000, { gossip: gossip("alive") }))).toEqual([]);
    expect(msgs(log.observe(snap(10_000, { gossip: gossip("alive", "left") })))).toEqual(["member left"]);
  });

  test("a node new to gossip appears once; admission, removal and draining come from the metadata", () => {
    const log = new ClusterEventLog();
    log.observe(snap(0));
    const withN4 = new Map<string, MemberState>([...gossip("alive"), ["n4", "alive"]]);
    expect(msgs(log.observe(snap(1, { gossip: withN4 })))).toEqual(["member appeared"]);
    const admitted = log.observe(snap(2, { gossip: withN4, members: ["n1", "n2", "n3", "n4"] }));
    expect(admitted).toEqual([{ level: "info", msg: "member admitted", fields: { member: "n4", members: 4 } }]);
    const draining = log.observe(snap(3, { gossip: withN4, members: ["n1", "n2", "n3", "n4"], draining: ["n2"] }));
    expect(msgs(draining)).toEqual(["member is draining: its replicas move away before it leaves"]);
    const removed = log.observe(snap(4, { gossip: withN4, members: ["n1", "n3", "n4"] }));
    expect(removed).toEqual([{ level: "info", msg: "member removed", fields: { member: "n2", members: 3 } }]);
  });

  test("a node that learns its cluster (founded or joined) names the members once, not one line each", () => {
    const log = new ClusterEventLog();
    log.observe(snap(0, { members: [] }));
    expect(log.observe(snap(1))).toEqual([
      { level: "info", msg: "member of the cluster", fields: { members: "n1,n2,n3" } },
    ]);
  });
});

describe("leader balance", () => {
  test("written when it changes, at most once per interval, warning while partitions are leaderless", () => {
    const log = new ClusterEventLog();
    const first = log.observe(snap(0, { leaders: { n1: 16, n2: 0, n3: 0 }, leaderless: 0 }));
    expect(first).toEqual([
      { level: "info", msg: "leader balance", fields: { leaders: "n1=16 n2=0 n3=0", leaderless: 0 } },
    ]);
    // Changed, but too soon: held back; the same balance is never repeated.
    expect(log.observe(snap(1000, { leaders: { n1: 6, n2: 5, n3: 5 }, leaderless: 0 }))).toEqual([]);
    const later = log.observe(snap(BALANCE_EVERY_MS, { leaders: { n3: 5, n1: 6, n2: 5 }, leaderless: 0 }));
    expect(later.map((e) => e.fields.leaders)).toEqual(["n1=6 n2=5 n3=5"]);
    expect(log.observe(snap(3 * BALANCE_EVERY_MS, { leaders: { n1: 6, n2: 5, n3: 5 }, leaderless: 0 }))).toEqual([]);
    const lost = log.observe(snap(4 * BALANCE_EVERY_MS, { leaders: { n1: 6, n2: 0, n3: 5 }, leaderless: 5 }));
    expect(lost).toEqual([
      { level: "warn", msg: "leader balance", fields: { leaders: "n1=6 n2=0 n3=5", leaderless: 5 } },
    ]);
  });

  test("nodes that do not summarise (no leaders in the snapshot) write none", () => {
    const log = new ClusterEventLog();
    expect(log.observe(snap(0))).toEqual([]);
    expect(log.observe(snap(BALANCE_EVERY_MS * 2))).toEqual([]);
  });
});

describe("rebalancing", () => {
  test("start, throttled progress against the most partitions seen moving at once, and the end with its duration", () => {
    const log = new ClusterEventLog();
    log.observe(snap(0));
    expect(log.observe(snap(1000, { moving: 8 }))).toEqual([
      { level: "info", msg: "rebalancing started", fields: { partitions: 8 } },
    ]);
    expect(log.observe(snap(2000, { moving: 10 }))).toEqual([]);
    expect(log.observe(snap(1000 + PROGRESS_EVERY_MS, { moving: 4 }))).toEqual([
      { level: "info", msg: "rebalancing", fields: { moved: 6, of: 10 } },
    ]);
    expect(log.observe(snap(2000 + PROGRESS_EVERY_MS, { moving: 2 }))).toEqual([]);
    expect(log.observe(snap(13_500, { moving: 0 }))).toEqual([
      { level: "info", msg: "rebalancing finished", fields: { partitions: 10, seconds: 12.5 } },
    ]);
    expect(log.observe(snap(20_000, { moving: 0 }))).toEqual([]);
  });
});
