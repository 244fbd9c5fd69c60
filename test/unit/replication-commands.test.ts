// WAIT and ROLE in cluster mode, where no redis-server can be compared: WAIT counts the replicas
// Raft already made every acknowledged write reach (see src/commands/replication.ts).
import { expect, test } from "bun:test";
import { REPLICATION_COMMANDS } from "../../src/commands/replication.ts";
import type { ClusterView, SessionApi, SlotRange } from "../../src/commands/types.ts";
import { array, bulk, int, type Reply } from "../../src/resp/reply.ts";

const enc = new TextEncoder();
const node = (id: string) => ({ id, name: id, host: "127.0.0.1", port: 7000, busPort: 9000 });

function session(ranges: SlotRange[] | undefined, slept: number[]): SessionApi {
  const cluster = ranges && ({ slots: () => ranges } as unknown as ClusterView);
  const server = { sleep: async (ms: number) => void slept.push(ms) };
  return { cluster, server } as unknown as SessionApi;
}

async function run(s: SessionApi, ...argv: string[]): Promise<Reply> {
  const spec = REPLICATION_COMMANDS.find((c) => c.name === argv[0]!.toLowerCase())!;
  return spec.exec!(
    s,
    argv.map((a) => enc.encode(a)),
  );
}

test("WAIT: 0 on a standalone node, the fewest replicas of any slot range in a cluster", async () => {
  const slept: number[] = [];
  expect(await run(session(undefined, slept), "WAIT", "0", "0")).toEqual({ t: "int", v: 0 });
  const threeWay = [
    { start: 0, end: 8000, master: node("a"), replicas: [node("b"), node("c")] },
    { start: 8001, end: 16383, master: node("b"), replicas: [node("a"), node("c")] },
  ];
  expect(await run(session(threeWay, slept), "WAIT", "2", "100")).toEqual({ t: "int", v: 2 });
  expect(slept).toEqual([]);
  const degraded = [...threeWay, { start: 16383, end: 16383, master: node("c"), replicas: [node("a")] }];
  expect(await run(session(degraded, slept), "WAIT", "2", "100")).toEqual({ t: "int", v: 1 });
  // More replicas than exist: the timeout is waited out, as Redis does; 0 (forever) answers at once.
  expect(slept).toEqual([100]);
  expect(await run(session(degraded, slept), "WAIT", "5", "0")).toEqual({ t: "int", v: 1 });
  expect(slept).toEqual([100]);
});

test("ROLE is master with no replicas in a cluster too", async () => {
  const ranges = [{ start: 0, end: 16383, master: node("a"), replicas: [node("b")] }];
  const master = array([bulk("master"), int(0), array([])]);
  expect(await run(session(ranges, []), "ROLE")).toEqual(master);
});
