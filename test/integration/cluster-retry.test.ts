// Exactly-once writes through a proxying node (src/cluster/router.ts), on real clusters on
// loopback: the partition leader's Raft address is a TCP relay that loses the leader's reply to
// one forwarded INCR, by cutting the connection after the request went through, by swallowing
// the reply frame, or by cutting and then letting nothing through while the leader is stopped.
// The proxying node must send the INCR again with the same id (to the same leader, or to the next
// one) and answer the client with the value of the single increment that happened.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveMode } from "../../src/data-plane.ts";
import { Packr } from "msgpackr";
import { ClusterNode } from "../../src/cluster/cluster-node.ts";
import { groupOf, partitionOfGroup } from "../../src/keyspace/groups.ts";
import { keySlot, partitionOf } from "../../src/keyspace/slot.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/log.ts";
import { bulk, int, OK, type Reply } from "../../src/resp/reply.ts";
import { encodeFrame, FrameDecoder } from "../../src/transport/frame.ts";
import { COMMANDS } from "../../src/commands/table.ts";
import { freePorts } from "../helpers/ports.ts";
import { waitFor } from "../helpers/cluster-nodes.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 4;
const REPLY = 3; // transport wire tag of a request's reply
const enc = new TextEncoder();
const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Relays TCP to `port`; when armed, loses the next reply frame coming back: "cut" closes the
 * connection, "drop" swallows the frame, "blackout" closes it and every later connection.
 */
class ReplyLoser {
  armed: "cut" | "drop" | "blackout" | undefined;
  lost = 0;
  private blackout = false;
  private readonly listener: TCPSocketListener<{ up?: Socket<undefined>; early: Uint8Array[] }>;
  private readonly sockets = new Set<{ end(): void }>();

  constructor(port: number) {
    this.listener = Bun.listen<{ up?: Socket<undefined>; early: Uint8Array[] }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (client) => {
          client.data = { early: [] };
          if (this.blackout) return void client.end();
          this.sockets.add(client);
          const frames = new FrameDecoder(64 * 1024 * 1024);
          void Bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: {
              open: (up) => {
                this.sockets.add(up);
                client.data.up = up;
                for (const c of client.data.early.splice(0)) up.write(c);
              },
              data: (up, chunk) => {
                for (const frame of frames.push(chunk)) {
                  const w = packr.unpack(frame) as unknown[];
                  if (this.armed && w[0] === REPLY) {
                    const how = this.armed;
                    this.armed = undefined;
                    this.lost++;
                    if (how === "drop") continue;
                    if (how === "blackout") this.blackout = true;
                    client.end();
                    up.end();
                    return;
                  }
                  client.write(encodeFrame(frame));
                }
              },
              close: () => void client.end(),
              connectError: () => void client.end(),
            },
          });
        },
        data: (client, chunk) => {
          if (client.data.up) client.data.up.write(chunk);
          else client.data.early.push(chunk.slice());
        },
        close: (client) => void client.data.up?.end(),
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  stop(): void {
    for (const s of this.sockets) s.end();
    this.listener.stop(true);
  }
}

const dir = mkdtempSync(join(tmpdir(), "flydb-retry-"));
const nodes: ClusterNode[] = [];
const relays: ReplyLoser[] = [];

async function stopAll(): Promise<void> {
  for (const n of nodes.splice(0)) await n.stop(false).catch(() => {});
  for (const r of relays.splice(0)) r.stop();
}

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** A member with its own ports and data dir; other nodes reach its Raft port at `advertisedRaft`. */
async function startNode(
  id: string,
  [gossipPort, raftPort]: number[],
  flags: Record<string, string>,
  advertisedRaft?: (port: number) => number,
): Promise<ClusterNode> {
  mkdirSync(join(dir, id), { recursive: true });
  const { config } = loadConfig({
    env: {},
    defaultConfigPath: join(dir, "none.toml"),
    flags: {
      node_id: id,
      data_dir: join(dir, id),
      partition_count: String(PARTITIONS),
      fsync: "no",
      cluster_addr: `127.0.0.1:${gossipPort}`,
      raft_addr: `127.0.0.1:${raftPort}`,
      ...flags,
    },
  });
  const raft = advertisedRaft?.(raftPort) ?? raftPort;
  const addrs = {
    resp: "127.0.0.1:1",
    http: "127.0.0.1:1",
    raft: `127.0.0.1:${raft}`,
    gossip: `127.0.0.1:${gossipPort}`,
  };
  resolveMode(config); // records the data dir as a cluster member's, as openCluster's caller does
  const node = await ClusterNode.start(
    config,
    createLogger("error", "text"),
    addrs,
    { raft: { host: "127.0.0.1", port: raftPort }, gossip: `127.0.0.1:${gossipPort}` },
    "test",
  );
  // No formation loop runs here to check that this id is new to the cluster (src/cluster/formation.ts).
  node.acceptGroups();
  nodes.push(node);
  return node;
}

/** A member whose Raft address is a new ReplyLoser in front of its real port. */
async function startBehindRelay(
  id: string,
  ports: number[],
  flags: Record<string, string>,
): Promise<{ node: ClusterNode; relay: ReplyLoser }> {
  let relay: ReplyLoser | undefined;
  const node = await startNode(id, ports, flags, (raftPort) => {
    relay = new ReplyLoser(raftPort);
    relays.push(relay);
    return relay.port;
  });
  return { node, relay: relay! };
}

const op = (...argv: string[]) => ({ cmds: [argv.map((a) => enc.encode(a))], now: Date.now(), seed: 0 });
const leaderOf = (n: ClusterNode, grp: number) => n.groupStatuses().find((g) => g.grp === grp)?.leader;
/** Copies of applied writes this node's replicas answered from the session record. */
const duplicates = (n: ClusterNode) => n.raftStats.writeCopies.duplicate;
const get = (n: ClusterNode, key: string) => n.read(COMMANDS.get("get")!, [enc.encode("get"), enc.encode(key)]);

/** A key of a partition `leader` leads while every one of `others` replicates it and knows that. */
async function keyLedBy(
  leader: ClusterNode,
  id: string,
  others: { node: ClusterNode; id: string }[],
): Promise<{ key: string; grp: number }> {
  let grp = 0;
  await waitFor(
    `${id} to lead a partition the others replicate`,
    () => {
      if (!leader.ready().ready || others.some((o) => !o.node.ready().ready)) return false;
      const knownBy = (o: { node: ClusterNode; id: string }, grp: number, voters: readonly string[]) =>
        leaderOf(o.node, grp) === id && voters.includes(o.id);
      const led = leader
        .groupStatuses()
        .find((g) => g.grp !== 0 && g.role === "leader" && others.every((o) => knownBy(o, g.grp, g.voters)));
      grp = led?.grp ?? 0;
      return grp !== 0;
    },
    40_000,
  );
  const p = partitionOfGroup(grp);
  for (let i = 0; ; i++) {
    const key = `counter-${i}`;
    if (partitionOf(keySlot(enc.encode(key)), PARTITIONS) === p) return { key, grp: groupOf(p) };
  }
}

describe("two nodes: a write whose reply is lost is retried at the same leader and applied once", () => {
  let n1: ClusterNode;
  let n2: ClusterNode;
  let relay: ReplyLoser;
  let ports1: number[];
  let key: string;

  beforeAll(async () => {
    ports1 = freePorts(2);
    n1 = await startNode("r1", ports1, { bootstrap: "true" });
    ({ node: n2, relay } = await startBehindRelay("r2", freePorts(2), { cluster_peers: `127.0.0.1:${ports1[0]}` }));
    ({ key } = await keyLedBy(n2, "r2", [{ node: n1, id: "r1" }]));
  });
  afterAll(stopAll);

  test("connection cut after the request went through", async () => {
    expect(await n1.propose(op("set", key, "10"))).toEqual(OK);
    const before = duplicates(n2);
    const resends = n1.raftStats.writeResends;
    relay.armed = "cut";
    const reply: Reply = await n1.propose(op("incr", key));
    expect(relay.lost).toBe(1);
    expect(reply).toEqual(int(11));
    expect(await get(n1, key)).toEqual(bulk(enc.encode("11")));
    // The leader applied a second copy of the INCR and answered it from the session record.
    expect(duplicates(n2)).toBe(before + 1);
    expect(n1.raftStats.writeResends).toBe(resends + 1);
  });

  test("reply frame swallowed on a connection that stays up", async () => {
    const before = duplicates(n2);
    relay.armed = "drop";
    const reply: Reply = await n1.propose(op("incr", key));
    expect(relay.lost).toBe(2);
    expect(reply).toEqual(int(12));
    expect(await get(n2, key)).toEqual(bulk(enc.encode("12")));
    expect(duplicates(n2)).toBe(before + 1);
  });

  test("a write without a quorum answers that its outcome is unknown, and is applied once when the quorum returns", async () => {
    await n1.stop(false);
    const reply = await n2.propose(op("incr", key));
    expect(reply.t).toBe("error");
    expect(reply.t === "error" && reply.v).toMatch(/^UNKNOWN .*the write may or may not have been applied$/);
    n1 = await startNode("r1", ports1, {});
    await waitFor(
      "the INCR proposed without a quorum to commit",
      async () => {
        const r = await get(n1, key);
        return r.t === "bulk" && new TextDecoder().decode(r.v as Uint8Array) === "13";
      },
      20_000,
    );
    expect(await n1.propose(op("incr", key))).toEqual(int(14));
  });
});

describe("three nodes: the leader dies after committing a write whose reply was lost", () => {
  test("the retry goes to the next leader, which answers it from the session record", async () => {
    const ports1 = freePorts(2);
    const f1 = await startNode("f1", ports1, { bootstrap: "true" });
    const peers = { cluster_peers: `127.0.0.1:${ports1[0]}` };
    const { node: f2, relay } = await startBehindRelay("f2", freePorts(2), peers);
    const f3 = await startNode("f3", freePorts(2), peers);
    try {
      const { key, grp } = await keyLedBy(f2, "f2", [
        { node: f1, id: "f1" },
        { node: f3, id: "f3" },
      ]);
      expect(await f1.propose(op("set", key, "20"))).toEqual(OK);
      const before = duplicates(f1) + duplicates(f3);
      relay.armed = "blackout";
      const reply = f1.propose(op("incr", key));
      await waitFor("the leader's reply to be lost", () => relay.lost === 1, 10_000, 5);
      await f2.stop(false);
      expect(await reply).toEqual(int(21));
      const next = leaderOf(f1, grp);
      expect(next === "f1" || next === "f3").toBe(true);
      expect(await get(f1, key)).toEqual(bulk(enc.encode("21")));
      // Both survivors applied the retried copy as a duplicate of the committed original.
      expect(duplicates(f1) + duplicates(f3)).toBe(before + 2);
    } finally {
      await stopAll();
    }
  });
});
