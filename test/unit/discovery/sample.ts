// Shared sample data for the discovery unit tests.
import type { ServiceDescription } from "../../../src/discovery/core/records.ts";

export const desc: ServiceDescription = {
  instance: "node-1",
  host: "box1",
  nodeId: "node-1",
  clusterId: "prod",
  version: "0.1.0",
  ports: { resp: 6380, http: 8080, gossip: 7946, raft: 7947 },
  ipv4: ["10.0.0.1"],
  ipv6: ["2001:db8::1"],
};

/** Deterministic stand-in for Math.random: a linear congruential generator from a seed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
