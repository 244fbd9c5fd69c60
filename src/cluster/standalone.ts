// A standalone node is a cluster of one with no network: the replica host (replica-host.ts) with
// the one standalone group (standalone-group.ts), the same log worker, group commit, apply,
// compaction and expiry as a cluster member's, and no transport, gossip or mDNS socket. Every
// write is proposed to that group, so no request is routed or forwarded.
import type { Op } from "../commands/types.ts";
import type { Config } from "../config/schema.ts";
import { STANDALONE_GROUP } from "../keyspace/groups.ts";
import type { Logger } from "../log.ts";
import type { Reply } from "../resp/reply.ts";
import { encodeOp } from "../store/op-codec.ts";
import { ReplicaHost } from "./replica-host.ts";

/** How often opening and stopping check whether the group has applied its whole log. */
const OPEN_POLL_MS = 5;

export class StandaloneHost {
  private constructor(readonly replicas: ReplicaHost) {}

  /**
   * Opens the data dir's standalone group and resolves once this node leads it and has applied
   * every entry its log held (what was written before a crash is served from the first request).
   */
  static async open(config: Config, log: Logger): Promise<StandaloneHost> {
    const self = config.node_id;
    const replicas = await ReplicaHost.open({
      config,
      log,
      standalone: true,
      send: (m) => log.error("a standalone node has no peer to send a Raft message to", { to: m.to }),
      alive: (id) => id === self,
    });
    try {
      replicas.reopen();
      replicas.start();
      for (;;) {
        const failed = replicas.raft.failed;
        if (failed) throw failed;
        const s = replicas.raft.status(STANDALONE_GROUP);
        if (s?.role === "leader" && s.applied >= s.lastIndex) break;
        await Bun.sleep(OPEN_POLL_MS);
      }
    } catch (e) {
      replicas.stop();
      await replicas.close();
      throw e;
    }
    return new StandaloneHost(replicas);
  }

  /** Backend.propose: logged, durable and applied by the standalone group, then answered. */
  propose(op: Op): Promise<Reply> {
    return this.replicas.raft.propose(STANDALONE_GROUP, encodeOp(op)) as Promise<Reply>;
  }

  /** The group's applied index (INFO, /cluster/status of a standalone node). */
  appliedIndex(): number {
    return this.replicas.raft.status(STANDALONE_GROUP)?.applied ?? 0;
  }

  ready(): { ready: boolean; reason?: string } {
    const failed = this.replicas.raft.failed;
    return failed ? { ready: false, reason: `storage failed: ${failed.message}` } : { ready: true };
  }

  /** SAVE: data.db checkpointed now, and the log it made redundant cut. */
  save(): void {
    if (!this.replicas.compactStandalone(true)) {
      throw new Error("data.db could not be checkpointed (a reader holds its WAL); try again");
    }
  }

  /** Answers every accepted proposal (each is in the log from the moment it is accepted), then closes. */
  async stop(): Promise<void> {
    for (;;) {
      const s = this.replicas.raft.status(STANDALONE_GROUP);
      if (this.replicas.raft.failed || !s || s.applied >= s.lastIndex) break;
      await Bun.sleep(OPEN_POLL_MS);
    }
    // A turn already scheduled (a compaction's snapshot) reaches the log worker before it closes.
    await new Promise((resolve) => setImmediate(resolve));
    this.replicas.stop();
    await this.replicas.close();
  }
}
