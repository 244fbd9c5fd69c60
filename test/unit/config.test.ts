import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { CONFIG_KEYS, ConfigError, SCHEMA } from "../../src/config/schema.ts";

const dir = mkdtempSync(join(tmpdir(), "flydb-config-"));
const toml = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const noFile = { env: {}, defaultConfigPath: join(dir, "absent.toml") };

describe("config loading", () => {
  test("defaults match the setup guide's ports and the embedded data dir", () => {
    const { config, file } = loadConfig(noFile);
    expect(file).toBeUndefined();
    expect(config.bind_addr).toBe(":6380");
    expect(config.http_addr).toBe(":8080");
    expect(config.cluster_addr).toBe(":7946");
    expect(config.raft_addr).toBe(":7947");
    expect(config.data_dir).toBe("./data");
    expect(config.partition_count).toBe(256);
    expect(config.fsync).toBe("always");
    expect(config.node_id.length).toBeGreaterThan(0);
  });

  test("precedence: flags over environment over file over defaults", () => {
    const path = toml("prec.toml", 'node_id = "from-file"\nzone = "file-zone"\nfsync = "no"\nreplication_factor = 5\n');
    const { config } = loadConfig({
      ...noFile,
      configPath: path,
      env: { FLYDB_ZONE: "env-zone", FLYDB_FSYNC: "everysec" },
      flags: { fsync: "always" },
    });
    expect(config.node_id).toBe("from-file");
    expect(config.zone).toBe("env-zone");
    expect(config.fsync).toBe("always");
    expect(config.replication_factor).toBe(5);
  });

  test("peer lists accept commas, white space and TOML arrays", () => {
    expect(loadConfig({ ...noFile, flags: { cluster_peers: "a:7946, b:7946\nc:7946" } }).config.cluster_peers).toEqual([
      "a:7946",
      "b:7946",
      "c:7946",
    ]);
    const path = toml("peers.toml", 'cluster_peers = ["10.0.0.1:7946", "10.0.0.2:7946"]\n');
    expect(loadConfig({ ...noFile, configPath: path }).config.cluster_peers).toEqual([
      "10.0.0.1:7946",
      "10.0.0.2:7946",
    ]);
  });

  test("durations and sizes parse with units", () => {
    const { config } = loadConfig({ ...noFile, flags: { dead_node_timeout: "90s", proto_max_bulk_len: "64mb" } });
    expect(config.dead_node_timeout).toBe(90_000);
    expect(config.proto_max_bulk_len).toBe(64 * 1024 * 1024);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["partition_count not a power of two", { partition_count: "100" }, /partition_count: "100".*power of two/],
    [
      "enum outside its choices",
      { routing_strategy: "random" },
      /routing_strategy: "random".*one of key-based, round-robin/,
    ],
    ["port out of range", { bind_addr: ":70000" }, /bind_addr: ":70000".*\[host\]:port/],
    ["boolean that is not one", { discovery_enabled: "maybe" }, /discovery_enabled.*true or false/],
    ["node id with a space", { node_id: "my node" }, /node_id: "my node"/],
    ["peer without a port", { cluster_peers: "hostonly" }, /"hostonly" is not host:port/],
    ["bootstrap with bootstrap_expect", { bootstrap: true, bootstrap_expect: "3" }, /exclude each other/],
    [
      "a TLS version not offered",
      { tls_protocols: "TLSv1.1 TLSv1.2" },
      /tls_protocols: "TLSv1.1 TLSv1.2".*allowed: one or more of TLSv1.2, TLSv1.3/,
    ],
    [
      "bootstrap_expect with no way to find nodes",
      { bootstrap_expect: "3" },
      /bootstrap_expect = 3 needs a way to find the other nodes; allowed: with discovery_enabled = true or cluster_peers/,
    ],
  ];
  for (const [what, flags, message] of bad) {
    test(`rejects ${what} with one line naming key, value and what is allowed`, () => {
      let error: unknown;
      try {
        loadConfig({ ...noFile, flags });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain("\n");
    });
  }

  test("unknown TOML key names the key and the file", () => {
    const path = toml("unknown.toml", 'bind_adr = ":6380"\n');
    expect(() => loadConfig({ ...noFile, configPath: path })).toThrow(
      /unknown config key "bind_adr" in .*unknown\.toml/,
    );
  });

  test("a TOML value of the wrong type names the source file", () => {
    const path = toml("wrongtype.toml", 'partition_count = "lots"\n');
    expect(() => loadConfig({ ...noFile, configPath: path })).toThrow(
      /partition_count: "lots" \(from .*wrongtype\.toml\)/,
    );
  });

  test("malformed TOML is reported as such", () => {
    const path = toml("broken.toml", "node_id = \n");
    expect(() => loadConfig({ ...noFile, configPath: path })).toThrow(/not valid TOML/);
  });

  test("an environment variable with a bad value names the variable", () => {
    expect(() => loadConfig({ ...noFile, env: { FLYDB_FSYNC: "sometimes" } })).toThrow(/environment FLYDB_FSYNC/);
  });

  test("every key's default passes its own validation", () => {
    for (const key of CONFIG_KEYS) {
      const spec = SCHEMA[key];
      if (spec.rule && key !== "node_id") expect(spec.rule(spec.def as never)).toBeUndefined();
    }
  });
});
