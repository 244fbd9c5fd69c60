// Timing and size parameters. Defaults follow hashicorp/memberlist's DefaultLANConfig, except where
// docs/design/gossip.md says why not.

export interface SwimConfig {
  /** Members share one cluster id; packets and members of another are never admitted. */
  readonly clusterId: string;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** k: members asked to ping-req a target that missed its direct ack. */
  readonly indirectChecks: number;
  /** Also ping over TCP when the direct UDP ack is missing (catches UDP-only loss). */
  readonly tcpFallbackPing: boolean;
  readonly gossipIntervalMs: number;
  readonly gossipNodes: number;
  /** Dead members still receive gossip this long, so a wrongly-declared node can refute. */
  readonly gossipToTheDeadMs: number;
  readonly suspicionMult: number;
  /** Lifeguard: a suspicion starts at max = min × this and shrinks with confirmations. */
  readonly suspicionMaxTimeoutMult: number;
  readonly retransmitMult: number;
  readonly pushPullIntervalMs: number;
  /** How often a dead member (or, while alone, a seed) is tried for a push-pull: heals partitions. */
  readonly reconnectIntervalMs: number;
  /** Dead members are forgotten after this long; left members after gossipToTheDeadMs. */
  readonly deadReclaimMs: number;
  /** Lifeguard local health: probe timeouts are scaled by up to this factor. */
  readonly awarenessMaxMultiplier: number;
  /** UDP payload budget for one packet, before encryption overhead. */
  readonly maxPacketBytes: number;
  readonly maxMetaBytes: number;
}

// Probing every 700 ms (memberlist: 1 s) brings a 5-member cluster's crash detection under 5 s in
// every trial (bench/gossip-detection.ts; mean 4.9 s at 1 s) for ~3 packets/s per member.
export const LAN_DEFAULTS: Omit<SwimConfig, "clusterId"> = {
  probeIntervalMs: 700,
  probeTimeoutMs: 350,
  indirectChecks: 3,
  tcpFallbackPing: true,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  deadReclaimMs: 24 * 3600_000,
  awarenessMaxMultiplier: 8,
  maxPacketBytes: 1400,
  maxMetaBytes: 512,
};

export function swimConfig(clusterId: string, overrides: Partial<SwimConfig> = {}): SwimConfig {
  const cfg: SwimConfig = { ...LAN_DEFAULTS, ...overrides, clusterId };
  for (const [key, value] of Object.entries(cfg)) {
    if (typeof value === "number" && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`gossip config: ${key}=${value} must be a finite number >= 0`);
    }
  }
  if (cfg.probeTimeoutMs > cfg.probeIntervalMs) {
    throw new Error(
      `gossip config: probeTimeoutMs=${cfg.probeTimeoutMs} exceeds probeIntervalMs=${cfg.probeIntervalMs}`,
    );
  }
  return cfg;
}

/** memberlist's retransmitLimit: mult × ceil(log10(n + 1)). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

/**
 * The floor a suspicion shrinks to: mult × max(0.5, log10 n) × interval. memberlist floors the
 * log at 1, which puts a 5-member LAN cluster at ~6 s crash detection; flooring at 0.5 keeps
 * memberlist's values from 10 members up and gives small clusters (< 10) 2–4 s, for detection
 * under 5 s. Lifeguard's unconfirmed maximum (6×) still protects a member only one node accuses.
 */
export function suspicionMinMs(mult: number, n: number, probeIntervalMs: number): number {
  return mult * Math.max(0.5, Math.log10(Math.max(1, n))) * probeIntervalMs;
}

/**
 * Lifeguard: with c of k expected independent confirmations the timeout falls from max towards
 * min logarithmically, so a widely-observed failure is declared fast and a lone (possibly
 * overloaded) accuser has to wait long.
 */
export function suspicionTimeoutMs(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

/** memberlist's pushPullScale: beyond 32 members, sync less often so total TCP load stays flat. */
export function pushPullIntervalMs(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  return intervalMs * (Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1);
}
