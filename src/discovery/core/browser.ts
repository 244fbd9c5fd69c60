// The browsing side of mDNS as pure logic: a cache of FlyDB service records fed with received
// packets, turned into a de-duplicated node table, plus the queries a browser should send.
// Time is the `now` argument (ms); nothing here sends or schedules.
import type { Answer, Message, OutMessage } from "./codec.ts";
import { decodeMessage, isFlush, ttlOf } from "./codec.ts";
import { SERVICE_TYPE, parseTxt } from "./records.ts";

export interface NodePorts {
  readonly resp: number | null;
  readonly http: number | null;
  readonly gossip: number | null;
  readonly raft: number | null;
}

export interface DiscoveredNode {
  /** Full instance name, e.g. `node-1._flydb._tcp.local`. */
  readonly instance: string;
  readonly nodeId: string;
  readonly clusterId: string | null;
  readonly version: string | null;
  /** SRV target host name. */
  readonly host: string;
  /** SRV port: the gossip port. */
  readonly port: number;
  /** Resolved addresses, IPv4 first; the sender's address leads when it is one of them. */
  readonly addresses: readonly string[];
  readonly ports: NodePorts;
  /** Every TXT key/value as received. */
  readonly txt: Readonly<Record<string, string>>;
}

interface Entry {
  readonly record: Answer;
  readonly receivedAt: number;
  readonly expiresAt: number;
  readonly source: string;
}

export interface BrowserStats {
  packets: number;
  malformedPackets: number;
  skippedRecords: number;
}

/** RFC 6762 §10.1: a goodbye (TTL 0) keeps the record one more second, then it is gone. */
const GOODBYE_GRACE_MS = 1000;
/** Cache-flush (RFC 6762 §10.2) spares records received within the last second: they are the new set. */
const FLUSH_GRACE_MS = 1000;
/** Anyone on the link can send records; bound what a browse keeps. */
const MAX_INSTANCES = 4096;
const MAX_ADDRESSES_PER_HOST = 16;

const SERVICE_SUFFIX = `.${SERVICE_TYPE}`;

export class ServiceCache {
  private readonly ptr = new Map<string, Entry>();
  private readonly srv = new Map<string, Entry>();
  private readonly txt = new Map<string, Entry>();
  private readonly addrs = new Map<string, Map<string, Entry>>();
  readonly stats: BrowserStats = { packets: 0, malformedPackets: 0, skippedRecords: 0 };

  /** Feed one received datagram; returns false (and counts it) when it was unreadable. */
  ingest(bytes: Uint8Array, sourceAddress: string, now: number): boolean {
    this.stats.packets++;
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      this.stats.malformedPackets++;
      return false;
    }
    this.stats.skippedRecords += decoded.message.skippedRecords;
    this.ingestMessage(decoded.message, sourceAddress, now);
    return true;
  }

  ingestMessage(msg: Message, sourceAddress: string, now: number): void {
    if (!msg.isResponse) return; // queries carry known answers and probes carry proposals: neither is truth
    for (const rec of [...msg.answers, ...msg.additionals]) this.store(rec, sourceAddress, now);
  }

  private store(rec: Answer, source: string, now: number): void {
    const ttl = ttlOf(rec);
    const entry: Entry = {
      record: rec,
      receivedAt: now,
      source,
      expiresAt: now + (ttl === 0 ? GOODBYE_GRACE_MS : ttl * 1000),
    };
    const name = rec.name.toLowerCase();
    if (rec.type === "PTR" && name === SERVICE_TYPE && typeof rec.data === "string") {
      const inst = rec.data.toLowerCase();
      if (!inst.endsWith(SERVICE_SUFFIX)) return;
      if (ttl === 0 && !this.ptr.has(inst)) return;
      if (!this.ptr.has(inst) && this.ptr.size >= MAX_INSTANCES) return;
      this.ptr.set(inst, entry);
    } else if ((rec.type === "SRV" || rec.type === "TXT") && name.endsWith(SERVICE_SUFFIX)) {
      const table = rec.type === "SRV" ? this.srv : this.txt;
      if (ttl === 0 && !table.has(name)) return;
      if (!table.has(name) && table.size >= MAX_INSTANCES) return;
      table.set(name, entry); // one SRV and one TXT per instance: a newer one replaces
    } else if ((rec.type === "A" || rec.type === "AAAA") && typeof rec.data === "string") {
      let host = this.addrs.get(name);
      if (!host) {
        if (this.addrs.size >= MAX_INSTANCES) return;
        host = new Map();
        this.addrs.set(name, host);
      }
      if (isFlush(rec) && ttl > 0) {
        for (const [ip, e] of host)
          if (e.record.type === rec.type && e.receivedAt < now - FLUSH_GRACE_MS) host.delete(ip);
      }
      if (ttl === 0 && !host.has(rec.data)) return;
      if (!host.has(rec.data) && host.size >= MAX_ADDRESSES_PER_HOST) return;
      host.set(rec.data, entry);
    }
  }

  private expire(now: number): void {
    for (const table of [this.ptr, this.srv, this.txt, ...this.addrs.values()]) {
      for (const [k, e] of table) if (e.expiresAt <= now) table.delete(k);
    }
  }

  /** Resolved nodes (PTR and SRV known), one per instance, optionally of one cluster only. */
  nodes(now: number, clusterId?: string): DiscoveredNode[] {
    this.expire(now);
    const out: DiscoveredNode[] = [];
    for (const [inst, ptrEntry] of this.ptr) {
      const srv = this.srv.get(inst);
      if (srv?.record.type !== "SRV") continue;
      const txt = parseTxt(this.txt.get(inst)?.record.data ?? []);
      if (clusterId !== undefined && txt.cluster_id !== clusterId) continue;
      const { port, target } = srv.record.data;
      const instanceFull = typeof ptrEntry.record.data === "string" ? ptrEntry.record.data : inst;
      out.push({
        instance: instanceFull,
        nodeId: txt.node_id ?? instanceFull.slice(0, -SERVICE_SUFFIX.length),
        clusterId: txt.cluster_id ?? null,
        version: txt.version ?? null,
        host: target,
        port,
        addresses: this.addressesOf(target, srv.source),
        ports: {
          resp: portOf(txt.resp),
          http: portOf(txt.http),
          gossip: portOf(txt.gossip) ?? port,
          raft: portOf(txt.raft),
        },
        txt,
      });
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.instance < b.instance ? -1 : 1));
  }

  private addressesOf(target: string, srvSource: string): string[] {
    const known = [...(this.addrs.get(target.toLowerCase())?.values() ?? [])];
    const v4 = known.filter((e) => e.record.type === "A").map((e) => e.record.data as string);
    // Link-local IPv6 is useless without the zone (interface) it belongs to, which a peer list cannot carry.
    const v6 = known
      .filter((e) => e.record.type === "AAAA")
      .map((e) => e.record.data as string)
      .filter((ip) => !/^fe[89ab]/i.test(ip));
    const all = [...v4, ...v6];
    // No A record (yet): the responder that sent the SRV is the best guess there is.
    if (all.length === 0) return srvSource ? [srvSource] : [];
    const i = all.indexOf(srvSource);
    return i > 0 ? [srvSource, ...all.slice(0, i), ...all.slice(i + 1)] : all;
  }

  /** Questions that would complete half-resolved instances (RFC 6763 §12 answers may come without additionals). */
  missingQuestions(now: number): { name: string; type: string }[] {
    this.expire(now);
    const qs: { name: string; type: string }[] = [];
    for (const [inst, e] of this.ptr) {
      const name = typeof e.record.data === "string" ? e.record.data : inst;
      const srv = this.srv.get(inst);
      if (!srv) qs.push({ name, type: "SRV" });
      if (!this.txt.has(inst)) qs.push({ name, type: "TXT" });
      if (srv?.record.type === "SRV" && !this.addrs.get(srv.record.data.target.toLowerCase())?.size)
        qs.push({ name: srv.record.data.target, type: "A" });
    }
    return qs;
  }

  /** PTRs still fresh enough to list as known answers (more than half their TTL left, RFC 6762 §7.1). */
  knownAnswers(now: number): Answer[] {
    this.expire(now);
    const out: Answer[] = [];
    for (const e of this.ptr.values()) {
      const ttl = ttlOf(e.record);
      const remaining = Math.floor((e.expiresAt - now) / 1000);
      if (ttl > 0 && remaining > ttl / 2) out.push({ ...e.record, ttl: remaining } as Answer);
    }
    return out;
  }
}

/** The PTR browse query, with known answers so responders skip what we already have. */
export function browseQuery(
  knownAnswers: readonly Answer[],
  extra: readonly { name: string; type: string }[] = [],
  id = 0,
): OutMessage {
  return { id, isResponse: false, questions: [{ name: SERVICE_TYPE, type: "PTR" }, ...extra], answers: knownAnswers };
}

function portOf(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,5}$/.test(v)) return null;
  const n = Number(v);
  return n > 0 && n < 65536 ? n : null;
}
