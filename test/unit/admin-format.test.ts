import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EXIT,
  fields,
  formatMembers,
  formatPartitions,
  formatStatus,
  parseDuration,
  table,
  waitLine,
  type StatusView,
} from "../../cli/admin/format.ts";
import { failure, readToken } from "../../cli/admin/client.ts";

const cluster: StatusView = {
  node: { id: "n1", version: "0.1.0", role: "cluster", uptime_seconds: 7 },
  keys: 3,
  connected_clients: 1,
  cluster_id: "flydb",
  metadata_leader: "n1",
  map_version: 2,
  members: [
    {
      id: "n1",
      state: "alive",
      zone: "",
      version: "0.1.0",
      addresses: { resp: "127.0.0.1:7001", http: "127.0.0.1:8001", raft: "127.0.0.1:9101", gossip: "127.0.0.1:9001" },
    },
    { id: "node-two", state: "suspect", zone: "eu-1", version: "0.1.0", addresses: { resp: "127.0.0.1:7002" } },
  ],
  partitions: { total: 4, healthy: 3, under_replicated: 1, leaderless: 0, leaders_per_node: { n1: 3, "node-two": 1 } },
};

describe("admin tables", () => {
  test("columns are as wide as their widest cell, two spaces apart, no trailing blanks", () => {
    expect(
      table(
        ["A", "LONG"],
        [
          ["wide-cell", "x"],
          ["b", ""],
        ],
      ),
    ).toBe("A          LONG\nwide-cell  x\nb\n");
  });

  test("fields align their values", () => {
    expect(
      fields([
        ["a", "1"],
        ["longer", "2"],
      ]),
    ).toBe("a:      1\nlonger: 2\n");
  });

  test("members: one row per member, dashes for what the node does not know, leaders counted", () => {
    const lines = formatMembers(cluster).split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+ZONE\s+VERSION\s+RESP\s+HTTP\s+RAFT\s+GOSSIP\s+LEADS$/);
    expect(lines[1]!.split(/\s+/)).toEqual([
      "n1",
      "alive",
      "-",
      "0.1.0",
      "127.0.0.1:7001",
      "127.0.0.1:8001",
      "127.0.0.1:9101",
      "127.0.0.1:9001",
      "3",
    ]);
    expect(lines[2]!.split(/\s+/)).toEqual([
      "node-two",
      "suspect",
      "eu-1",
      "0.1.0",
      "127.0.0.1:7002",
      "-",
      "-",
      "-",
      "1",
    ]);
    // Aligned: every column starts at the same offset on every line.
    expect(lines[1]!.indexOf("alive")).toBe(lines[0]!.indexOf("STATE"));
    expect(lines[2]!.indexOf("suspect")).toBe(lines[0]!.indexOf("STATE"));
  });

  test("status of a cluster member and of a standalone node", () => {
    const text = formatStatus(cluster);
    expect(text).toContain("metadata leader: n1\n");
    expect(text).toContain("members:         2 (1 alive)\n");
    expect(text).toContain("partitions:      3/4 healthy, 1 under-replicated, 0 leaderless\n");
    const alone = formatStatus({
      node: { id: "s", version: "0.1.0", role: "standalone", uptime_seconds: 1 },
      keys: 0,
      connected_clients: 0,
    });
    expect(alone).toContain("role:    standalone\n");
    expect(alone).not.toContain("members");
  });

  test("partitions: slot ranges, leaderless shown as a dash, health as yes/no", () => {
    const text = formatPartitions({
      partitions: [
        {
          partition: 0,
          group: 1,
          slots: [0, 8191],
          voters: ["n1", "n2"],
          learners: [],
          leader: "n1",
          term: 2,
          healthy: true,
        },
        {
          partition: 1,
          group: 2,
          slots: [8192, 16383],
          voters: ["n2"],
          learners: ["n3"],
          leader: null,
          term: 5,
          healthy: false,
        },
      ],
    });
    const rows = text
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(["PARTITION", "GROUP", "SLOTS", "LEADER", "TERM", "VOTERS", "LEARNERS", "HEALTHY"]);
    expect(rows[1]).toEqual(["0", "1", "0-8191", "n1", "2", "n1,n2", "-", "yes"]);
    expect(rows[2]).toEqual(["1", "2", "8192-16383", "-", "5", "n2", "n3", "no"]);
  });
});

describe("admin flags and exit codes", () => {
  test("exit codes scripts rely on", () => {
    expect(EXIT).toEqual({ ok: 0, failed: 1, usage: 2, unreachable: 3 });
  });

  test("durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1.5")).toBe(1500);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("-1s")).toBeUndefined();
  });

  test("the token: --token-file wins over FLYDB_HTTP_AUTH_TOKEN; an unreadable file says which", () => {
    expect(readToken(undefined, { FLYDB_HTTP_AUTH_TOKEN: "env" })).toBe("env");
    expect(readToken(undefined, {})).toBeUndefined();
    const file = join(tmpdir(), `flydb-admin-token-${process.pid}`);
    writeFileSync(file, "from-file\n");
    expect(readToken(file, { FLYDB_HTTP_AUTH_TOKEN: "env" })).toBe("from-file");
    rmSync(file);
    expect(() => readToken(file)).toThrow(/--token-file/);
  });

  test("a failed answer names the request, the status, the node's error, and a hint on 401", () => {
    const t = { http: "127.0.0.1:8001" };
    expect(failure("POST", "/cluster/remove", t, { status: 409, body: { error: "last member" } })).toBe(
      "POST /cluster/remove on 127.0.0.1:8001: HTTP 409: last member",
    );
    expect(failure("POST", "/cluster/join", t, { status: 401, body: { error: "unauthorized" } })).toContain(
      "FLYDB_HTTP_AUTH_TOKEN",
    );
  });

  test("the wait line counts up and spins", () => {
    const a = waitLine(0, "ready", "127.0.0.1:8001", 1234, "starting");
    const b = waitLine(1, "ready", "127.0.0.1:8001", 1434, "starting");
    expect(a).toContain("waiting for 127.0.0.1:8001 to be ready 1.2s (starting)");
    expect(a[0]).not.toBe(b[0]);
  });
});
