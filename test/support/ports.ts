// Free TCP ports on loopback for tests that start servers next to other helpers' tests: the
// kernel picks a port (bind to 0), the listener closes, and this process never hands the same
// port out twice.
const handedOut = new Set<number>();

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
