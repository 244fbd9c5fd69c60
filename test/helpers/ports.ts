// Free loopback ports for servers the tests start. The kernel picks a port (bind to 0) and the
// listener closes; this process never hands the same port out twice. Other suites run on the
// same machine, so a port can still be taken before our server binds it: callers that start a
// server retry with fresh ports when it fails to come up (see processes.ts).

const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago and not handed out before. */
export function freePort(): number {
  for (;;) {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = s.port;
    s.stop(true);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** n distinct free ports. */
export function freePorts(n: number): number[] {
  return Array.from({ length: n }, freePort);
}
