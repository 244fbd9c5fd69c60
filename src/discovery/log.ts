/** Logging hook for the discovery adapters; the node passes its logger in, the CLI stays quiet. */
export type DiscoveryLog = (level: "debug" | "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
