import { describe, expect, test } from "bun:test";
import {
  groupOf,
  isClusterGroup,
  isPartitionGroup,
  META_GROUP,
  partitionOfGroup,
  STANDALONE_GROUP,
} from "../../src/keyspace/groups.ts";

describe("raft group numbering", () => {
  test("partition groups follow the metadata group and map back to their partition", () => {
    expect(groupOf(0)).not.toBe(META_GROUP);
    for (const p of [0, 1, 15]) expect(partitionOfGroup(groupOf(p))).toBe(p);
  });

  test("the groups of a cluster are the metadata group and one group per partition", () => {
    const groups = [-2, STANDALONE_GROUP, META_GROUP, groupOf(0), groupOf(3), groupOf(4), 1.5];
    expect(groups.filter((g) => isPartitionGroup(g, 4))).toEqual([groupOf(0), groupOf(3)]);
    expect(groups.filter((g) => isClusterGroup(g, 4))).toEqual([META_GROUP, groupOf(0), groupOf(3)]);
  });
});
