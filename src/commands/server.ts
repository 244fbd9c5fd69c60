// Server commands: they act on the node the client is connected to (its configuration, statistics
// and logs), never on the keyspace, so each node answers for itself as a Redis Cluster node does.
import { array, bulk, verbatim } from "../resp/reply.ts";
import { command } from "./command-info.ts";
import { config } from "./config.ts";
import { define, subcommands } from "./define.ts";
import { latency } from "./latency.ts";
import { slowlog } from "./slowlog.ts";
import { lower, utf8 } from "./util.ts";

export const SERVER_COMMANDS = define("server", [
  {
    name: "command",
    arity: -1,
    flags: [],
    since: "2.8.13",
    summary: "Returns detailed information about all commands.",
    subcommands: subcommands([
      ["count", 2],
      ["docs", -2],
      ["getkeys", -4],
      ["getkeysandflags", -4],
      ["help", 2],
      ["info", -2],
      ["list", -2],
    ]),
    exec: command,
  },
  {
    name: "config",
    arity: -2,
    flags: ["admin"],
    since: "2.0.0",
    subcommands: subcommands([
      ["get", -3],
      ["help", 2],
      ["resetstat", 2],
      ["rewrite", 2],
      ["set", -4],
    ]),
    summary: "Configuration of this node: CONFIG GET, SET, RESETSTAT, REWRITE.",
    exec: config,
  },
  {
    name: "slowlog",
    arity: -2,
    flags: ["admin"],
    since: "2.2.12",
    subcommands: subcommands([
      ["get", -2],
      ["help", 2],
      ["len", 2],
      ["reset", 2],
    ]),
    summary: "This node's slow commands: SLOWLOG GET, LEN, RESET.",
    exec: slowlog,
  },
  {
    name: "latency",
    arity: -2,
    flags: ["admin"],
    since: "2.8.13",
    subcommands: subcommands([
      ["doctor", 2],
      ["help", 2],
      ["history", 3],
      ["latest", 2],
      ["reset", -2],
    ]),
    summary: "This node's latency spikes (latency-monitor-threshold): LATENCY LATEST, HISTORY, RESET, DOCTOR.",
    exec: latency,
  },
  {
    name: "info",
    arity: -1,
    flags: [],
    since: "1.0.0",
    summary: "Returns information and statistics about the server.",
    exec: (s, argv) => {
      // Several sections (INFO cpu all) travel as one space-separated string.
      const section = argv.length > 1 ? argv.slice(1).map(lower).join(" ") : undefined;
      const text = s.server.info(section, s.now);
      return typeof text === "string" ? verbatim(text) : text.then((t) => (typeof t === "string" ? verbatim(t) : t));
    },
    // Only the keyspace section needs every partition: its per-database key and expiry totals
    // (__dbsizepart ALL takes no section).
    cluster: {
      request: "all_shards",
      via: "__dbsizepart",
      response: { special: "keyspace_totals" },
      partArgs: () => [utf8("all")],
    },
  },
  {
    name: "time",
    arity: 1,
    flags: ["fast", "random"],
    since: "2.6.0",
    summary: "Returns the server time.",
    exec: (s) => {
      const us = Math.floor(s.now * 1000);
      return array([bulk(String(Math.floor(us / 1e6))), bulk(String(us % 1e6))]);
    },
  },
]);
