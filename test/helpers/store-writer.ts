// Child process for the kill -9 durability test: proposes `set k<i> v<i>` in bursts of
// concurrent proposals and prints "ack <i>" for each acknowledged one, until killed.
import { StoreEngine } from "../../src/store/engine.ts";
import { op, testApply } from "./store-apply.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: store-writer.ts DATA_DIR");
const engine = await StoreEngine.open({ dataDir: dir, fsync: "always", apply: testApply, compactIntervalMs: 50 });
let next = 0;
for (;;) {
  const burst: Promise<void>[] = [];
  for (let j = 0; j < 25; j++) {
    const i = next++;
    burst.push(
      engine.propose(op(Date.now(), ["set", `k${i}`, `v${i}`])).then(() => void process.stdout.write(`ack ${i}\n`)),
    );
  }
  await Promise.all(burst);
}
