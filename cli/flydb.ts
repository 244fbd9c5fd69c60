#!/usr/bin/env bun
// `flydb`: parse flags, load the config (flags > FLYDB_* env > TOML > defaults), start a node.
import { Command, Option } from "commander";
import { CONFIG_KEYS, ConfigError, SCHEMA, type ConfigKey } from "../src/config/schema.ts";
import {
  DEFAULT_CONFIG_PATH,
  envName,
  flagName,
  loadConfig,
  tomlDefault,
  unknownEnvNames,
} from "../src/config/load.ts";
import { VERSION } from "../src/version.ts";
import { type RunningNode, startNode } from "../src/node.ts";
import { ADMIN_HELP, addAdminCommands } from "./admin/commands.ts";
import { addBackupCommands } from "./admin/backup.ts";
import { addExportRdbCommand } from "./admin/export-rdb.ts";
import { addImportRdbCommand } from "./admin/import-rdb.ts";

const program = new Command()
  .name("flydb")
  .description("FlyDB: a Redis-protocol key-value database with Raft replication, gossip membership and mDNS discovery")
  .version(VERSION, "-v, --version")
  .option("-c, --config <path>", `TOML config file (default: ${DEFAULT_CONFIG_PATH} when it exists)`)
  .addOption(new Option("--peers <list>", "alias of --cluster-peers").hideHelp(false))
  .addHelpText(
    "after",
    "\nEvery option can also be set in the TOML file (same name with '_') or as FLYDB_<NAME> in the environment.\nPrecedence: flags > environment > file > defaults.",
  );

for (const key of CONFIG_KEYS) {
  const spec = SCHEMA[key];
  const flag = flagName(key);
  // An empty default says nothing (keys whose empty value means something say so in their help).
  const shownDefault = spec.secret || key === "node_id" || spec.def === "" ? "" : ` (default: ${tomlDefault(key)})`;
  const choices = spec.kind === "enum" ? ` (one of: ${spec.choices!.join(", ")})` : "";
  const help = `${spec.help}${choices}${shownDefault} [${envName(key)}]`;
  if (spec.kind === "bool") {
    program.addOption(new Option(flag, help));
    program.addOption(new Option(`--no-${flag.slice(2)}`).hideHelp());
  } else {
    program.addOption(new Option(`${flag} <value>`, help));
  }
}

// The node's own flags go before any subcommand, so an admin command's --http or --timeout stays its own.
// A usage mistake (unknown flag, missing value) exits 2 like a bad config value; a runtime failure exits 1.
program
  .addHelpText("after", ADMIN_HELP)
  .enablePositionalOptions()
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
addAdminCommands(program);
addImportRdbCommand(program);
addExportRdbCommand(program);
addBackupCommands(program);

program.action(async (opts: Record<string, unknown>) => {
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of CONFIG_KEYS) {
    const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[camel] !== undefined) flags[key] = opts[camel];
  }
  if (opts.peers !== undefined) flags.cluster_peers = opts.peers;
  let node: RunningNode | undefined;
  const reloadCertificates = (n: RunningNode) => {
    try {
      if (n.reloadCertificates()) n.log.info("received SIGHUP: TLS certificates reloaded for new connections");
      else n.log.info("received SIGHUP: no tls_port, tls_http or tls_cluster, nothing to reload");
    } catch (e) {
      n.log.error("received SIGHUP: certificates not reloaded, the previous ones stay", { error: String(e) });
    }
  };
  // Handled from the first moment: the ports answer before start-up ends (a cluster node opens its
  // data plane last), and SIGHUP's default action would end the process. One received while
  // starting reloads once started, since the files may have changed after they were read.
  let hupWhileStarting = false;
  process.on("SIGHUP", () => {
    if (node) reloadCertificates(node);
    else hupWhileStarting = true;
  });
  try {
    for (const name of unknownEnvNames(process.env))
      process.stderr.write(`flydb: warning: ${name} is not a FlyDB setting; ignored\n`);
    const loaded = loadConfig({ configPath: opts.config as string | undefined, flags });
    const exit0 = () => process.exit(0);
    // Keys, values and users are nobody else's business: files 0600 and directories 0700 whatever
    // the umask the node was started with (a data dir made earlier keeps its mode).
    process.umask(0o077);
    node = await startNode(loaded.config, { configFile: loaded.file, onLeft: exit0, onShutdown: exit0 });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`flydb: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info(`received ${signal}, shutting down`);
    await node.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  if (hupWhileStarting) reloadCertificates(node);
});

// No top-level await: bytecode compilation (--bytecode, faster start-up) needs a CommonJS-shaped entry.
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`flydb: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
