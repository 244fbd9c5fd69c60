// Config precedence: flags > FLYDB_* environment > TOML file > defaults (see docs/design/operations.md).
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parse as parseToml } from "smol-toml";
import { parseHostPort, type HostPort } from "../net/hostport.ts";
import { parsePeerList } from "./peers.ts";
import { BYTE_UNITS, CONFIG_KEYS, ConfigError, SCHEMA, type Config, type ConfigKey, type KeySpec } from "./schema.ts";

export const DEFAULT_CONFIG_PATH = "/etc/flydb/flydb.toml";

export const envName = (key: ConfigKey) => `FLYDB_${key.toUpperCase()}`;
export const flagName = (key: ConfigKey) => `--${key.replaceAll("_", "-")}`;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** What a value of this kind must look like, as error messages and docs/CONFIGURATION.md say it. */
export function describe(spec: KeySpec): string {
  switch (spec.kind) {
    case "bool":
      return "true or false";
    case "enum":
      return `one of ${spec.choices!.join(", ")}`;
    case "int":
      return `an integer from ${spec.min} to ${spec.max}`;
    case "duration":
      return "a duration such as 500ms, 90s, 5m or 1h";
    case "bytes":
      return "a size such as 1048576, 64kb or 512mb";
    case "addr":
      return "[host]:port with a port from 0 (any free port) to 65535";
    case "list":
      return "a list of host:port (array, or comma/space separated string)";
    case "words":
      return `one or more of ${spec.choices!.join(", ")} (array, or comma/space separated string)`;
    default:
      return "a string";
  }
}

/** Converts a TOML value or a string from env/flags into the key's type, or says what is allowed. */
function coerce(key: ConfigKey, raw: unknown, source: string): Config[ConfigKey] {
  const spec = SCHEMA[key];
  const fail = (allowed = describe(spec)): never => {
    const shown = typeof raw === "string" ? JSON.stringify(raw) : String(raw);
    throw new ConfigError(`invalid value for ${key}: ${shown} (from ${source}); allowed: ${allowed}`);
  };
  let v: Config[ConfigKey];
  switch (spec.kind) {
    case "bool":
      if (typeof raw === "boolean") v = raw;
      else if (raw === "true" || raw === "1" || raw === "yes") v = true;
      else if (raw === "false" || raw === "0" || raw === "no") v = false;
      else return fail();
      break;
    case "int": {
      const n =
        typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < spec.min! || n > spec.max!) return fail();
      v = n;
      break;
    }
    case "duration": {
      const m = typeof raw === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim()) : null;
      const n = typeof raw === "number" ? raw * 1000 : m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : NaN;
      if (!Number.isFinite(n) || n < (spec.min ?? 0)) return fail(`${describe(spec)}, at least ${spec.min} ms`);
      v = Math.round(n);
      break;
    }
    case "bytes": {
      const m = typeof raw === "string" ? /^(\d+)\s*([a-z]*)$/i.exec(raw.trim()) : null;
      const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
      const n = typeof raw === "number" ? raw : m && unit ? Number(m[1]) * unit : NaN;
      if (!Number.isInteger(n) || n < spec.min! || n > spec.max!)
        return fail(`${describe(spec)}, from ${spec.min} to ${spec.max} bytes`);
      v = n;
      break;
    }
    case "enum":
      if (typeof raw !== "string" || !spec.choices!.includes(raw)) return fail();
      v = raw;
      break;
    case "list":
    case "words": {
      if (typeof raw === "string") v = parsePeerList(raw);
      else if (Array.isArray(raw) && raw.every((p) => typeof p === "string")) v = raw.flatMap(parsePeerList);
      else return fail();
      const items = v as string[];
      if (spec.kind === "words") {
        if (items.length === 0 || items.some((w) => !spec.choices!.includes(w))) return fail();
      } else {
        for (const p of items) if (!isAddr(p, true)) fail(`${describe(spec)}; ${JSON.stringify(p)} is not host:port`);
      }
      break;
    }
    case "addr":
      if (typeof raw !== "string" || !isAddr(raw, false)) return fail();
      v = raw;
      break;
    default:
      if (typeof raw !== "string") return fail();
      v = raw;
  }
  const broken = spec.rule?.(v as never);
  if (broken !== undefined) fail(broken);
  return v;
}

function isAddr(s: string, needHost: boolean): boolean {
  let addr: HostPort;
  try {
    addr = parseHostPort(s, "");
  } catch {
    return false;
  }
  // Port 0 (pick a free port) makes sense for listening, never for a peer to dial.
  return !needHost || (addr.port >= 1 && addr.host !== "");
}

export interface LoadOptions {
  /** Path given with --config; when absent, DEFAULT_CONFIG_PATH is read if it exists. */
  configPath?: string;
  env?: Record<string, string | undefined>;
  /** Values from CLI flags, already keyed by config key, as strings or booleans. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  defaultConfigPath?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Where the TOML came from, if any (for the start-up log line). */
  file: string | undefined;
}

/**
 * FLYDB_* variables that name no setting: a typo such as FLYDB_FSYNK would otherwise be ignored in
 * silence. FLYDB_TEST_* belong to the test hooks and are never listed.
 */
export function unknownEnvNames(env: Record<string, string | undefined>): string[] {
  const known = new Set(CONFIG_KEYS.map(envName));
  return Object.keys(env)
    .filter((name) => name.startsWith("FLYDB_") && !name.startsWith("FLYDB_TEST_") && !known.has(name))
    .sort();
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const config = Object.fromEntries(CONFIG_KEYS.map((k) => [k, structuredClone(SCHEMA[k].def)])) as unknown as Config;
  const set = (key: ConfigKey, raw: unknown, source: string) => {
    (config as unknown as Record<string, unknown>)[key] = coerce(key, raw, source);
  };

  const defaultPath = opts.defaultConfigPath ?? DEFAULT_CONFIG_PATH;
  const file = opts.configPath ?? (existsSync(defaultPath) ? defaultPath : undefined);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    let table: Record<string, unknown>;
    try {
      table = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const { line, column, message } = e as Error & { line?: number; column?: number };
      const at = line === undefined ? "" : ` at line ${line}, column ${column}`;
      const why = message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`config file ${file} is not valid TOML${at}: ${why}`);
    }
    for (const [key, raw] of Object.entries(table)) {
      if (!(key in SCHEMA))
        throw new ConfigError(
          `unknown config key ${JSON.stringify(key)} in ${file}; allowed keys: ${CONFIG_KEYS.join(", ")}`,
        );
      set(key as ConfigKey, raw, file);
    }
  }
  for (const key of CONFIG_KEYS) {
    const raw = env[envName(key)];
    if (raw !== undefined && raw !== "") set(key, raw, `environment ${envName(key)}`);
  }
  for (const [key, raw] of Object.entries(opts.flags ?? {})) {
    if (raw !== undefined) set(key as ConfigKey, raw, `flag ${flagName(key as ConfigKey)}`);
  }
  if (config.node_id === "") config.node_id = sanitizeHostname(hostname());
  validateCombination(config);
  return { config, file };
}

function sanitizeHostname(h: string): string {
  const id = h
    .split(".")[0]!
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 63);
  return /^[A-Za-z0-9]/.test(id) ? id : `node-${id}`;
}

function validateCombination(c: Config): void {
  if (c.bootstrap && c.bootstrap_expect > 0) {
    throw new ConfigError("bootstrap = true and bootstrap_expect > 0 exclude each other; allowed: one of them");
  }
  // Otherwise the node could never see the others and would wait forever.
  if (c.bootstrap_expect > 0 && !c.discovery_enabled && c.cluster_peers.length === 0) {
    throw new ConfigError(
      `bootstrap_expect = ${c.bootstrap_expect} needs a way to find the other nodes; allowed: with discovery_enabled = true or cluster_peers`,
    );
  }
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function formatBytes(n: number): string {
  for (const [unit, size] of [
    ["gb", 1024 ** 3],
    ["mb", 1024 ** 2],
    ["kb", 1024],
  ] as const)
    if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/** The default as it is written in TOML (and accepted as a flag): durations and sizes with units. */
export function tomlDefault(key: ConfigKey): string {
  const spec = SCHEMA[key];
  const v = spec.def;
  if (spec.kind === "duration") return JSON.stringify(formatDuration(v as number));
  if (spec.kind === "bytes") return JSON.stringify(formatBytes(v as number));
  if (Array.isArray(v)) return `[${v.map((p) => JSON.stringify(p)).join(", ")}]`;
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** The value as CONFIG GET and docs show it: secrets hidden, lists joined. */
export function formatValue(key: ConfigKey, c: Config): string {
  const v = c[key];
  if (SCHEMA[key].secret) return v === "" ? "" : "********";
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}
