// ACL users in a three-node loopback cluster: ACL SETUSER on one member authorizes the user on
// the others within a second (the users travel through the metadata group), concurrent changes
// on two members both hold, ACL DELUSER is seen everywhere, and a member restarted from its data
// dir still knows the users. The members run as a secured cluster (cluster_secret and tls_cluster,
// mutual TLS between nodes): a node with the secret but a certificate of another CA is refused,
// logged once by the member it dials, and reads nothing; a node without the secret is refused by
// gossip, logged, and joins nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { makeCertificates, type Certificates } from "../helpers/certs.ts";
import { startLoopbackCluster, type LoopbackCluster, type LoopbackMember } from "../helpers/loopback-cluster.ts";
import { waitUntil } from "../helpers/cluster-harness.ts";
import { startClusterMember, type ClusterMemberProcess } from "../helpers/processes.ts";

let cluster: LoopbackCluster;
let certs: Certificates;
const SECRET = "acl-cluster-secret";
const secured = (cert: string) => [
  ...["--cluster-secret", SECRET, "--tls-cluster", "--tls-ca-cert-file", certs.crt("ca")],
  ...["--tls-cert-file", certs.crt(cert), "--tls-key-file", certs.key(cert)],
];

beforeAll(async () => {
  certs = makeCertificates();
  cluster = await startLoopbackCluster({ size: 3, partitions: 4, prefix: "acl", args: secured("node") });
  await cluster.settled();
}, 90_000);
afterAll(() => cluster?.stop());

/** A fresh connection that authenticates as `user` (null: refused, with the error). */
async function authAs(m: LoopbackMember, user: string, pass: string): Promise<Redis | string> {
  const c = new Redis({ port: m.proc.port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  c.on("error", () => {});
  await c.connect();
  try {
    await c.call("AUTH", user, pass);
    return c;
  } catch (e) {
    c.disconnect();
    return (e as Error).message;
  }
}

describe("ACL users in a cluster", () => {
  test("a user created on one member can AUTH on the others within a second", async () => {
    const [a, b, c] = cluster.members as [LoopbackMember, LoopbackMember, LoopbackMember];
    expect(
      await cluster.client(a).call("ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "+@all", "(~pub:* +get)"),
    ).toBe("OK");
    // Both members polled at once, and only until the AUTH succeeds: the second is measured, not the
    // round trips of the checks below (under load they alone could take a second).
    const started = performance.now();
    const conns = await Promise.all(
      [b, c].map((m) =>
        waitUntil(
          async () => {
            const r = await authAs(m, "alice", "pw");
            return typeof r === "string" ? undefined : r;
          },
          5_000,
          `alice to be known on ${m.id}`,
          20,
        ),
      ),
    );
    const knownMs = performance.now() - started;
    for (const conn of conns) {
      // The rules came along too: keys outside app:* are refused.
      expect(await conn.set("app:1", "x")).toBe("OK");
      await expect(conn.set("other", "x")).rejects.toThrow("NOPERM");
      // And its selector: pub:* may be read, not written.
      expect(await conn.get("pub:1")).toBeNull();
      await expect(conn.set("pub:1", "x")).rejects.toThrow("NOPERM");
      conn.disconnect();
    }
    console.log(`[acl] alice known on the two other members ${Math.round(knownMs)} ms after ACL SETUSER`);
    expect(knownMs).toBeLessThan(1_000);
    expect(await cluster.client(c).call("ACL", "GETUSER", "alice")).toEqual(
      await cluster.client(a).call("ACL", "GETUSER", "alice"),
    );
  }, 30_000);

  test("concurrent changes on two members both hold; DELUSER is seen everywhere", async () => {
    const [a, b, c] = cluster.members as [LoopbackMember, LoopbackMember, LoopbackMember];
    const names = Array.from({ length: 6 }, (_, i) => `u${i}`);
    const replies = await Promise.all(
      names.map((n, i) => cluster.client(i % 2 === 0 ? a : b).call("ACL", "SETUSER", n, "on", ">p", "+ping")),
    );
    expect(replies).toEqual(names.map(() => "OK"));
    await waitUntil(
      async () => {
        const users = (await cluster.client(c).call("ACL", "USERS")) as string[];
        return names.every((n) => users.includes(n)) ? true : undefined;
      },
      5_000,
      "every user on the third member",
    );
    expect(await cluster.client(b).call("ACL", "DELUSER", "u0", "u1")).toBe(2);
    await waitUntil(
      async () => {
        const r = await authAs(c, "u0", "p");
        return typeof r === "string" && r.includes("WRONGPASS") ? true : undefined;
      },
      5_000,
      "u0 gone from the third member",
    );
  }, 30_000);

  test("a restarted member still knows the users", async () => {
    const c = cluster.members[2]!;
    await cluster.kill9(c);
    await cluster.restart(c);
    await cluster.settled();
    const conn = await waitUntil(
      async () => {
        const r = await authAs(c, "alice", "pw");
        return typeof r === "string" ? undefined : r;
      },
      10_000,
      "alice known after the restart",
    );
    conn.disconnect();
  }, 90_000);

  test("a rogue flydb --peers without the secret is refused, logged, joins nothing and reads nothing", async () => {
    const [a] = cluster.members as [LoopbackMember];
    expect(await cluster.client(a).set("rogue:k", "members-only")).toBe("OK");
    const logged = a.proc.log().length;
    const rogue = await startClusterMember({
      id: "plain-rogue",
      seed: a.proc.gossip,
      partitions: cluster.partitions,
      args: ["--log-level", "warn"],
      binary: "dist",
    });
    try {
      await waitUntil(
        async () => a.proc.log().slice(logged).includes("refused gossip from 127.0.0.1: an unencrypted packet"),
        15_000,
        "the seed's log line refusing the rogue",
      );
      const members = (await (await fetch(`${a.proc.http}/cluster/status`)).json()) as { members: { id: string }[] };
      expect(members.members.map((m) => m.id)).not.toContain("plain-rogue");
      const c = new Redis({ port: rogue.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 1500 });
      c.on("error", () => {});
      const read = await c.get("rogue:k").catch((e: Error) => e.message);
      c.disconnect();
      expect(read).not.toBe("members-only");
    } finally {
      await rogue.stop();
    }
  }, 30_000);

  test("a node with the secret but a certificate of another CA is refused, logged once, and reads nothing", async () => {
    const [a] = cluster.members as [LoopbackMember];
    expect(await cluster.client(a).set("tls:k", "members-only")).toBe("OK");
    let rogue: ClusterMemberProcess | undefined;
    // Only what the members log from now on (the restart above may have cut handshakes short).
    const logged = new Map(cluster.members.map((m) => [m, m.proc.log().length]));
    try {
      rogue = await startClusterMember({
        id: "rogue",
        seed: a.proc.gossip,
        partitions: cluster.partitions,
        args: ["--log-level", "warn", ...secured("rogue")],
        binary: "dist",
      });
      const refused = (m: LoopbackMember) =>
        m.proc
          .log()
          .slice(logged.get(m))
          .match(/refused a connection from 127\.0\.0\.1 on the Raft port: TLS handshake failed: \S+/g) ?? [];
      const lines = await waitUntil(
        async () => {
          const all = cluster.members.flatMap(refused);
          return all.length > 0 ? all : undefined;
        },
        15_000,
        "a member's log line refusing the rogue",
      );
      expect(lines[0]).toEndWith("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      const c = new Redis({ port: rogue.port, host: "127.0.0.1", maxRetriesPerRequest: 0, commandTimeout: 1500 });
      c.on("error", () => {});
      const read = await c.get("tls:k").catch((e: Error) => e.message);
      c.disconnect();
      expect(read).not.toBe("members-only");
      // Throttled: the rogue kept retrying, each member said so at most once per minute.
      for (const m of cluster.members) expect(refused(m).length).toBeLessThanOrEqual(1);
      expect(await cluster.client(a).get("tls:k")).toBe("members-only");
    } finally {
      await rogue?.stop();
    }
  }, 30_000);
});
