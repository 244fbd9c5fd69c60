// Raft group numbers, one numbering for the standalone store and the cluster: raft.db and data.db
// key their rows by group, so a data dir keeps meaning the same thing whichever mode wrote it.

/**
 * The log group of a standalone node. Negative so it can never be mistaken for the metadata group
 * or a partition's group when a cluster later opens the same data_dir.
 */
export const STANDALONE_GROUP = -1;

/** The cluster's metadata group: members, settings and the partition map (cluster/core/meta.ts). */
export const META_GROUP = 0;

/** The group replicating partition `partition` (0-based). */
export const groupOf = (partition: number): number => partition + 1;

/** The partition a partition group replicates; only meaningful when isPartitionGroup(grp) holds. */
export const partitionOfGroup = (grp: number): number => grp - 1;

export function isPartitionGroup(grp: number, partitionCount: number): boolean {
  return Number.isInteger(grp) && grp >= groupOf(0) && grp <= groupOf(partitionCount - 1);
}

/** The metadata group or one of the partition groups of a cluster with `partitionCount` partitions. */
export function isClusterGroup(grp: number, partitionCount: number): boolean {
  return grp === META_GROUP || isPartitionGroup(grp, partitionCount);
}
