// Public surface of the gossip library (docs/design/gossip.md), for the cluster layer.
export { GossipNode, type GossipCounters, type GossipNodeOptions, type MemberInfo } from "./node.ts";
export { LAN_DEFAULTS, type SwimConfig } from "./core/config.ts";
export type { GossipEvent, GossipEventType, MemberMeta, MemberState, MemberView } from "./core/types.ts";
export { deriveClusterKey, FrameCipher, type OpenResult } from "./cipher.ts";
export type { DropReason } from "./wire.ts";
