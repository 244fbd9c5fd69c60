// A node that formation found through mDNS or gossip: what it needs to probe the node. Shared by
// forming/joining (src/cluster/formation.ts) and the check for other clusters under this
// cluster's id (src/cluster/foreign-clusters.ts).
import type { DiscoveredNode } from "../discovery/index.ts";
import { formatHostPort } from "../net/hostport.ts";

export interface FoundNode {
  readonly nodeId: string;
  readonly raftAddr: string;
}

/** A discovered node that advertises no address or raft port cannot be probed: undefined. */
export function discoveredToFound(d: DiscoveredNode): FoundNode | undefined {
  const addr = d.addresses[0];
  if (addr === undefined || d.ports.raft === null) return undefined;
  return { nodeId: d.nodeId, raftAddr: formatHostPort(addr, d.ports.raft) };
}
