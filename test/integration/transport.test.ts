// The node-to-node transport over real loopback TCP.
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { connect, type Socket } from "node:net";
import { encodeFrame, FrameDecoder, FrameError } from "../../src/transport/frame.ts";
import { randomBytes } from "node:crypto";
import {
  COALESCE_BYTES,
  PeerUnreachable,
  RequestTimeout,
  Transport,
  type TransportOptions,
} from "../../src/transport/transport.ts";

const open: Transport[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

function node(id: string, extra: Partial<TransportOptions> = {}) {
  const inbox: { from: string; msg: unknown }[] = [];
  const t = Transport.listen({
    nodeId: id,
    clusterId: "c1",
    host: "127.0.0.1",
    port: 0,
    onMessage: (from, msg) => inbox.push({ from, msg }),
    onRequest: async (from, body) => ({ echo: body, from }),
    ...extra,
  });
  open.push(t);
  return { t, inbox, addr: `127.0.0.1:${t.port}` };
}

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
};

describe("frame codec", () => {
  test("frames split at every byte boundary decode the same", () => {
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
    const wire = Buffer.concat(payloads.map(encodeFrame));
    for (let cut = 0; cut <= wire.length; cut += 37) {
      const d = new FrameDecoder(1 << 20);
      const out = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      expect(out.map((f) => Buffer.from(f).toString("hex"))).toEqual(
        payloads.map((p) => Buffer.from(p).toString("hex")),
      );
    }
  });

  test("an oversized length is refused before allocating", () => {
    const d = new FrameDecoder(1024);
    expect(() => d.push(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))).toThrow(FrameError);
  });
});

describe("transport", () => {
  test("messages of one turn arrive in order as one frame", async () => {
    const a = node("a");
    const b = node("b");
    for (let i = 0; i < 100; i++) a.t.send("b", b.addr, { grp: i % 7, n: i });
    await until(() => b.inbox.length === 100, "100 messages");
    expect(b.inbox.map((m) => (m.msg as { n: number }).n)).toEqual([...Array(100).keys()]);
    expect(b.inbox.every((m) => m.from === "a")).toBe(true);
    // HELLO plus one batch frame.
    expect(a.t.stats.framesSent).toBe(2);
  });

  test("requests get their replies; binary bodies survive", async () => {
    const a = node("a");
    const b = node("b");
    const body = { argv: [new Uint8Array([0, 255, 10, 13])] };
    const r = (await a.t.request("b", b.addr, body, 2000)) as { echo: typeof body; from: string };
    expect(r.from).toBe("a");
    expect([...r.echo.argv[0]!]).toEqual([0, 255, 10, 13]);
  });

  test("a failing handler's error reaches the caller", async () => {
    const a = node("a");
    const b = node("b", {
      onRequest: async () => {
        throw new Error("no leader for partition 3");
      },
    });
    await expect(a.t.request("b", b.addr, 1, 2000)).rejects.toThrow(/no leader for partition 3/);
  });

  test("a request to a dead address fails at once as PeerUnreachable (never sent: safe to retry)", async () => {
    const a = node("a");
    const gone = node("gone");
    const addr = gone.addr;
    gone.t.close();
    await expect(a.t.request("gone", addr, 1, 10_000)).rejects.toBeInstanceOf(PeerUnreachable);
  });

  test("while a dial to a peer is in back-off, a request fails at once as PeerUnreachable instead of waiting for the retry", async () => {
    const a = node("a");
    const gone = node("gone");
    const addr = gone.addr;
    gone.t.close();
    a.t.send("gone", addr, "keeps the redials going");
    await until(() => a.t.stats.reconnects > 0, "a redial to be scheduled");
    const redials = a.t.stats.reconnects;
    const failed = await a.t
      .request("gone", addr, 1, 10_000)
      .catch((e: unknown) => ({ e, redials: a.t.stats.reconnects }));
    expect((failed as { e: unknown }).e).toBeInstanceOf(PeerUnreachable);
    // Rejected before the scheduled redial ran: the request did not wait in the backlog.
    expect((failed as { redials: number }).redials).toBe(redials);
  });

  test("a request whose handler never answers times out as RequestTimeout (outcome unknown)", async () => {
    const a = node("a");
    const b = node("b", { onRequest: () => new Promise(() => {}) });
    await expect(a.t.request("b", b.addr, 1, 300)).rejects.toBeInstanceOf(RequestTimeout);
  });

  test("messages queued while a peer is down are delivered when it comes back", async () => {
    const a = node("a");
    const probe = node("probe");
    const port = probe.t.port;
    probe.t.close();
    a.t.send("b", `127.0.0.1:${port}`, "early");
    await Bun.sleep(150);
    const inbox: unknown[] = [];
    const b = Transport.listen({
      nodeId: "b",
      clusterId: "c1",
      host: "127.0.0.1",
      port,
      onMessage: (_f, m) => inbox.push(m),
    });
    open.push(b);
    await until(() => inbox.length === 1, "the queued message");
    expect(inbox).toEqual(["early"]);
    expect(a.t.stats.reconnects).toBeGreaterThan(0);
  });

  test("a node of another cluster is refused", async () => {
    const b = node("b");
    const stranger = Transport.listen({
      nodeId: "x",
      clusterId: "other",
      host: "127.0.0.1",
      port: 0,
      onMessage: () => {},
    });
    open.push(stranger);
    stranger.send("b", b.addr, "inject");
    await until(() => b.t.stats.rejected > 0, "rejection");
    expect(b.inbox).toEqual([]);
  });

  test("garbage and oversized frames are dropped, counted, and the node keeps serving", async () => {
    const b = node("b", { maxFrameBytes: 4096 });
    for (const junk of [
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      encodeFrame(new Uint8Array([0xc1, 0xc1])),
    ]) {
      await new Promise<void>((resolve) => {
        const s = connect(b.t.port, "127.0.0.1", () => s.write(junk));
        s.on("close", () => resolve());
        s.on("error", () => resolve());
        setTimeout(() => s.destroy(), 300);
      });
    }
    expect(b.t.stats.rejected).toBeGreaterThanOrEqual(2);
    const a = node("a");
    a.t.send("b", b.addr, "still alive");
    await until(() => b.inbox.length === 1, "a good message after garbage");
  });

  describe("a dial whose SYNs are dropped (a peer cut off by a network partition)", () => {
    // A listener that never accepts, its accept queue filled: the kernel drops further SYNs, as a
    // link that is down does, so a dial to it stays pending under SYN retransmission back-off.
    let blackhole: Subprocess | undefined;
    const fillers: Socket[] = [];
    afterEach(() => {
      blackhole?.kill();
      for (const f of fillers.splice(0)) f.destroy();
    });
    async function droppingAddr(): Promise<string> {
      const proc = Bun.spawn(
        [
          "python3",
          "-c",
          "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0); " +
            "print(s.getsockname()[1], flush=True); time.sleep(30)",
        ],
        { stdout: "pipe" },
      );
      blackhole = proc;
      const reader = proc.stdout.getReader();
      const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
      reader.releaseLock();
      for (let i = 0; i < 3; i++) fillers.push(connect(port, "127.0.0.1").on("error", () => {}));
      await Bun.sleep(200);
      return `127.0.0.1:${port}`;
    }

    test("is abandoned after CONNECT_TIMEOUT_MS and retried, reaching the peer at its new address", async () => {
      const a = node("a");
      const b = node("b");
      a.t.send("b", await droppingAddr(), "queued while cut off");
      await Bun.sleep(100);
      a.t.send("b", b.addr, "after the heal");
      // Before: the pending dial went on for the kernel's SYN back-off (over a minute).
      await until(() => b.inbox.length === 2, "both messages", 3_500);
    });

    test("redial() abandons it at once (gossip saw the peer come back)", async () => {
      const a = node("a");
      const b = node("b");
      a.t.send("b", await droppingAddr(), "queued while cut off");
      await Bun.sleep(100);
      a.t.send("b", b.addr, "after the heal");
      a.t.redial("b");
      await until(() => b.inbox.length === 2, "both messages", 1_000);
    });
  });
});

describe("write coalescing", () => {
  test("a turn's sealed frames share a few writes and arrive in order, each reply to its request", async () => {
    const key = randomBytes(32);
    const b = node("b", { keys: [key] });
    const a = node("a", { keys: [key] });
    await a.t.request("b", b.addr, "handshake done", 2000);
    const [frames, writes] = [a.t.stats.framesSent, a.t.stats.writes];
    // One turn: 300 requests, one of them larger than a coalesced write, and one-way messages between them.
    const big = new Uint8Array(3 * COALESCE_BYTES).fill(7);
    const replies = Array.from({ length: 300 }, (_, i) => {
      a.t.send("b", b.addr, i);
      return a.t.request("b", b.addr, i === 150 ? { i, big } : { i }, 10_000);
    });
    const echoed = (await Promise.all(replies)) as { echo: { i: number; big?: Uint8Array } }[];
    expect(echoed.map((r) => r.echo.i)).toEqual([...Array(300).keys()]);
    expect(echoed[150]!.echo.big?.length).toBe(big.length);
    await until(() => b.inbox.length === 300, "300 messages");
    expect(b.inbox.map((m) => m.msg)).toEqual([...Array(300).keys()]);
    // A sealed frame out of order fails authentication and closes the connection.
    expect(b.t.stats.rejected + a.t.stats.rejected).toBe(0);
    expect(a.t.stats.framesSent - frames).toBe(301);
    // 301 frames, ~250 KB: a write per COALESCE_BYTES and one for the big frame, not one per frame.
    expect(a.t.stats.writes - writes).toBeLessThan(12);
  });
});
