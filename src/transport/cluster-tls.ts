// What secures the transport, from the config: the keys of cluster_secret (and cluster_secret_accept)
// and the certificates of tls_cluster, read at start (a missing file stops start-up with its key's
// name) and again on SIGHUP (Transport.reloadTls).
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import type { ClusterTls } from "./transport.ts";

/** The transport's `keys` and `tls` options; `derive` turns a secret into a key (scrypt, once each). */
export function transportSecurity(
  config: Config,
  derive: (secret: string) => Uint8Array,
): { keys?: Uint8Array[]; tls?: ClusterTls } {
  const keys =
    config.cluster_secret === ""
      ? undefined
      : [config.cluster_secret, config.cluster_secret_accept].filter((s) => s !== "").map(derive);
  const tls = clusterTls(config);
  return { ...(keys ? { keys } : {}), ...(tls ? { tls } : {}) };
}

/** tls_cluster's files, read now (at start, and again on SIGHUP); undefined with tls_cluster off. */
export function clusterTls(config: Config): ClusterTls | undefined {
  if (!config.tls_cluster) return undefined;
  // Without it a node with a valid certificate is still needed for Raft, but anyone could join
  // gossip and be placed replicas it can never hold.
  if (config.cluster_secret === "")
    throw new Error("tls_cluster needs cluster_secret as well: gossip runs over UDP, which TLS does not cover");
  const read = (key: "tls_cert_file" | "tls_key_file" | "tls_ca_cert_file") => {
    if (config[key] === "") throw new Error(`${key} must be set when tls_cluster is on`);
    try {
      return readFileSync(config[key], "utf8");
    } catch (e) {
      throw new Error(`${key} = ${config[key]}: ${(e as Error).message}`);
    }
  };
  return { cert: read("tls_cert_file"), key: read("tls_key_file"), ca: read("tls_ca_cert_file") };
}

/** The certificates of a PEM bundle (tls_ca_cert_file may hold several CAs). */
export function caCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

/**
 * Whether a peer's certificate (DER) was signed by one of the CAs and is valid now: checked by
 * hand when TLS verified the chain but refused the name (nodes are dialled by IP), so that the
 * acceptance never rests on the order in which the TLS layer reports its errors.
 */
export function issuedByCa(der: Uint8Array | undefined, cas: readonly X509Certificate[], now: number): boolean {
  if (!der) return false;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return false;
  }
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return false;
  return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}
