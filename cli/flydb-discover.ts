#!/usr/bin/env bun
// flydb-discover: list the FlyDB nodes that answer mDNS on this network.
// Exit status: 0 nodes found, 1 none found, 2 error (bad arguments, no usable interface, socket).
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { browse } from "../src/discovery/index.ts";
import { formatHostPort } from "../src/net/hostport.ts";
import { VERSION } from "../src/version.ts";
import type { DiscoveredNode } from "../src/discovery/index.ts";

const EXIT_FOUND = 0;
const EXIT_NONE = 1;
const EXIT_ERROR = 2;

interface Options {
  timeout: number;
  json?: boolean;
  quiet?: boolean;
  clusterId?: string;
  interface?: string;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new InvalidArgumentError("expected a number of seconds in (0, 3600]");
  return n;
}

/** `host:port` of a node's gossip endpoint (the SRV port), IPv6 in brackets; the host name if nothing resolved. */
function gossipAddress(n: DiscoveredNode): string {
  const host = n.addresses[0] ?? n.host;
  return formatHostPort(host, n.port);
}

/** `--json`'s shape: snake_case like the TXT records, the config and the HTTP API (docs/API.md). */
function toJson(n: DiscoveredNode) {
  return {
    instance: n.instance,
    node_id: n.nodeId,
    cluster_id: n.clusterId,
    version: n.version,
    host: n.host,
    port: n.port,
    addresses: n.addresses,
    ports: n.ports,
    txt: n.txt,
  };
}

function table(nodes: DiscoveredNode[]): string {
  const rows = [
    ["NODE", "CLUSTER", "ADDRESS", "RESP", "HTTP", "GOSSIP", "RAFT", "VERSION"],
    ...nodes.map((n) => [
      n.nodeId,
      n.clusterId ?? "-",
      n.addresses.join(",") || n.host,
      ...[n.ports.resp, n.ports.http, n.ports.gossip, n.ports.raft].map((p) => (p === null ? "-" : String(p))),
      n.version ?? "-",
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("flydb-discover")
    .description("Find FlyDB nodes on the local network with mDNS (_flydb._tcp.local).")
    .version(VERSION, "-v, --version")
    .addOption(new Option("--timeout <seconds>", "how long to listen for answers").default(5).argParser(parseSeconds))
    .option("--json", "print a JSON array with every TXT field and the resolved addresses")
    .option("--quiet", "print one gossip host:port per line (for --peers)")
    .option("--cluster-id <id>", "only nodes of this cluster (TXT cluster_id)")
    .option("--interface <name|address>", "browse on this interface only (default: every multicast IPv4 interface)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_FOUND : EXIT_ERROR; // --help/--version exit 0
    throw e;
  }
  const o = program.opts<Options>();
  if (o.json && o.quiet) {
    process.stderr.write("flydb-discover: --json and --quiet cannot be combined\n");
    return EXIT_ERROR;
  }
  let nodes: DiscoveredNode[];
  try {
    nodes = await browse({ timeoutMs: o.timeout * 1000, clusterId: o.clusterId, interface: o.interface });
  } catch (e) {
    process.stderr.write(`flydb-discover: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_ERROR;
  }
  if (o.json) process.stdout.write(`${JSON.stringify(nodes.map(toJson), null, 2)}\n`);
  else if (o.quiet) {
    if (nodes.length) process.stdout.write(`${nodes.map(gossipAddress).join("\n")}\n`);
  } else if (nodes.length) process.stdout.write(`${table(nodes)}\n`);
  else process.stderr.write(`flydb-discover: no FlyDB nodes answered within ${o.timeout} s\n`);
  return nodes.length ? EXIT_FOUND : EXIT_NONE;
}

// No top-level await: `bun build --compile --bytecode` emits CommonJS, which has none.
void main(process.argv)
  .catch((e: unknown) => {
    process.stderr.write(`flydb-discover: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_ERROR;
  })
  .then((code) => {
    process.exitCode = code;
  });
