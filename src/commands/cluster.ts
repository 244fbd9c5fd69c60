// CLUSTER, READONLY, READWRITE, ASKING: what Redis-Cluster-aware clients (redis-cli -c, ioredis
// Cluster) need to find the node serving a slot. They describe the real partition map.
import { keySlot } from "../keyspace/slot.ts";
import { array, bulk, err, int, map, OK, verbatim, type Reply } from "../resp/reply.ts";
import { define, subcommands } from "./define.ts";
import type { ClusterNodeRef, ClusterView, SessionApi } from "./types.ts";
import { E, lower, str } from "./util.ts";

const DISABLED = err("ERR This instance has cluster support disabled");

const nodeEntry = (n: ClusterNodeRef): Reply => array([bulk(n.host), int(n.port), bulk(n.id), array([])]);

function slots(c: ClusterView): Reply {
  return array(
    c.slots().map((r) => array([int(r.start), int(r.end), nodeEntry(r.master), ...r.replicas.map(nodeEntry)])),
  );
}

function shards(c: ClusterView): Reply {
  // One shard per slot range: FlyDB's partitions each have their own leader.
  return array(
    c.slots().map((r) =>
      map([
        [bulk("slots"), array([int(r.start), int(r.end)])],
        [
          bulk("nodes"),
          array(
            [r.master, ...r.replicas].map((n, i) =>
              map([
                [bulk("id"), bulk(n.id)],
                [bulk("port"), int(n.port)],
                [bulk("ip"), bulk(n.host)],
                [bulk("endpoint"), bulk(n.host)],
                [bulk("role"), bulk(i === 0 ? "master" : "replica")],
                [bulk("replication-offset"), int(0)],
                [bulk("health"), bulk("online")],
              ]),
            ),
          ),
        ],
      ]),
    ),
  );
}

/**
 * CLUSTER NODES: one line per member, `ip:port@cport,hostname` with the FlyDB name as hostname; a
 * member that leads several partitions lists their ranges, neighbours joined.
 */
function nodes(c: ClusterView): string {
  const ranges = new Map<string, [number, number][]>();
  for (const r of c.slots()) {
    const own = ranges.get(r.master.id) ?? [];
    const last = own[own.length - 1];
    if (last && last[1] === r.start - 1) last[1] = r.end;
    else own.push([r.start, r.end]);
    ranges.set(r.master.id, own);
  }
  return c
    .members()
    .map((m) => {
      const flags = [m.id === c.myId ? "myself" : "", "master", m.alive ? "" : "fail"].filter(Boolean).join(",");
      const slots = (ranges.get(m.id) ?? []).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(" ");
      const link = m.alive ? "connected" : "disconnected";
      return `${m.id} ${m.host}:${m.port}@${m.busPort},${m.name} ${flags} - 0 0 1 ${link} ${slots}`.trimEnd();
    })
    .join("\n")
    .concat("\n");
}

function info(c: ClusterView): string {
  const ranges = c.slots();
  const assigned = ranges.reduce((n, r) => n + (r.end - r.start + 1), 0);
  const masters = new Set(ranges.map((r) => r.master.id)).size;
  return `${[
    `cluster_state:${c.state()}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${c.state() === "ok" ? assigned : 0}`,
    "cluster_slots_pfail:0",
    "cluster_slots_fail:0",
    `cluster_known_nodes:${c.members().length}`,
    `cluster_size:${masters}`,
    "cluster_current_epoch:1",
    "cluster_my_epoch:1",
  ].join("\r\n")}\r\n`;
}

function cluster(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const c = s.cluster;
  if (!c) return DISABLED;
  const sub = lower(argv[1]!);
  switch (sub) {
    case "slots":
      s.client.clusterMode = true;
      return slots(c);
    case "shards":
      s.client.clusterMode = true;
      return shards(c);
    case "nodes":
      return verbatim(nodes(c));
    case "info":
      return verbatim(info(c));
    case "myid":
      return bulk(c.myId);
    case "keyslot":
      return argv.length === 3 ? int(keySlot(argv[2]!)) : E.arity("cluster|keyslot");
    default:
      return err(`ERR unknown subcommand '${str(argv[1]!)}'. Try CLUSTER HELP.`);
  }
}

export const CLUSTER_COMMANDS = define("cluster", [
  {
    name: "cluster",
    arity: -2,
    flags: [],
    since: "3.0.0",
    subcommands: subcommands([
      ["addslots", -3],
      ["addslotsrange", -4],
      ["bumpepoch", 2],
      ["count-failure-reports", 3],
      ["countkeysinslot", 3],
      ["delslots", -3],
      ["delslotsrange", -4],
      ["failover", -2],
      ["flushslots", 2],
      ["forget", 3],
      ["getkeysinslot", 4],
      ["help", 2],
      ["info", 2],
      ["keyslot", 3],
      ["links", 2],
      ["meet", -4],
      ["myid", 2],
      ["nodes", 2],
      ["replicas", 3],
      ["replicate", 3],
      ["reset", -2],
      ["saveconfig", 2],
      ["set-config-epoch", 3],
      ["setslot", -4],
      ["shards", 2],
      ["slaves", 3],
      ["slots", 2],
    ]),
    summary: "Cluster commands: SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT.",
    exec: cluster,
  },
  {
    name: "readonly",
    arity: 1,
    flags: ["fast"],
    since: "3.0.0",
    summary: "Switches the connection to Redis Cluster mode (-MOVED redirects).",
    exec: (s) => {
      if (!s.cluster) return DISABLED;
      s.client.clusterMode = true;
      return OK;
    },
  },
  {
    name: "readwrite",
    arity: 1,
    flags: ["fast"],
    since: "3.0.0",
    summary: "Ends READONLY; the connection keeps getting redirects.",
    exec: (s) => (s.cluster ? OK : DISABLED),
  },
  {
    name: "asking",
    arity: 1,
    flags: ["fast"],
    since: "3.0.0",
    summary: "Accepted for Redis Cluster clients; FlyDB never answers -ASK.",
    exec: (s) => (s.cluster ? OK : DISABLED),
  },
]);
