// A standalone node's write path in this process (src/cluster/standalone.ts), for tests that
// reopen, damage and inspect its data dir between steps.
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { StandaloneHost } from "../../src/cluster/standalone.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** The configuration of a standalone node on `dataDir`; `flags` as the CLI would give them. */
export function standaloneConfig(dataDir: string, flags: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: {},
    defaultConfigPath: join(dataDir, "none.toml"),
    flags: { data_dir: dataDir, node_id: "standalone-test", ...flags },
  }).config;
}

/** Opens the host; warnings go to `warnings` when given (default: only errors are logged). */
export function openStandalone(
  dataDir: string,
  flags: Record<string, unknown> = {},
  warnings?: string[],
): Promise<StandaloneHost> {
  mkdirSync(dataDir, { recursive: true });
  const base = createLogger("error", "text");
  const log: Logger = warnings ? { ...base, warn: (msg: string) => void warnings.push(msg) } : base;
  return StandaloneHost.open(standaloneConfig(dataDir, flags), log);
}
