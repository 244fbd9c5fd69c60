// The node-to-node transport's protections over real loopback TCP, with a recording relay between
// two nodes: sealed frames carry no plaintext, a stream captured before the receiver restarted is
// refused after it, a wrong or missing cluster_secret and a certificate of another CA are refused
// with one log line naming the address and the reason, and mutual TLS carries the traffic.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "bun";
import { makeCertificates, type Certificates } from "../helpers/certs.ts";
import { Transport, type ClusterTls, type TransportOptions } from "../../src/transport/transport.ts";

const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

const KEY = randomBytes(32);
const MARKER = "plaintext-marker-0123456789";

function node(id: string, extra: Partial<TransportOptions> = {}) {
  const inbox: unknown[] = [];
  const refusals: string[] = [];
  const t = Transport.listen({
    nodeId: id,
    clusterId: "c1",
    host: "127.0.0.1",
    port: 0,
    onMessage: (_from, msg) => inbox.push(msg),
    onRequest: async (_from, body) => ({ echo: body }),
    onRefused: (line) => refusals.push(line),
    ...extra,
  });
  open.push(t);
  return { t, inbox, refusals, addr: `127.0.0.1:${t.port}` };
}

/** A TCP relay to `port` that records what the dialer sent through it. */
function relay(port: number) {
  const sent: Buffer[] = [];
  const listener = Bun.listen<{ up: Socket<unknown> | null; early: Buffer[] }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (down) => {
        down.data = { up: null, early: [] };
        void Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open: (up) => {
              down.data.up = up;
              for (const b of down.data.early.splice(0)) up.write(b);
            },
            data: (_up, chunk) => {
              down.write(chunk);
            },
            close: () => {
              down.end();
            },
          },
        });
      },
      data: (down, chunk) => {
        sent.push(Buffer.from(chunk));
        if (down.data.up) down.data.up.write(chunk);
        else down.data.early.push(Buffer.from(chunk));
      },
      close: (down) => {
        down.data.up?.end();
      },
    },
  });
  open.push({ close: () => listener.stop(true) });
  return { addr: `127.0.0.1:${listener.port}`, sent: () => Buffer.concat(sent) };
}

/** Writes bytes on a fresh connection to `port` and waits until the node closes it (or 1 s). */
function replay(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    s.on("data", () => {});
    s.on("close", () => resolve());
    s.on("error", () => resolve());
    setTimeout(() => s.destroy(), 1000);
  });
}

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
};

describe("cluster_secret", () => {
  test("frames are sealed: the plaintext never crosses the wire, replies come back", async () => {
    const b = node("b", { keys: [KEY] });
    const a = node("a", { keys: [KEY] });
    const r = relay(b.t.port);
    a.t.send("b", r.addr, MARKER);
    expect(await a.t.request("b", r.addr, MARKER, 2000)).toEqual({ echo: MARKER });
    await until(() => b.inbox.length === 1, "the message");
    expect(b.inbox).toEqual([MARKER]);
    expect(r.sent().length).toBeGreaterThan(MARKER.length);
    expect(r.sent().includes(MARKER)).toBe(false);
  });

  test("a stream captured before the receiver restarted is refused after the restart", async () => {
    let b = node("b", { keys: [KEY] });
    const port = b.t.port;
    const a = node("a", { keys: [KEY] });
    const r = relay(port);
    for (let i = 0; i < 5; i++) {
      a.t.send("b", r.addr, { n: i });
      await Bun.sleep(2);
    }
    await until(() => b.inbox.length === 5, "the captured messages");
    const captured = r.sent();
    // Replayed to the running node on a new connection: refused already.
    await replay(port, captured);
    expect(b.inbox.length).toBe(5);
    b.t.close();
    b = node("b", { keys: [KEY], port }); // the restart: same key, same port, nothing in memory
    await replay(port, captured);
    await until(() => b.refusals.length > 0, "the refusal");
    expect(b.inbox).toEqual([]);
    expect(b.t.stats.rejected).toBe(1);
    expect(b.refusals).toEqual([
      'refused a connection from 127.0.0.1 on the Raft port: node "a": a frame failed authentication (forged or replayed)',
    ]);
  });

  test("a wrong or missing secret is refused with one log line per address and reason", async () => {
    const b = node("b", { keys: [KEY] });
    const wrong = node("w", { keys: [randomBytes(32)] });
    const none = node("n");
    for (let i = 0; i < 10; i++) {
      wrong.t.send("b", b.addr, "inject");
      none.t.send("b", b.addr, "inject");
      await Bun.sleep(30);
    }
    await until(() => b.t.stats.rejected >= 4, "several refusals");
    expect(b.inbox).toEqual([]);
    expect(b.refusals.sort()).toEqual([
      "refused a connection from 127.0.0.1 on the Raft port: its hello failed authentication: its cluster_secret differs from this node's",
      "refused a connection from 127.0.0.1 on the Raft port: sent an unencrypted hello: cluster_secret is not set on that node",
    ]);
    // The refused side says where to look, once.
    expect(wrong.refusals).toHaveLength(1);
    expect(wrong.refusals[0]).toStartWith(`b at ${b.addr} closed the connection before the handshake ended`);
  });

  test("strangers varying their ids get one quoted line; a large first frame is refused unread", async () => {
    const b = node("b");
    for (const [id, cluster] of [
      ["x\ninjected", "other"],
      ["y", "another"],
    ]) {
      const stranger = Transport.listen({
        nodeId: id!,
        clusterId: cluster!,
        host: "127.0.0.1",
        port: 0,
        onMessage() {},
      });
      open.push(stranger);
      stranger.send("b", b.addr, "inject");
      await until(() => b.t.stats.rejected > 0, "a refusal");
    }
    await until(() => b.t.stats.rejected === 2, "both refusals");
    expect(b.refusals).toEqual([
      'refused a connection from 127.0.0.1 on the Raft port: node "x\\ninjected" belongs to cluster id "other", this node to "c1"',
    ]);
    const before = b.t.stats.rejected;
    await replay(b.t.port, Buffer.from([0, 0x10, 0, 0, 1, 2, 3])); // announces 1 MiB
    expect(b.t.stats.rejected).toBe(before + 1);
    expect(b.inbox).toEqual([]);
  });

  test("rotation: a node accepting a second key talks to nodes sealing with either; others stay out", async () => {
    const next = randomBytes(32);
    const step1 = node("s1", { keys: [KEY, next] }); // seals with the current key, accepts the next
    const step2 = node("s2", { keys: [next, KEY] }); // seals with the next one, accepts the current
    const before = node("s0", { keys: [KEY] });
    expect(await before.t.request("s1", step1.addr, "a", 2000)).toEqual({ echo: "a" });
    expect(await step1.t.request("s2", step2.addr, "b", 2000)).toEqual({ echo: "b" });
    expect(await step2.t.request("s1", step1.addr, "c", 2000)).toEqual({ echo: "c" });
    expect(await step2.t.request("s0", before.addr, "d", 2000).catch(() => "refused")).toBe("refused");
    expect(before.refusals).toHaveLength(1);
  });
});

describe("tls_cluster (mutual TLS)", () => {
  let certs: Certificates;
  const tls = (name: string, ca = "ca"): ClusterTls => ({
    cert: readFileSync(certs.crt(name), "utf8"),
    key: readFileSync(certs.key(name), "utf8"),
    ca: readFileSync(certs.crt(ca), "utf8"),
  });
  beforeAll(() => {
    certs = makeCertificates();
  });

  test("members with certificates of the cluster's CA talk; the wire carries no plaintext", async () => {
    const b = node("b", { tls: tls("node") });
    const a = node("a", { tls: tls("node") });
    const r = relay(b.t.port);
    a.t.send("b", r.addr, MARKER);
    expect(await a.t.request("b", r.addr, MARKER, 5000)).toEqual({ echo: MARKER });
    expect(b.inbox).toEqual([MARKER]);
    expect(r.sent().includes(MARKER)).toBe(false);
  });

  test("a certificate of another CA and a plain TCP dialer are refused and logged", async () => {
    const b = node("b", { tls: tls("node") });
    const rogue = node("r", { tls: tls("rogue", "ca") });
    const plain = node("p");
    rogue.t.send("b", b.addr, "inject");
    plain.t.send("b", b.addr, "inject");
    expect(b.inbox).toEqual([]);
    const prefix = "refused a connection from 127.0.0.1 on the Raft port: TLS handshake failed: ";
    await until(() => b.refusals.length === 2, "both refusals");
    await Bun.sleep(300);
    expect(b.refusals.map((l) => l.slice(0, l.indexOf(" ("))).sort()).toEqual([
      `${prefix}EPROTO`,
      `${prefix}UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
    ]);
    expect(rogue.refusals).toHaveLength(1);
    // A member dialling a node whose certificate is not the cluster's refuses it too.
    const member = node("m", { tls: tls("node") });
    const rogueServer = node("rs", { tls: tls("rogue", "ca") });
    await expect(member.t.request("rs", rogueServer.addr, "secret?", 2000)).rejects.toThrow();
    expect(rogueServer.inbox).toEqual([]);
    expect(member.refusals[0]).toStartWith(`refused rs at ${rogueServer.addr}: its certificate: `);
  });
});
