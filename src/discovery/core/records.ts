// The FlyDB service as DNS-SD records (RFC 6763): what a node advertises and how TXT reads back.
import { Buffer } from "node:buffer";
import type { Answer } from "./codec.ts";

export const SERVICE_TYPE = "_flydb._tcp.local";
/** DNS-SD service type enumeration (RFC 6763 §9), so `avahi-browse -a` lists FlyDB too. */
export const SERVICE_ENUMERATION = "_services._dns-sd._udp.local";
export const MDNS_GROUP = "224.0.0.251";
export const MDNS_PORT = 5353;
/** RFC 6762 §10: records naming a host (A, AAAA, SRV) 120 s, the rest 75 minutes. */
export const HOST_RECORD_TTL = 120;
export const OTHER_RECORD_TTL = 4500;
export const TXT_VERSION = "1";

export interface ServicePorts {
  readonly resp: number;
  readonly http: number;
  readonly gossip: number;
  readonly raft: number;
}

export interface ServiceDescription {
  /** Instance label (the first label of the instance name); starts as the node_id. */
  readonly instance: string;
  /** Host label, without `.local`. */
  readonly host: string;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly version: string;
  /** The node's zone (config `zone`), for locality-aware routing; "" or absent: not advertised. */
  readonly zone?: string;
  readonly ports: ServicePorts;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

export const instanceName = (label: string): string => `${label}.${SERVICE_TYPE}`;
export const hostName = (label: string): string => `${label}.local`;

/**
 * A DNS label made from free text. dns-packet splits names on dots and has no escaping, and a
 * label is at most 63 bytes, so dots become dashes and the label is cut on a character boundary.
 */
export function toLabel(text: string): string {
  let label = text.replace(/\./g, "-").trim();
  while (Buffer.byteLength(label) > 63) label = label.slice(0, -1);
  if (label === "") throw new Error(`"${text}" does not make a usable DNS label`);
  return label;
}

/** TXT strings, `txtvers` first (RFC 6763 §6.7); each `key=value` at most 255 bytes. */
export function txtStrings(d: ServiceDescription): string[] {
  const pairs: [string, string][] = [
    ["txtvers", TXT_VERSION],
    ["node_id", d.nodeId],
    ["cluster_id", d.clusterId],
    ["version", d.version],
    ["resp", String(d.ports.resp)],
    ["http", String(d.ports.http)],
    ["gossip", String(d.ports.gossip)],
    ["raft", String(d.ports.raft)],
    ...(d.zone ? [["zone", d.zone] as [string, string]] : []),
  ];
  return pairs.map(([k, v]) => {
    const s = `${k}=${v}`;
    if (Buffer.byteLength(s) > 255) throw new Error(`TXT entry ${k} is ${Buffer.byteLength(s)} bytes; at most 255 fit`);
    return s;
  });
}

/**
 * TXT strings as key/value pairs: keys compared case-insensitively and the first occurrence wins
 * (RFC 6763 §6.4); a string without `=` is a boolean attribute with an empty value.
 */
export function parseTxt(data: unknown): Record<string, string> {
  const items = Array.isArray(data) ? data : [data];
  const out: Record<string, string> = {};
  for (const item of items) {
    const s = typeof item === "string" ? item : item instanceof Uint8Array ? Buffer.from(item).toString("utf8") : "";
    if (s === "") continue;
    const eq = s.indexOf("=");
    const key = (eq < 0 ? s : s.slice(0, eq)).toLowerCase();
    if (key === "" || key in out) continue;
    out[key] = eq < 0 ? "" : s.slice(eq + 1);
  }
  return out;
}

export interface ServiceRecords {
  readonly ptr: Answer;
  readonly srv: Answer;
  readonly txt: Answer;
  readonly addresses: readonly Answer[];
  /** PTR from the DNS-SD enumeration name to the service type. */
  readonly enumeration: Answer;
}

/** Every record the node owns; `ttlScale` 0 builds the goodbye set (RFC 6762 §10.1). */
export function serviceRecords(d: ServiceDescription, ttlScale = 1): ServiceRecords {
  const inst = instanceName(d.instance);
  const host = hostName(d.host);
  const hostTtl = HOST_RECORD_TTL * ttlScale;
  const otherTtl = OTHER_RECORD_TTL * ttlScale;
  return {
    ptr: { name: SERVICE_TYPE, type: "PTR", class: "IN", ttl: otherTtl, data: inst },
    enumeration: { name: SERVICE_ENUMERATION, type: "PTR", class: "IN", ttl: otherTtl, data: SERVICE_TYPE },
    // Unique records carry the cache-flush bit; the shared PTRs do not (RFC 6762 §10.2).
    srv: {
      name: inst,
      type: "SRV",
      class: "IN",
      ttl: hostTtl,
      flush: true,
      data: { priority: 0, weight: 0, port: d.ports.gossip, target: host },
    },
    txt: {
      name: inst,
      type: "TXT",
      class: "IN",
      ttl: otherTtl,
      flush: true,
      data: txtStrings(d).map((s) => Buffer.from(s)),
    },
    addresses: [
      ...d.ipv4.map((ip): Answer => ({ name: host, type: "A", class: "IN", ttl: hostTtl, flush: true, data: ip })),
      ...d.ipv6.map((ip): Answer => ({ name: host, type: "AAAA", class: "IN", ttl: hostTtl, flush: true, data: ip })),
    ],
  };
}

export function allRecords(r: ServiceRecords): Answer[] {
  return [r.ptr, r.enumeration, r.srv, r.txt, ...r.addresses];
}
