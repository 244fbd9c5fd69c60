// The metadata state machine of group 0 (docs/design/cluster.md): cluster settings, members with their
// addresses and zones, and the partition map. Pure and deterministic like every apply.
import type { PartitionMap } from "./placement.ts";

export interface MemberAddrs {
  /** host:port of each service, as other nodes and clients reach it. */
  readonly resp: string;
  readonly http: string;
  readonly raft: string;
  readonly gossip: string;
}

export interface MemberInfo {
  readonly id: string;
  readonly zone: string;
  readonly addrs: MemberAddrs;
  readonly version: string;
  /** The data dir it runs on (MemberMeta.dataDirId in src/gossip/core/types.ts); absent from older versions. */
  readonly dataDirId?: string;
}

export interface MetaState {
  readonly clusterId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly members: Readonly<Record<string, MemberInfo>>;
  /** Target replicas per partition (index = partition; first = preferred leader). */
  readonly map: PartitionMap;
  /** Bumped on every map change, so routers can tell a stale view from a fresh one. */
  readonly mapVersion: number;
  /**
   * Members leaving gracefully (POST /cluster/leave): placement gives them no replicas and group 0
   * no votes, so their replicas move away before they go. Sorted. Absent in state persisted by
   * older versions: read it through `drainingOf`.
   */
  readonly draining?: readonly string[];
  /**
   * The ACL users other than `default` (which is per node: requirepass), as aclfile lines, so one
   * ACL SETUSER holds on every node (src/server/security.ts). Absent: none yet.
   */
  readonly aclUsers?: readonly string[];
  /** Bumped by every "acl" op: a change computed from an older list is refused (compare-and-set). */
  readonly aclVersion?: number;
  /**
   * Per node id, the data dir ids (incarnations) that POST /cluster/remove retired: the removed
   * member's and those of refused starts on wiped data dirs that gossip still showed. None is ever
   * admitted again, so a stale gossip view of one cannot take the id from the node's next start
   * (a data dir without Raft state gets a new id at every start: src/node-identity.ts). The last
   * RETIRED_PER_ID per id. Absent in state persisted by older versions: read it through `retiredOf`.
   */
  readonly retired?: Readonly<Record<string, readonly string[]>>;
}

export type MetaOp =
  /** The cluster's founding metadata (entry 2 of group 0, written by the node that bootstraps). */
  | {
      readonly t: "init";
      readonly clusterId: string;
      readonly partitionCount: number;
      readonly replicationFactor: number;
      readonly members: readonly MemberInfo[];
      readonly map: PartitionMap;
    }
  | { readonly t: "member"; readonly member: MemberInfo }
  /**
   * `retire` (POST /cluster/remove; the controller's removals carry none, so a node that left or
   * was dead long enough rejoins on its data dir): the member's data dir id is retired with these.
   */
  | { readonly t: "remove"; readonly id: string; readonly retire?: readonly string[] }
  | { readonly t: "map"; readonly map: PartitionMap; readonly ifVersion: number }
  | { readonly t: "drain"; readonly id: string; readonly draining: boolean }
  | { readonly t: "acl"; readonly users: readonly string[]; readonly ifVersion: number };

export const EMPTY_META: MetaState = {
  clusterId: "",
  partitionCount: 0,
  replicationFactor: 0,
  members: {},
  map: [],
  mapVersion: 0,
  draining: [],
};

export const drainingOf = (s: MetaState): readonly string[] => s.draining ?? [];

/** Enough for every refused start an operator makes before removing the member. */
export const RETIRED_PER_ID = 16;

export const retiredOf = (s: MetaState, id: string): readonly string[] => s.retired?.[id] ?? [];

/** Members that may hold replicas and vote in group 0: every member not draining. */
export function placeableMembers(s: MetaState): MemberInfo[] {
  const draining = drainingOf(s);
  return Object.values(s.members).filter((m) => !draining.includes(m.id));
}

export type MetaResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

export function applyMeta(s: MetaState, op: MetaOp): { state: MetaState; result: MetaResult } {
  switch (op.t) {
    case "init":
      if (s.clusterId !== "")
        return { state: s, result: { ok: false, error: `cluster ${s.clusterId} is already initialised` } };
      return {
        state: {
          ...s,
          clusterId: op.clusterId,
          partitionCount: op.partitionCount,
          replicationFactor: op.replicationFactor,
          members: Object.fromEntries(op.members.map((m) => [m.id, m])),
          map: op.map,
          mapVersion: 1,
        },
        result: { ok: true },
      };
    case "member":
      return { state: { ...s, members: { ...s.members, [op.member.id]: op.member } }, result: { ok: true } };
    case "remove": {
      if (!(op.id in s.members)) return { state: s, result: { ok: false, error: `no member ${op.id}` } };
      const members = { ...s.members };
      delete members[op.id];
      const state = { ...s, members, draining: drainingOf(s).filter((id) => id !== op.id) };
      if (op.retire === undefined) return { state, result: { ok: true } };
      const own = s.members[op.id]!.dataDirId;
      const ids = [...retiredOf(s, op.id), ...(own === undefined ? [] : [own]), ...op.retire];
      const kept = ids.filter((d, i) => ids.indexOf(d) === i).slice(-RETIRED_PER_ID);
      return { state: { ...state, retired: { ...s.retired, [op.id]: kept } }, result: { ok: true } };
    }
    case "map":
      // Compare-and-set: a controller that computed its map from an old view must not win.
      if (op.ifVersion !== s.mapVersion) {
        return { state: s, result: { ok: false, error: `map version is ${s.mapVersion}, not ${op.ifVersion}` } };
      }
      if (op.map.length !== s.partitionCount) {
        return {
          state: s,
          result: { ok: false, error: `map has ${op.map.length} partitions, cluster has ${s.partitionCount}` },
        };
      }
      return { state: { ...s, map: op.map, mapVersion: s.mapVersion + 1 }, result: { ok: true } };
    case "drain": {
      if (!(op.id in s.members)) return { state: s, result: { ok: false, error: `no member ${op.id}` } };
      const others = drainingOf(s).filter((id) => id !== op.id);
      if (!op.draining) return { state: { ...s, draining: others }, result: { ok: true } };
      // Someone must stay to hold the data.
      if (Object.keys(s.members).every((id) => id === op.id || others.includes(id))) {
        return {
          state: s,
          result: { ok: false, error: `${op.id} is the last member not leaving; add a node before draining it` },
        };
      }
      return { state: { ...s, draining: [...others, op.id].sort() }, result: { ok: true } };
    }
    case "acl": {
      const version = s.aclVersion ?? 0;
      if (op.ifVersion !== version) {
        return { state: s, result: { ok: false, error: `${ACL_VERSION_CHANGED} (${version}, not ${op.ifVersion})` } };
      }
      return { state: { ...s, aclUsers: op.users, aclVersion: version + 1 }, result: { ok: true } };
    }
  }
}

/** How an "acl" op computed from an older user list fails: the proposer redoes its change on the newer one. */
export const ACL_VERSION_CHANGED = "the ACL users changed meanwhile";

/** Group 0's voters: up to `max` members not draining, the current leader first so it stays. */
export function metaVoters(s: MetaState, leader: string, max: number): string[] {
  const ids = placeableMembers(s)
    .map((m) => m.id)
    .sort();
  return [...ids.filter((id) => id === leader), ...ids.filter((id) => id !== leader)].slice(0, max);
}
