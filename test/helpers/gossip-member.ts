// One gossip member as a process, for tests and the detection bench. argv[2]: GossipNodeOptions
// as JSON. Prints JSON lines: ready, every event (with the resulting view), and answers to stdin
// commands: "stats", "leave", "meta <json>".
import { GossipNode, type GossipNodeOptions } from "../../src/gossip/index.ts";

const opts = JSON.parse(process.argv[2] ?? "{}") as GossipNodeOptions;
const node = new GossipNode(opts);
const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
const view = () => Object.fromEntries(node.members().map((m) => [m.id, m.state]));

node.on("*", (e) =>
  print({
    kind: "event",
    type: e.type,
    id: e.member.id,
    at: e.at,
    inc: e.member.incarnation,
    meta: e.member.meta,
    view: view(),
  }),
);
await node.start();
print({ kind: "ready", addr: node.addr, pid: process.pid, view: view() });

let pending = "";
process.stdin.on("data", async (chunk: Buffer) => {
  pending += chunk.toString();
  for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === "stats") print({ kind: "stats", counters: node.counters(), members: node.members() });
    else if (line.startsWith("meta ")) node.updateMeta(JSON.parse(line.slice(5)));
    else if (line === "leave") {
      await node.leave();
      print({ kind: "left" });
      process.exit(0);
    }
  }
});
