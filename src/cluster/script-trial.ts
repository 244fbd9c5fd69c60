// Where a cluster member may run a script's trial (src/commands/busy-script.ts): only in a partition
// it leads, after a ReadIndex round (MultiRaft.readBarrier), so the trial reads what a linearizable
// read would. A keyless script takes the partition keyless-script.ts would send it to (the first
// this node leads); a script whose keys' partition another node leads runs only in the log.
import type { LocalScriptContext } from "../commands/session.ts";
import { scriptKeys } from "../commands/scripting.ts";
import { groupOf } from "../keyspace/groups.ts";
import { keySlot, partitionOf, SLOT_COUNT } from "../keyspace/slot.ts";
import type { NodeId } from "../raft/types.ts";
import type { ReplicaHost } from "./replica-host.ts";

export function clusterScriptContext(
  replicas: ReplicaHost,
  self: NodeId,
  partitionCount: number,
  db: number,
  resp3: boolean,
  argv: readonly Uint8Array[],
): Promise<LocalScriptContext | undefined> | undefined {
  const raft = replicas.raft;
  const leads = (p: number) => raft.leaderOf(groupOf(p)) === self;
  const keys = scriptKeys(argv);
  let partition: number | undefined;
  let home: LocalScriptContext["home"];
  if (keys.length > 0) {
    const slot = keySlot(keys[0]!);
    // Keys of several slots get the router's CROSSSLOT on the log path.
    if (keys.some((k) => keySlot(k) !== slot)) return undefined;
    partition = partitionOf(slot, partitionCount);
  } else {
    for (let p = 0; p < partitionCount && partition === undefined; p++) if (leads(p)) partition = p;
    if (partition === undefined) return undefined;
    home = { partition, slot: partition * (SLOT_COUNT / partitionCount) };
  }
  if (!leads(partition)) return undefined;
  return raft.readBarrier(groupOf(partition)).then(
    () => {
      const ctx = replicas.localContext(db, resp3);
      return ctx && { ctx, home };
    },
    () => undefined,
  );
}
