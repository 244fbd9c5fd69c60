// Five nodes form a cluster by --peers (n1 --bootstrap, the others --peers n1's gossip address,
// started together), each in its own network namespace: all reach ready, the cluster settles, and
// a write through any node is readable through every node. (Three nodes: failover-data.test.ts.)
// Then the read-routing checks of test/helpers/routing-scenarios.ts run on these five nodes.
import { afterAll, beforeAll, describe, setDefaultTimeout } from "bun:test";
import { createHarness, type Harness } from "../helpers/cluster-harness.ts";
import { formationTests } from "../helpers/cluster-scenarios.ts";
import { routingTests } from "../helpers/routing-scenarios.ts";
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
  // Read routing on 5 nodes with rf 3 (issue #17): some nodes hold no replica of a partition.
  routingTests(() => h, PARTITIONS, { strategyMs: 1_500, faultMs: 3_000 });
});
