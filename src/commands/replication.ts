// Redis's replication commands. FlyDB replicates through Raft (docs/design/raft.md), not through
// Redis's master/replica streams: a write is acknowledged only once a majority of its partition's
// replicas have it in their logs, and the cluster, not a client, chooses leaders. So every node
// answers as a master (it accepts every command and forwards writes to the right leader), WAIT
// counts what Raft already guarantees, the commands that would change the topology or open a
// replication stream are refused with a reason, and SYNC gives the RDB file alone.
import { array, bulk, err, int, OK, type Reply } from "../resp/reply.ts";
import { define } from "./define.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, parseInt64 } from "./util.ts";

const RAFT = "FlyDB replicates through Raft: add or remove nodes with the cluster commands instead";

/**
 * Replicas other than the leader that hold every acknowledged write: none on a standalone node;
 * in a cluster, the fewest replicas any slot range has (the replication factor − 1), since a
 * client's earlier writes may be in any partition.
 */
function replicasPerWrite(s: SessionApi): number {
  const ranges = s.cluster?.slots() ?? [];
  return ranges.length === 0 ? 0 : Math.min(...ranges.map((r) => r.replicas.length));
}

/**
 * WAIT numreplicas timeout. A Raft commit is already on a majority, so there is nothing to wait
 * for except replicas that do not exist: then Redis blocks until the timeout, and so does FlyDB,
 * except that a timeout of 0 (forever in Redis) answers at once, as no replica can ever come.
 */
async function wait(s: SessionApi, argv: readonly Uint8Array[]): Promise<Reply> {
  const wanted = parseInt64(argv[1]!);
  if (wanted === undefined) return E.notInt;
  const timeout = parseInt64(argv[2]!);
  if (timeout === undefined) return err("ERR timeout is not an integer or out of range");
  if (timeout < 0n) return err("ERR timeout is negative");
  const acked = replicasPerWrite(s);
  if (wanted > BigInt(acked) && timeout > 0n) await s.server.sleep(Number(timeout));
  return int(acked);
}

function replicaof(name: string): (s: SessionApi, argv: readonly Uint8Array[]) => Reply {
  return (_s, argv) => {
    if (lower(argv[1]!) === "no" && lower(argv[2]!) === "one") return OK;
    const port = parseInt64(argv[2]!);
    if (port === undefined || port < 0n || port > 65535n) return err("ERR Invalid master port");
    return err(`ERR ${name} is not supported: ${RAFT}`);
  };
}

const refuse = (name: string) => (): Reply => err(`ERR ${name} is not supported: ${RAFT}`);

/**
 * SYNC answers with a point-in-time RDB file of database 0 and nothing after it: what
 * `redis-cli --rdb FILE` asks for (it reads the payload's length and then that many bytes). A
 * replica would wait for the command stream that follows, which FlyDB does not send.
 */
function sync(s: SessionApi): Promise<Reply> | Reply {
  return s.server.rdbSnapshot?.() ?? err(`ERR SYNC is not available here: ${RAFT}`);
}

/**
 * The REPLCONF options `redis-cli --rdb` sends before SYNC (capa, rdb-only) are accepted; a filter
 * (rdb-filter-only, for --functions-rdb) is refused, since SYNC always sends the keys.
 */
function replconf(_s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const option = argv[1] ? lower(argv[1]) : "";
  if (option === "capa" || option === "rdb-only") return OK;
  return err(`ERR REPLCONF is not supported: ${RAFT} (only capa and rdb-only, for redis-cli --rdb; not ${option})`);
}

export const REPLICATION_COMMANDS = define("server", [
  {
    name: "role",
    arity: 1,
    flags: ["fast"],
    since: "2.8.12",
    summary: "Returns the replication role: always master (Raft, not Redis replication, keeps FlyDB's replicas).",
    exec: () => array([bulk("master"), int(0), array([])]),
  },
  {
    name: "wait",
    arity: 3,
    flags: [],
    since: "3.0.0",
    summary: "Returns how many replicas besides the leader hold the connection's acknowledged writes (with Raft: all).",
    exec: wait,
  },
  {
    name: "replicaof",
    arity: 3,
    flags: ["admin", "no-multi"],
    since: "5.0.0",
    summary: "REPLICAOF NO ONE answers OK; a master address is refused (Raft manages replication).",
    exec: replicaof("REPLICAOF"),
  },
  {
    name: "slaveof",
    arity: 3,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "Same as REPLICAOF.",
    exec: replicaof("SLAVEOF"),
  },
  {
    name: "failover",
    arity: -1,
    flags: ["admin", "no-multi"],
    since: "6.2.0",
    summary: "Refused: Raft elects each partition's leader.",
    exec: refuse("FAILOVER"),
  },
  {
    name: "psync",
    arity: -3,
    flags: ["admin", "no-multi"],
    since: "2.8.0",
    summary: "Refused: FlyDB has no Redis replication stream.",
    exec: refuse("PSYNC"),
  },
  {
    name: "sync",
    arity: 1,
    flags: ["admin", "no-multi"],
    since: "1.0.0",
    summary: "Answers a point-in-time RDB file of database 0 (for redis-cli --rdb); no replication stream follows.",
    exec: sync,
  },
  {
    name: "replconf",
    arity: -1,
    flags: ["admin", "no-multi"],
    since: "3.0.0",
    summary: "Accepts capa and rdb-only (what redis-cli --rdb sends); refuses the rest.",
    exec: replconf,
  },
]);
