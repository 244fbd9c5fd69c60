// Free loopback ports for servers the tests start. Other helpers run tests on the same machine at
// the same time, so a probed port can be taken before our server binds it: callers that start a
// server retry with fresh ports when it fails to come up (see processes.ts).
import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error(`unexpected listen address: ${String(addr)}`));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

/** n distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
