// What the RESP and HTTP listeners need from the TLS and protected-mode settings.
import { constants } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TLSOptions } from "bun";
import type { AclRegistry } from "../acl/registry.ts";
import { DEFAULT_USER } from "../acl/registry.ts";
import type { Config } from "../config/schema.ts";
import { err } from "../resp/reply.ts";

/** Reads the certificate files once (at start); a missing one stops start-up with its name. */
export function tlsOptions(config: Config, forClients = true): TLSOptions {
  const read = (key: "tls_cert_file" | "tls_key_file" | "tls_ca_cert_file") => {
    if (config[key] === "") throw new Error(`${key} must be set when TLS is on (tls_port or tls_http)`);
    try {
      return readFileSync(config[key], "utf8");
    } catch (e) {
      throw new Error(`${key} = ${config[key]}: ${(e as Error).message}`);
    }
  };
  // OpenSSL's switches off of the versions tls_protocols leaves out (its choices are 1.2 and 1.3).
  const secureOptions =
    (config.tls_protocols.includes("TLSv1.2") ? 0 : constants.SSL_OP_NO_TLSv1_2) |
    (config.tls_protocols.includes("TLSv1.3") ? 0 : constants.SSL_OP_NO_TLSv1_3);
  const base = { cert: read("tls_cert_file"), key: read("tls_key_file"), secureOptions };
  const auth = forClients ? config.tls_auth_clients : "no";
  if (auth === "no") return base;
  // "optional": a client may connect without a certificate; the handshake still checks one that is sent.
  return { ...base, ca: read("tls_ca_cert_file"), requestCert: true, rejectUnauthorized: auth === "yes" };
}

/** Redis's reply to a client refused by protected mode (src/networking.c, 7.0), then the connection closes. */
export const PROTECTED_MODE_DENIED = err(
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.",
);

const isLoopback = (host: string) => /^(127\.|::1$|::ffff:127\.|localhost$)/i.test(host);
/** "ip:port" or "[ip6]:port" → the ip. */
const hostOf = (addr: string) => addr.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");

/**
 * Protected mode (as Redis): the default user has no password, the node listens beyond loopback,
 * and this client is not on loopback.
 */
export function protectedModeRefuses(config: Config, acl: AclRegistry, bindHost: string, clientAddr: string): boolean {
  if (!config.protected_mode || isLoopback(bindHost) || isLoopback(hostOf(clientAddr))) return false;
  return acl.get(DEFAULT_USER)?.nopass === true;
}
