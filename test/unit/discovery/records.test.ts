import { describe, expect, test } from "bun:test";
import { decodeMessage, encodeMessage } from "../../../src/discovery/core/codec.ts";
import { allRecords, parseTxt, serviceRecords, toLabel, txtStrings } from "../../../src/discovery/core/records.ts";
import { desc } from "./sample.ts";

describe("service records", () => {
  test("TXT has txtvers=1 first, then node_id, cluster_id, version and the four ports", () => {
    expect(txtStrings(desc)).toEqual([
      "txtvers=1",
      "node_id=node-1",
      "cluster_id=prod",
      "version=0.1.0",
      "resp=6380",
      "http=8080",
      "gossip=7946",
      "raft=7947",
    ]);
  });

  test("a zone, when the node has one, is advertised last as zone=", () => {
    expect(txtStrings({ ...desc, zone: "eu-west-1a" }).at(-1)).toBe("zone=eu-west-1a");
    expect(txtStrings({ ...desc, zone: "" }).some((s) => s.startsWith("zone="))).toBe(false);
  });

  test("PTR → instance, SRV → host.local with the gossip port, A and AAAA, unique records flushed", () => {
    const r = serviceRecords(desc);
    expect(r.ptr).toMatchObject({
      name: "_flydb._tcp.local",
      type: "PTR",
      data: "node-1._flydb._tcp.local",
      ttl: 4500,
    });
    expect(r.ptr).not.toHaveProperty("flush");
    expect(r.srv).toMatchObject({
      name: "node-1._flydb._tcp.local",
      flush: true,
      ttl: 120,
      data: { port: 7946, target: "box1.local" },
    });
    expect(r.addresses).toEqual([
      expect.objectContaining({ type: "A", name: "box1.local", data: "10.0.0.1", flush: true }),
      expect.objectContaining({ type: "AAAA", name: "box1.local", data: "2001:db8::1", flush: true }),
    ]);
  });

  test("the whole TXT stays well under 400 bytes on the wire and the records survive a round trip", () => {
    const r = serviceRecords({ ...desc, clusterId: "c".repeat(64), nodeId: "n".repeat(64) });
    const txtBytes = txtStrings({ ...desc, clusterId: "c".repeat(64), nodeId: "n".repeat(64) }).reduce(
      (n, s) => n + s.length + 1,
      0,
    );
    expect(txtBytes).toBeLessThan(400);
    const back = decodeMessage(encodeMessage({ isResponse: true, answers: allRecords(r) }));
    expect(back.ok && back.message.answers.length).toBe(6);
  });

  test("goodbye records have TTL 0", () => {
    expect(allRecords(serviceRecords(desc, 0)).every((a) => a.ttl === 0)).toBe(true);
  });

  test("a TXT entry over 255 bytes is refused with the key named", () => {
    expect(() => txtStrings({ ...desc, clusterId: "x".repeat(250) })).toThrow(/cluster_id/);
  });
});

describe("parseTxt", () => {
  test("keys are case-insensitive, the first occurrence wins, bare keys are empty strings", () => {
    expect(
      parseTxt([
        Buffer.from("txtvers=1"),
        Buffer.from("Node_ID=a"),
        Buffer.from("node_id=b"),
        Buffer.from("flag"),
        Buffer.from("eq=a=b"),
        Buffer.from(""),
      ]),
    ).toEqual({
      txtvers: "1",
      node_id: "a",
      flag: "",
      eq: "a=b",
    });
  });
  test("junk data yields nothing rather than throwing", () => {
    expect(parseTxt(undefined)).toEqual({});
    expect(parseTxt([42, null])).toEqual({});
  });
});

describe("toLabel", () => {
  test("dots become dashes and long names are cut to 63 bytes", () => {
    expect(toLabel("db.example")).toBe("db-example");
    expect(Buffer.byteLength(toLabel("é".repeat(40)))).toBeLessThanOrEqual(63);
    expect(() => toLabel(" ")).toThrow();
  });
});
