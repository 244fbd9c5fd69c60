// RESP over TLS and HTTPS, with certificates made by openssl for the test: real redis-cli
// (--tls --cacert, and --cert/--key for client certificates) and ioredis with `tls`, against the
// TLS port while the plain port keeps working; tls_auth_clients no / optional / yes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import Redis from "ioredis";
import { makeCertificates, type Certificates } from "../helpers/certs.ts";
import { startFlyDB, tempDir, type FlyDBProcess } from "../helpers/processes.ts";
import { freePort } from "../helpers/ports.ts";

let certs: Certificates;
/** `ca.crt`, `client.key`, … in the certificates' directory. */
const f = (file: string) => {
  const [name, ext] = file.split(".") as [string, string];
  return ext === "crt" ? certs.crt(name) : certs.key(name);
};

function cli(port: number, ...args: string[]): { out: string; ok: boolean } {
  const r = spawnSync("redis-cli", ["-p", String(port), "--tls", "--cacert", f("ca.crt"), ...args], {
    encoding: "utf8",
    timeout: 10_000,
  });
  return { out: `${r.stdout}${r.stderr}`.trim(), ok: r.status === 0 && !/error|refused|closed/i.test(r.stderr) };
}

async function startTls(
  auth: "no" | "optional" | "yes",
  extra: string[] = [],
): Promise<{ fly: FlyDBProcess; tls: number }> {
  const tls = freePort();
  const fly = await startFlyDB({
    args: [
      ...["--tls-port", String(tls), "--tls-cert-file", f("server.crt"), "--tls-key-file", f("server.key")],
      ...["--tls-ca-cert-file", f("ca.crt"), "--tls-auth-clients", auth, ...extra],
    ],
  });
  return { fly, tls };
}

beforeAll(() => {
  certs = makeCertificates();
});

describe("TLS", () => {
  let server: { fly: FlyDBProcess; tls: number };
  beforeAll(async () => {
    server = await startTls("no", ["--tls-http"]);
  }, 60_000);
  afterAll(() => server?.fly.stop());

  test("redis-cli --tls --cacert talks to the TLS port; the plain port still answers", () => {
    expect(cli(server.tls, "SET", "k", "over-tls").out).toBe("OK");
    expect(cli(server.tls, "GET", "k").out).toBe("over-tls");
    const plain = spawnSync("redis-cli", ["-p", String(server.fly.port), "GET", "k"], { encoding: "utf8" });
    expect(plain.stdout.trim()).toBe("over-tls");
    // Plain RESP sent to the TLS port is not a TLS handshake: no reply.
    const wrong = spawnSync("redis-cli", ["-p", String(server.tls), "PING"], { encoding: "utf8", timeout: 5000 });
    expect(wrong.stdout.trim()).not.toBe("PONG");
  });

  test("a client that does not trust the server's CA is refused by itself", () => {
    const r = spawnSync("redis-cli", ["-p", String(server.tls), "--tls", "--cacert", f("rogue-ca.crt"), "PING"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.stdout.trim()).not.toBe("PONG");
  });

  test("ioredis with tls", async () => {
    const r = new Redis({
      port: server.tls,
      host: "127.0.0.1",
      tls: { ca: readFileSync(f("ca.crt")) },
      lazyConnect: true,
    });
    await r.connect();
    await r.set("io", "tls-value");
    expect(await r.get("io")).toBe("tls-value");
    r.disconnect();
  });

  test("HTTPS with the same certificate", async () => {
    const res = await fetch(`https://127.0.0.1:${server.fly.httpPort}/health`, {
      tls: { ca: readFileSync(f("ca.crt"), "utf8") },
    });
    expect(res.status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${server.fly.httpPort}/health`)).rejects.toThrow();
  });
});

describe("TLS client certificates", () => {
  test("tls_auth_clients yes: a certificate signed by the CA is required", async () => {
    const { fly, tls } = await startTls("yes");
    try {
      expect(cli(tls, "PING").out).not.toBe("PONG");
      expect(cli(tls, "--cert", f("client.crt"), "--key", f("client.key"), "PING").out).toBe("PONG");
      expect(cli(tls, "--cert", f("rogue.crt"), "--key", f("rogue.key"), "PING").out).not.toBe("PONG");
      const io = new Redis({
        port: tls,
        host: "127.0.0.1",
        lazyConnect: true,
        tls: { ca: readFileSync(f("ca.crt")), cert: readFileSync(f("client.crt")), key: readFileSync(f("client.key")) },
      });
      await io.connect();
      expect(await io.ping()).toBe("PONG");
      io.disconnect();
    } finally {
      await fly.stop();
    }
  }, 60_000);

  test("tls_auth_clients optional: no certificate is fine, a good one too; tls_protocols TLSv1.3 refuses 1.2", async () => {
    const { fly, tls } = await startTls("optional", ["--tls-protocols", "TLSv1.3"]);
    try {
      const handshake = (version: "TLSv1.2" | "TLSv1.3") =>
        new Promise<string>((resolve) => {
          const opts = { port: tls, host: "127.0.0.1", rejectUnauthorized: false };
          const s = tlsConnect({ ...opts, minVersion: version, maxVersion: version }, () => {
            resolve(String(s.getProtocol()));
            s.end();
          });
          s.on("error", (e) => resolve(`refused: ${e.message}`));
        });
      expect(await handshake("TLSv1.3")).toBe("TLSv1.3");
      expect(await handshake("TLSv1.2")).toMatch(/^refused: .*(protocol version|alert)/i);
      expect(cli(tls, "PING").out).toBe("PONG");
      expect(cli(tls, "--cert", f("client.crt"), "--key", f("client.key"), "PING").out).toBe("PONG");
      expect(cli(tls, "--cert", f("rogue.crt"), "--key", f("rogue.key"), "PING").out).not.toBe("PONG");
    } finally {
      await fly.stop();
    }
  }, 60_000);
});

/** The CN of the certificate the TLS port serves to a new connection (presenting `client`). */
function servedName(port: number, client: { cert: Buffer; key: Buffer } | object = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false, ...client }, () => {
      resolve(String(s.getPeerCertificate().subject?.CN));
      s.end();
    });
    s.on("error", reject);
  });
}

describe("certificates reload on SIGHUP", () => {
  test("new connections get the new certificate on tls_port, HTTPS and tls_cluster's Raft port, open ones stay; an unreadable one keeps the old", async () => {
    const dir = tempDir("tls-reload");
    const live = { crt: join(dir, "live.crt"), key: join(dir, "live.key") };
    copyFileSync(f("server.crt"), live.crt);
    copyFileSync(f("server.key"), live.key);
    const tls = freePort();
    const raft = freePort();
    // A one-node cluster, so that the Raft transport serves tls_cluster with the same files.
    const cluster = ["--bootstrap", "--cluster-addr", `127.0.0.1:${freePort()}`, "--raft-addr", `127.0.0.1:${raft}`];
    const fly = await startFlyDB({
      args: [
        ...["--tls-port", String(tls), "--tls-cert-file", live.crt, "--tls-key-file", live.key],
        ...["--tls-auth-clients", "no", "--tls-http", "--tls-ca-cert-file", f("ca.crt")],
        ...[...cluster, "--cluster-secret", "reload-test-secret", "--tls-cluster"],
      ],
    });
    // The Raft port refuses a peer without a certificate of the cluster's CA.
    const peer = { cert: readFileSync(f("client.crt")), key: readFileSync(f("client.key")) };
    const served = async () => [await servedName(tls), await servedName(fly.httpPort), await servedName(raft, peer)];
    try {
      expect(await served()).toEqual(["server", "server", "server"]);
      const before = new Redis({
        port: tls,
        host: "127.0.0.1",
        tls: { ca: readFileSync(f("ca.crt")) },
        lazyConnect: true,
      });
      await before.connect();
      copyFileSync(f("node.crt"), live.crt);
      copyFileSync(f("node.key"), live.key);
      process.kill(fly.pid, "SIGHUP");
      const end = Date.now() + 5000;
      // Each port refuses connections for the instant its new socket replaces the old: ask after.
      while (!fly.log().includes("certificates reloaded") && Date.now() < end) await Bun.sleep(50);
      expect(await served()).toEqual(["node", "node", "node"]);
      expect(await before.ping()).toBe("PONG");
      before.disconnect();
      expect(fly.log()).toContain("received SIGHUP: TLS certificates reloaded for new connections");

      writeFileSync(live.key, "not a key");
      process.kill(fly.pid, "SIGHUP");
      while (!fly.log().includes("certificates not reloaded") && Date.now() < end + 5000) await Bun.sleep(50);
      expect(fly.log()).toContain("received SIGHUP: certificates not reloaded, the previous ones stay");
      expect(await served()).toEqual(["node", "node", "node"]);
    } finally {
      await fly.stop();
    }
  }, 60_000);
});
