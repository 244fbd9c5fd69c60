// The check a member runs for other clusters under its own cluster id (docs/design/formation.md):
// clusters never merge, so one founded apart (e.g. bootstrap = true on two nodes) can only be
// reported, loudly and on /cluster/status and /metrics, for an operator to resolve. Kept apart
// from src/cluster/formation.ts, which runs it, because it concerns a member, not a forming node.
import type { DiscoveredNode } from "../discovery/index.ts";
import type { MemberView } from "../gossip/index.ts";
import type { Logger } from "../log.ts";
import { type FormationReport, foreignClusterNodes } from "./core/formation.ts";
import type { MetaState } from "./core/meta.ts";
import { discoveredToFound, type FoundNode } from "./found-node.ts";

/** A node on this node's link holding another cluster with the same cluster id. */
export interface ForeignClusterNode {
  readonly nodeId: string;
  /** The members its cluster knows. */
  readonly members: readonly string[];
  /** Milliseconds since the epoch when this node first saw it. */
  readonly since: number;
}

/** How often a member looks for another cluster under its cluster id, and repeats the error while one is there. */
export const FOREIGN_CHECK_MS = 5_000;
const FOREIGN_LOG_MS = 60_000;

/** What the check needs of formation: this node's view and a probe that drops nodes that do not answer. */
export interface ForeignCheckDeps {
  readonly log: Logger;
  meta(): MetaState;
  gossipMembers(): readonly MemberView[];
  /** One full mDNS browse when discovery is on (FormationOptions.browse). */
  readonly browse?: (stopWhen: (found: number) => boolean) => Promise<DiscoveredNode[]>;
  /** This node's answer to a formation probe: its cluster id and the identities its cluster counts. */
  report(): FormationReport;
  probe(nodes: readonly FoundNode[]): Promise<FormationReport[]>;
}

export interface ForeignClusters {
  /** Probes the nodes outside the cluster once and updates what list() returns. */
  check(): Promise<void>;
  /** Other clusters under this cluster's id seen in the last check. */
  list(): readonly ForeignClusterNode[];
}

/**
 * Probes the nodes gossip or mDNS show that are not members of this cluster; one that holds
 * another cluster under the same id in two checks in a row is reported (log, list()).
 */
export function foreignClusters(d: ForeignCheckDeps): ForeignClusters {
  const { log } = d;
  let foreign = new Map<string, ForeignClusterNode>();
  let suspects = new Set<string>();
  let loggedAt = 0;
  const check = async (): Promise<void> => {
    const members = d.meta().members;
    const outside = new Map<string, FoundNode>();
    for (const v of d.gossipMembers()) {
      if (!(v.id in members) && v.state === "alive" && v.meta.raftAddr !== "")
        outside.set(v.id, { nodeId: v.id, raftAddr: v.meta.raftAddr });
    }
    if (d.browse) {
      try {
        for (const n of await d.browse(() => false)) {
          const f = n.nodeId in members ? undefined : discoveredToFound(n);
          if (f) outside.set(f.nodeId, f);
        }
      } catch (e) {
        log.debug("mDNS browse failed", { error: String(e) });
      }
    }
    const found = foreignClusterNodes(d.report(), await d.probe([...outside.values()]));
    const now = Date.now();
    const next = new Map<string, ForeignClusterNode>();
    for (const f of found) {
      if (!suspects.has(f.nodeId)) continue;
      const members = f.identities.map((k) => k.id);
      next.set(f.nodeId, { nodeId: f.nodeId, members, since: foreign.get(f.nodeId)?.since ?? now });
    }
    const fresh = [...next.keys()].some((id) => !foreign.has(id));
    suspects = new Set(found.map((f) => f.nodeId));
    foreign = next;
    if (next.size > 0 && (fresh || now - loggedAt >= FOREIGN_LOG_MS)) {
      loggedAt = now;
      log.error(
        "another cluster with this cluster_id is on the network: the nodes listed hold a cluster that does not know " +
          "this one (founded apart, e.g. bootstrap = true on more than one node). Clusters never merge by " +
          "themselves: stop the nodes of one side, empty their data dirs and start them to join this one, or give " +
          "each cluster its own cluster_id",
        {
          cluster_id: d.report().clusterId,
          nodes: [...next.values()].map((f) => `${f.nodeId}(members: ${f.members.join(" ")})`).join(", "),
        },
      );
    }
  };
  return { check, list: () => [...foreign.values()] };
}
