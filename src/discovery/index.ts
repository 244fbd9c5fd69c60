// Entry points of service discovery for the node and the flydb-discover tool.
export { startAdvertiser } from "./advertiser.ts";
export type { Advertiser, AdvertiserOptions } from "./advertiser.ts";
export { browse } from "./browser.ts";
export type { BrowseOptions, DiscoveredNode } from "./browser.ts";
export type { DiscoveryLog } from "./log.ts";
export type { ServicePorts } from "./core/records.ts";
