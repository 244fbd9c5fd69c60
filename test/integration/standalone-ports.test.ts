// A standalone node is a cluster of one without a network (src/cluster/standalone.ts): it listens
// on its RESP and HTTP ports and on nothing else, no Raft transport, gossip (TCP or UDP) or mDNS
// socket. The sockets are read from /proc, as the kernel sees them; a one-node cluster member is
// the control case, so the check is shown to see the ports a standalone node must not open.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { ensureBinary, startClusterMember, startFlyDB, type FlyDBProcess } from "../helpers/processes.ts";

const procs: FlyDBProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
});

interface Sockets {
  /** Ports of the process's listening TCP sockets (IPv4 and IPv6). */
  readonly tcpListening: number[];
  /** Ports of its UDP sockets (gossip, mDNS). */
  readonly udp: number[];
}

/** The process's sockets: its fds' socket inodes matched against /proc/net. */
function socketsOf(pid: number): Sockets {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // the fd closed while listing
    }
  }
  const rows = (table: string) =>
    ["", "6"].flatMap((v) =>
      readFileSync(`/proc/${pid}/net/${table}${v}`, "utf8")
        .split("\n")
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length > 9 && inodes.has(f[9]!)),
    );
  const port = (f: string[]) => Number.parseInt(f[1]!.split(":").at(-1)!, 16);
  const sorted = (ports: number[]) => [...new Set(ports)].sort((a, b) => a - b);
  return {
    tcpListening: sorted(
      rows("tcp")
        .filter((f) => f[3] === "0A")
        .map(port),
    ),
    udp: sorted(rows("udp").map(port)),
  };
}

/** The sockets once the node has had `ms` to open what it opens after start-up (gossip, formation). */
async function settledSockets(pid: number, done: (s: Sockets) => boolean, ms: number): Promise<Sockets> {
  const end = Date.now() + ms;
  let s = socketsOf(pid);
  while (!done(s) && Date.now() < end) {
    await Bun.sleep(50);
    s = socketsOf(pid);
  }
  return s;
}

describe.skipIf(!existsSync("/proc/self/net/tcp"))("sockets of a node", () => {
  test("a standalone node listens on its RESP and HTTP ports only", async () => {
    const node = await startFlyDB({ binary: ensureBinary(), args: ["--log-level", "warn"] });
    procs.push(node);
    // A whole second: a member's gossip and Raft sockets are open well within it (control below).
    expect(await settledSockets(node.pid, () => false, 1000)).toEqual({
      tcpListening: [node.port, node.httpPort].sort((a, b) => a - b),
      udp: [],
    });
  });

  test("control: a one-node cluster member also listens for Raft and gossip", async () => {
    const m = await startClusterMember({
      id: "ports1",
      partitions: 8,
      binary: ensureBinary(),
      args: ["--log-level", "warn"],
    });
    procs.push(m);
    expect(await settledSockets(m.pid, (s) => s.udp.length > 0 && s.tcpListening.length >= 4, 10_000)).toEqual({
      tcpListening: [m.port, m.httpPort, m.raft, m.gossip].sort((a, b) => a - b),
      udp: [m.gossip],
    });
  });
});
