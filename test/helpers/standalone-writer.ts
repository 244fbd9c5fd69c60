// Child process for the kill -9 durability test: a standalone host (fsync = always) proposes
// `SET k<i> v<i>` in bursts of concurrent proposals and prints "ack <i>" for each acknowledged
// one, until killed.
import { op } from "./ops.ts";
import { openStandalone } from "./standalone-host.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: standalone-writer.ts DATA_DIR");
const host = await openStandalone(dir, { fsync: "always" });
let next = 0;
for (;;) {
  const burst: Promise<void>[] = [];
  for (let j = 0; j < 25; j++) {
    const i = next++;
    burst.push(
      host.propose(op(Date.now(), ["set", `k${i}`, `v${i}`])).then(() => void process.stdout.write(`ack ${i}\n`)),
    );
  }
  await Promise.all(burst);
}
