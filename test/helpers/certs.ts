// Certificates for TLS tests and benchmarks, made with openssl in a temp dir: a CA, a server
// certificate for 127.0.0.1 and a client certificate signed by it, and a client of another CA.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./processes.ts";

export interface Certificates {
  /** Path of `<name>.crt` / `<name>.key`: ca, server, client, node, rogue-ca, rogue. */
  readonly crt: (name: string) => string;
  readonly key: (name: string) => string;
}

function openssl(...args: string[]): void {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

export function makeCertificates(): Certificates {
  const dir = tempDir("tls-certs");
  const f = (name: string) => join(dir, name);
  for (const ca of ["ca", "rogue-ca"]) {
    openssl(
      ...[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${ca}`,
      ],
      ...["-keyout", f(`${ca}.key`), "-out", f(`${ca}.crt`)],
    );
  }
  const sign = (name: string, ca: string, ext: string) => {
    openssl(
      ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${name}`],
      ...["-keyout", f(`${name}.key`), "-out", f(`${name}.csr`)],
    );
    writeFileSync(f(`${name}.ext`), ext);
    openssl(
      ...["x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${ca}.crt`), "-CAkey", f(`${ca}.key`)],
      ...["-CAcreateserial", "-days", "2", "-extfile", f(`${name}.ext`), "-out", f(`${name}.crt`)],
    );
  };
  sign("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  sign("client", "ca", "extendedKeyUsage=clientAuth\n");
  sign("rogue", "rogue-ca", "extendedKeyUsage=serverAuth,clientAuth\n");
  // A cluster member's certificate for tls_cluster: both ends of a link, no IP among its names.
  sign("node", "ca", "extendedKeyUsage=serverAuth,clientAuth\n");
  return { crt: (n) => f(`${n}.crt`), key: (n) => f(`${n}.key`) };
}
