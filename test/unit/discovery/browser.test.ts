import { describe, expect, test } from "bun:test";
import type { Answer } from "../../../src/discovery/core/codec.ts";
import { decodeMessage, encodeMessage } from "../../../src/discovery/core/codec.ts";
import { ServiceCache, browseQuery } from "../../../src/discovery/core/browser.ts";
import { serviceRecords } from "../../../src/discovery/core/records.ts";
import { desc } from "./sample.ts";

const r1 = serviceRecords(desc);
const r2 = serviceRecords({
  ...desc,
  instance: "node-2",
  nodeId: "node-2",
  host: "box2",
  clusterId: "other",
  ipv4: ["10.0.0.2"],
  ipv6: [],
});
const reply = (answers: Answer[], additionals: Answer[] = []) =>
  encodeMessage({ isResponse: true, answers, additionals });

describe("ServiceCache", () => {
  test("a full answer becomes one node with TXT fields, ports and addresses", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr], [r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", 0);
    expect(c.nodes(10)).toEqual([
      {
        instance: "node-1._flydb._tcp.local",
        nodeId: "node-1",
        clusterId: "prod",
        version: "0.1.0",
        host: "box1.local",
        port: 7946,
        addresses: ["10.0.0.1", "2001:db8::1"],
        ports: { resp: 6380, http: 8080, gossip: 7946, raft: 7947 },
        txt: {
          txtvers: "1",
          node_id: "node-1",
          cluster_id: "prod",
          version: "0.1.0",
          resp: "6380",
          http: "8080",
          gossip: "7946",
          raft: "7947",
        },
      },
    ]);
  });

  test("the same node heard many times, in any name case, is listed once", () => {
    const c = new ServiceCache();
    for (let i = 0; i < 5; i++) c.ingest(reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", i * 100);
    c.ingest(reply([{ ...r1.ptr, data: "NODE-1._flydb._tcp.local" } as Answer]), "10.0.0.1", 600);
    expect(c.nodes(700)).toHaveLength(1);
  });

  test("filters by cluster_id", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", 0);
    c.ingest(reply([r2.ptr, r2.srv, r2.txt, ...r2.addresses]), "10.0.0.2", 0);
    expect(c.nodes(1).map((n) => n.nodeId)).toEqual(["node-1", "node-2"]);
    expect(c.nodes(1, "other").map((n) => n.nodeId)).toEqual(["node-2"]);
    expect(c.nodes(1, "none")).toEqual([]);
  });

  test("a goodbye removes the node one second later (RFC 6762 §10.1)", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", 0);
    const bye = serviceRecords(desc, 0);
    c.ingest(reply([bye.ptr, bye.srv, bye.txt]), "10.0.0.1", 5000);
    expect(c.nodes(5500)).toHaveLength(1);
    expect(c.nodes(6001)).toHaveLength(0);
  });

  test("records expire with their TTL", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", 0);
    expect(c.nodes(119_000)).toHaveLength(1);
    expect(c.nodes(120_001)).toHaveLength(0); // the SRV (120 s) is gone
  });

  test("queries and probes are not taken as answers", () => {
    const c = new ServiceCache();
    c.ingest(
      encodeMessage({
        isResponse: false,
        questions: [{ name: "_flydb._tcp.local", type: "PTR" }],
        answers: [r1.ptr],
        authorities: [r1.srv, r1.txt],
      }),
      "10.0.0.1",
      0,
    );
    expect(c.nodes(1)).toEqual([]);
  });

  test("asks for SRV and TXT of a bare PTR, then for the A record of the SRV target; falls back to the sender's address", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr]), "10.0.0.1", 0);
    expect(c.nodes(1)).toEqual([]);
    expect(c.missingQuestions(1)).toEqual([
      { name: "node-1._flydb._tcp.local", type: "SRV" },
      { name: "node-1._flydb._tcp.local", type: "TXT" },
    ]);
    c.ingest(reply([r1.srv, r1.txt]), "10.0.0.1", 10);
    expect(c.missingQuestions(11)).toEqual([{ name: "box1.local", type: "A" }]);
    expect(c.nodes(11)[0].addresses).toEqual(["10.0.0.1"]);
    c.ingest(reply(r1.addresses.slice(0, 1)), "10.0.0.1", 20);
    expect(c.missingQuestions(21)).toEqual([]);
  });

  test("link-local IPv6 addresses are left out: without their zone they cannot be dialled", () => {
    const c = new ServiceCache();
    c.ingest(
      reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses, { name: "box1.local", type: "AAAA", ttl: 120, data: "fe80::1" }]),
      "10.0.0.1",
      0,
    );
    expect(c.nodes(1)[0].addresses).toEqual(["10.0.0.1", "2001:db8::1"]);
  });

  test("a cache-flush A record replaces addresses older than a second", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr, r1.srv, r1.txt, ...r1.addresses]), "10.0.0.1", 0);
    c.ingest(reply([{ name: "box1.local", type: "A", ttl: 120, flush: true, data: "10.0.0.50" }]), "10.0.0.50", 5000);
    expect(c.nodes(5001)[0].addresses).toEqual(["10.0.0.50", "2001:db8::1"]);
  });

  test("unreadable packets are counted and change nothing", () => {
    const c = new ServiceCache();
    expect(c.ingest(new Uint8Array([1, 2, 3, 4]), "10.0.0.1", 0)).toBe(false);
    expect(c.stats.malformedPackets).toBe(1);
    expect(c.nodes(1)).toEqual([]);
  });

  test("known answers carry fresh PTRs with their remaining TTL and drop stale ones", () => {
    const c = new ServiceCache();
    c.ingest(reply([r1.ptr]), "10.0.0.1", 0);
    const q = decodeMessage(encodeMessage(browseQuery(c.knownAnswers(1000_000))));
    if (!q.ok) throw new Error(q.error);
    expect(q.message.questions).toEqual([{ name: "_flydb._tcp.local", type: "PTR", qu: false }]);
    expect(q.message.answers).toEqual([expect.objectContaining({ type: "PTR", ttl: 3500 })]);
    expect(c.knownAnswers(3_000_000)).toEqual([]);
  });
});
