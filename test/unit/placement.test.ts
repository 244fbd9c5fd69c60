import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { place, planMoves, type PlacementMember } from "../../src/cluster/core/placement.ts";

const members = (n: number, zones = 1): PlacementMember[] =>
  Array.from({ length: n }, (_, i) => ({ id: `n${String(i).padStart(2, "0")}`, zone: `z${i % zones}` }));

function loads(map: string[][]) {
  const c = new Map<string, number>();
  for (const r of map) for (const id of r) c.set(id, (c.get(id) ?? 0) + 1);
  return c;
}

describe("placement", () => {
  test("every partition gets min(rf, nodes) distinct replicas", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(1, 4, 16, 64),
        (n, rf, parts) => {
          const map = place({ members: members(n), partitionCount: parts, replicationFactor: rf });
          expect(map.length).toBe(parts);
          for (const r of map) {
            expect(r.length).toBe(Math.min(rf, n));
            expect(new Set(r).size).toBe(r.length);
          }
        },
      ),
    );
  });

  test("replica counts differ by at most one across nodes, from scratch and after a node joins", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }), (n, rf) => {
        const first = place({ members: members(n), partitionCount: 64, replicationFactor: rf });
        const after = place({ members: members(n + 1), partitionCount: 64, replicationFactor: rf, current: first });
        for (const map of [first, after]) {
          const l = [...loads(map).values()];
          expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  test("a balanced map is left as it is", () => {
    const map = place({ members: members(5), partitionCount: 32, replicationFactor: 3 });
    expect(place({ members: members(5), partitionCount: 32, replicationFactor: 3, current: map })).toEqual(map);
  });

  test("adding a fourth node moves about a quarter of the replicas, not all", () => {
    const before = place({ members: members(3), partitionCount: 256, replicationFactor: 3 });
    const after = place({ members: members(4), partitionCount: 256, replicationFactor: 3, current: before });
    let moved = 0;
    after.forEach((r, p) => {
      moved += r.filter((id) => !before[p]!.includes(id)).length;
    });
    expect(moved).toBe(192); // 768 replicas / 4 nodes: the new node takes its share and no more
    expect(loads(after).get("n03")).toBe(192);
  });

  test("replicas of a node that left are re-placed on the others", () => {
    const before = place({ members: members(4), partitionCount: 16, replicationFactor: 3 });
    const after = place({
      members: members(4).filter((m) => m.id !== "n01"),
      partitionCount: 16,
      replicationFactor: 3,
      current: before,
    });
    for (const r of after) {
      expect(r).not.toContain("n01");
      expect(r.length).toBe(3);
    }
  });

  test("replicas spread across zones when there are enough zones", () => {
    const map = place({ members: members(6, 3), partitionCount: 64, replicationFactor: 3 });
    const zone = (id: string) => `z${Number(id.slice(1)) % 3}`;
    for (const r of map) expect(new Set(r.map(zone)).size).toBe(3);
  });

  test("preferred leaders (first replica) spread evenly", () => {
    const map = place({ members: members(4), partitionCount: 64, replicationFactor: 3 });
    const leads = new Map<string, number>();
    for (const r of map) leads.set(r[0]!, (leads.get(r[0]!) ?? 0) + 1);
    expect([...leads.values()].sort()).toEqual([16, 16, 16, 16]);
  });

  test("moves add a learner, promote it, and only then remove the old replica", () => {
    const steps = planMoves([["a", "b", "c"]], [["a", "b", "d"]]);
    expect(steps[0]).toEqual([
      { kind: "addLearner", partition: 0, node: "d" },
      { kind: "promote", partition: 0, node: "d" },
      { kind: "remove", partition: 0, node: "c" },
    ]);
  });
});
