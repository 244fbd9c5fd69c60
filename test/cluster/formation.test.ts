// Five nodes form a cluster by --peers (n1 --bootstrap, the others --peers n1's gossip address,
// started together), each in its own network namespace: all reach ready, the cluster settles, and
// a write through any node is readable through every node. (Three nodes: failover-data.test.ts.)
import { afterAll, beforeAll, describe, setDefaultTimeout } from "bun:test";
import { createHarness, type Harness } from "../helpers/cluster-harness.ts";
import { formationTests } from "../helpers/cluster-scenarios.ts";
import { skipNetns } from "../helpers/netns.ts";

setDefaultTimeout(60_000);
const PARTITIONS = 16;

describe.skipIf(skipNetns)("5-node cluster formed by --peers", () => {
  let h: Harness;

  beforeAll(async () => {
    h = createHarness({ nodes: 5, mode: "cluster", partitionCount: PARTITIONS });
    await h.startAll({ timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await h?.destroy();
  });

  formationTests(() => h, PARTITIONS);
});
