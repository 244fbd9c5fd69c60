// UDP sockets for mDNS on node:dgram. One socket on 0.0.0.0:5353 with SO_REUSEADDR shares the
// port with avahi-daemon or python-zeroconf; it joins 224.0.0.251 on each chosen interface by
// address. Sends to several interfaces are serialised because the outgoing interface is a socket
// option (IP_MULTICAST_IF) that must not change under a datagram still in flight.
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { MDNS_GROUP, MDNS_PORT } from "./core/records.ts";
import type { MulticastInterface } from "./interfaces.ts";

export interface MdnsSocket {
  readonly port: number;
  sendMulticast(bytes: Uint8Array): Promise<void>;
  sendUnicast(bytes: Uint8Array, address: string, port: number): Promise<void>;
  close(): Promise<void>;
}

export interface MdnsSocketOptions {
  readonly interfaces: readonly MulticastInterface[];
  /** 5353 to take part in mDNS; 0 for a one-shot querier on an ephemeral port (RFC 6762 §5.1). */
  readonly port: number;
  readonly onMessage: (bytes: Uint8Array, from: { address: string; port: number }) => void;
  readonly onError?: (err: Error) => void;
}

export async function openMdnsSocket(opts: MdnsSocketOptions): Promise<MdnsSocket> {
  const socket: Socket = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", (e) => {
      socket.close();
      reject(new Error(`mDNS socket: cannot bind UDP 0.0.0.0:${opts.port}: ${e.message}`));
    });
    socket.bind(opts.port, "0.0.0.0", () => {
      socket.removeAllListeners("error");
      resolve();
    });
  });
  try {
    if (opts.port === MDNS_PORT) for (const i of opts.interfaces) socket.addMembership(MDNS_GROUP, i.address);
    socket.setMulticastTTL(255);
    socket.setMulticastLoopback(true); // other mDNS stacks on this host must hear us too
  } catch (e) {
    socket.close();
    throw new Error(
      `mDNS socket on port ${opts.port}: cannot join ${MDNS_GROUP} on ${opts.interfaces.map((i) => `${i.name}/${i.address}`).join(", ")}: ${String(e)}`,
    );
  }
  socket.on("message", (msg, rinfo) => {
    try {
      opts.onMessage(msg, { address: rinfo.address, port: rinfo.port });
    } catch (e) {
      // The receive path must survive anything a packet does to a handler.
      opts.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  });
  socket.on("error", (e) => opts.onError?.(e));

  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const send = (bytes: Uint8Array, port: number, address: string): Promise<void> =>
    new Promise((resolve, reject) => socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
  const enqueue = (job: () => Promise<void>): Promise<void> => {
    const run = queue.then(() => (closed ? undefined : job()));
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    port: socket.address().port,
    sendMulticast: (bytes) =>
      enqueue(async () => {
        for (const i of opts.interfaces) {
          socket.setMulticastInterface(i.address);
          await send(bytes, MDNS_PORT, MDNS_GROUP);
        }
      }),
    sendUnicast: (bytes, address, port) => enqueue(() => send(bytes, port, address)),
    close: async () => {
      await queue;
      closed = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
