// Forming and joining a cluster (docs/design/formation.md): the I/O around the pure rule in core/formation.ts.
// Every cluster node runs it. It answers other nodes' formation probes and claims (over the Raft
// transport: `{ t: "formation", claim?: true }` → FormationReport; the claimer is the sender the
// transport's handshake names), and while this node holds no cluster state it looks for nodes
// (mDNS when discovery is on and no peers are configured; gossip members always), probes them,
// and bootstraps (after every founder promised), joins through gossip, waits with back-off, or
// refuses (other cluster settings, or a cluster that still counts this node id: a wiped member,
// which must not vote with an empty vote record). Once the node holds cluster state it checks
// that the cluster's metadata matches its own settings, and every FOREIGN_CHECK_MS looks for
// other clusters under its cluster id (src/cluster/foreign-clusters.ts).
import type { Config } from "../config/schema.ts";
import type { DiscoveredNode } from "../discovery/index.ts";
import type { MemberView } from "../gossip/index.ts";
import { formatHostPort } from "../net/hostport.ts";
import type { Logger } from "../log.ts";
import {
  candidates,
  decideFormation,
  type FormationReport,
  type FormationStep,
  type KnownNode,
  mayPromise,
} from "./core/formation.ts";
import type { MemberInfo, MetaState } from "./core/meta.ts";
import { FOREIGN_CHECK_MS, type ForeignClusterNode, foreignClusters } from "./foreign-clusters.ts";
import { discoveredToFound, type FoundNode } from "./found-node.ts";

// Formation's interface hands these out (data-plane.ts, /cluster/status, /metrics).
export type { ForeignClusterNode } from "./foreign-clusters.ts";

/** What formation needs of the cluster node. */
export interface FormationHost {
  /** Whether this node holds any cluster state (founded or joined). */
  holdsState(): boolean;
  meta(): MetaState;
  /** The node ids the cluster may still count a vote of: metadata members and hosted groups' voters. */
  identities(): readonly KnownNode[];
  /**
   * The cluster it joins does not know this node id from another data dir (core/formation.ts
   * `staleIdentity`): from now on it may host the groups whose leaders contact it.
   */
  acceptGroups(): void;
  selfInfo(): MemberInfo;
  readonly gossipAddr: string;
  gossipMembers(): readonly MemberView[];
  join(seeds: readonly string[]): void;
  bootstrapNew(founders: readonly MemberInfo[]): void;
  /** Sends a formation probe (or claim) to another node; resolves with its FormationReport. */
  askFormation(nodeId: string, raftAddr: string, claim: boolean, timeoutMs: number): Promise<unknown>;
  /** Registers how this node answers other nodes' probes and claims. */
  answerFormationProbes(answer: (claim: string | undefined) => unknown): void;
}

export interface FormationOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly node: FormationHost;
  /**
   * One mDNS browse (src/discovery `browse`) when discovery is on, else undefined. Forming browses
   * only when no peers are configured; a member browses for its own members when alone and for
   * other clusters under its cluster id.
   */
  readonly browse?: (stopWhen: (found: number) => boolean) => Promise<DiscoveredNode[]>;
  /** This node cannot join what it found (other cluster_id or partition_count): the process should exit 2. */
  readonly onFatal: (message: string) => void;
}

export interface Formation {
  /** Resolves when the loop ended: member with matching metadata, refused, or stopped. */
  readonly done: Promise<void>;
  /** Other clusters under this cluster's id seen in the last check (/cluster/status, metrics). */
  foreignClusters(): readonly ForeignClusterNode[];
  stop(): void;
}

const PROBE_TIMEOUT_MS = 1_000;
/**
 * How long a promise to found a cluster with a claimer holds. A claimer founds at once after its
 * claims are answered, and never later than half of this after it sent them; a claimer that gave
 * up (or died) thereby frees the nodes that promised it.
 */
const PROMISE_MS = 10_000;
const FIRST_WAIT_MS = 250;
/** Forming with bootstrap_expect wants quick rounds; plain auto-join can back off further. */
const MAX_WAIT_FORMING_MS = 2_000;
const MAX_WAIT_JOINING_MS = 10_000;
/** A node waiting to form or join says what it waits for at least this often. */
const WAIT_LOG_MS = 5_000;
const METADATA_CHECK_MS = 1_000;
/** A node joining through --peers that sees nobody alive after this long says why that may be. */
const LONELY_WARN_MS = 30_000;

export function startFormation(opts: FormationOptions): Formation {
  const { config, log, node } = opts;
  const self = config.node_id;
  let stopped = false;
  let sees: string[] = [self];
  let promise: { to: string; until: number } | undefined;
  const promisedTo = () => (promise && Date.now() < promise.until ? promise.to : null);
  let wake: () => void = () => {};
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const holdsState = () => node.holdsState();
  const report = (): FormationReport => {
    const meta = node.meta();
    const formed = holdsState();
    const members = Object.values(meta.members).map((m) => m.addrs.gossip);
    return {
      nodeId: self,
      formed,
      clusterId: meta.clusterId !== "" ? meta.clusterId : config.discovery_cluster_id,
      partitionCount: meta.clusterId !== "" ? meta.partitionCount : config.partition_count,
      bootstrapExpect: config.bootstrap_expect,
      identities: formed ? node.identities() : [],
      gossip: [...new Set([node.gossipAddr, ...members])],
      sees: formed ? [] : sees,
      member: node.selfInfo(),
      promisedTo: formed ? null : promisedTo(),
    };
  };
  node.answerFormationProbes((claim) => {
    if (claim !== undefined && mayPromise(report(), claim)) {
      if (promisedTo() !== claim)
        log.info("promised to found the cluster with the node that claimed this one", { claimer: claim });
      promise = { to: claim, until: Date.now() + PROMISE_MS };
    }
    return report();
  });

  // Nodes found in earlier rounds stay until a probe goes unanswered: a browse that missed one
  // answer must not shrink the view (views that flap delay agreement).
  const known = new Map<string, FoundNode>();
  const found = async (stopWhen: (n: number) => boolean): Promise<FoundNode[]> => {
    for (const v of node.gossipMembers()) {
      if (v.id !== self && v.state === "alive" && v.meta.raftAddr !== "")
        known.set(v.id, { nodeId: v.id, raftAddr: v.meta.raftAddr });
    }
    if (opts.browse && config.cluster_peers.length === 0) {
      // A browse may stop as soon as it has seen enough nodes, but only while this node does not
      // know enough yet. Once it does, every round browses in full: with more nodes than
      // bootstrap_expect, stopping at the first answers could forever miss the one with the
      // lowest id, which waits for everyone to see it.
      const knewEnough = stopWhen(known.size);
      try {
        for (const d of await opts.browse((n) => !knewEnough && stopWhen(n))) {
          const f = d.nodeId === self ? undefined : discoveredToFound(d);
          if (f) known.set(f.nodeId, f);
        }
      } catch (e) {
        log.warn("mDNS browse failed; trying again later", { error: String(e) });
      }
    }
    return [...known.values()];
  };

  const probe = async (nodes: readonly FoundNode[], claim = false): Promise<FormationReport[]> => {
    const answers = await Promise.all(
      nodes.map(async (f) => {
        try {
          const r = (await node.askFormation(f.nodeId, f.raftAddr, claim, PROBE_TIMEOUT_MS)) as FormationReport;
          // Older versions answer without identities.
          return r.nodeId === f.nodeId ? { ...r, identities: r.identities ?? [] } : undefined;
        } catch (e) {
          log.debug("formation probe got no answer", { peer: f.nodeId, addr: f.raftAddr, error: String(e) });
          if (known.get(f.nodeId) === f) known.delete(f.nodeId);
          return undefined;
        }
      }),
    );
    return answers.filter((a): a is FormationReport => a !== undefined);
  };

  /** Finds, probes and decides once; `sees` is updated for the next probe answered. */
  const round = async (): Promise<FormationStep> => {
    const want = config.bootstrap_expect;
    const nodes = await found((n) => want > 0 && n + 1 >= want);
    const peers = await probe(nodes);
    if (holdsState()) return { kind: "member" };
    sees = candidates(report(), peers);
    return decideFormation(report(), peers);
  };

  /**
   * Claims the founders (this node first promises itself, so it promises nobody else meanwhile)
   * and founds the cluster if every one of them promised, in time. Two claimers that both succeed
   * therefore have no founder in common: no node is ever a founding voter of two clusters.
   */
  const claimAndFound = async (founders: readonly string[]): Promise<string | undefined> => {
    const sentAt = Date.now();
    promise = { to: self, until: sentAt + PROMISE_MS };
    try {
      const others = founders.filter((id) => id !== self).map((id) => known.get(id));
      if (others.some((f) => f === undefined)) return "a founder is no longer in view";
      const answers = await probe(others as FoundNode[], true);
      const missing = founders.filter(
        (id) => id !== self && !answers.some((a) => a.nodeId === id && !a.formed && a.promisedTo === self),
      );
      if (missing.length > 0) return `founders ${missing.join(", ")} did not promise`;
      if (stopped || holdsState()) return "this node changed state meanwhile";
      if (Date.now() - sentAt > PROMISE_MS / 2) return "the promises came back too late to rely on";
      log.info(
        "forming a new cluster: this node has the lowest node id of the expected nodes and every founder promised",
        { expect: config.bootstrap_expect, founders: founders.join(",") },
      );
      node.bootstrapNew([node.selfInfo(), ...answers.map((a) => a.member)]);
      // The founders learn this node's raft address through gossip until the metadata applies.
      node.join(answers.flatMap((a) => a.gossip));
      return undefined;
    } finally {
      if (promise?.to === self) promise = undefined;
    }
  };

  /** The cluster's metadata, once applied here, must match this node's settings. */
  const checkMetadata = (): "ok" | "unknown" | "refused" => {
    const meta = node.meta();
    if (meta.clusterId === "") return "unknown";
    if (meta.clusterId === config.discovery_cluster_id && meta.partitionCount === config.partition_count) return "ok";
    opts.onFatal(
      `this node was admitted to cluster ${JSON.stringify(meta.clusterId)} with partition_count = ${meta.partitionCount}, but it is configured with cluster_id = ${JSON.stringify(config.discovery_cluster_id)} and partition_count = ${config.partition_count}; it leaves`,
    );
    return "refused";
  };

  /**
   * Members of its cluster that gossip holds dead (or does not know) are pushed-pulled every
   * METADATA_CHECK_MS, without back-off: after a partition heals, both sides hold the other dead
   * and, one side being reachable again, a push-pull carries each side's accusation to the other,
   * which refutes it; the cut-off node is back within a second or two instead of at gossip's next
   * 10 s reconnect. A member that sees no other member at all (restarted after a graceful leave, or
   * without its peers) also asks mDNS for its members' addresses. Never anyone else's: clusters do
   * not merge.
   */
  let wasAlone = false;
  const rejoinMissing = async (): Promise<boolean> => {
    const views = new Map(node.gossipMembers().map((v) => [v.id, v]));
    const others = Object.values(node.meta().members).filter((m) => m.id !== self);
    const missing = others.filter((m) => {
      const state = views.get(m.id)?.state;
      return state === undefined || state === "dead";
    });
    // A suspect is not gone: after a heal, the cut-off node's stale view of a member as dead makes
    // the others suspect it until it refutes, which takes one probe.
    const alone = others.length > 0 && missing.length === others.length;
    if (missing.length === 0) return false;
    const seeds = new Set(missing.map((m) => m.addrs.gossip));
    if (alone && opts.browse) {
      try {
        for (const d of await opts.browse(() => false)) {
          const addr = d.addresses[0];
          const member = d.nodeId !== self && d.nodeId in node.meta().members;
          if (member && addr !== undefined) seeds.add(formatHostPort(addr, d.port));
        }
      } catch (e) {
        log.debug("mDNS browse failed", { error: String(e) });
      }
    }
    if (stopped) return alone;
    // Once per time alone at info; the retries, and single missing members, at debug.
    log[alone && !wasAlone ? "info" : "debug"](
      alone ? "no other member is alive; rejoining the cluster's members" : "reconnecting to members gossip holds dead",
      { gossip: [...seeds].join(",") },
    );
    node.join([...seeds]);
    return alone;
  };

  // Probes through this loop's probe, so a node that stops answering leaves `known` here too.
  const foreign = foreignClusters({
    log,
    meta: () => node.meta(),
    gossipMembers: () => node.gossipMembers(),
    ...(opts.browse ? { browse: opts.browse } : {}),
    report,
    probe,
  });

  const run = async (): Promise<void> => {
    let wait = FIRST_WAIT_MS;
    let lastReason = "";
    let joined = "";
    const startedAt = Date.now();
    let warnedLonely = false;
    const maxWait = config.bootstrap_expect > 0 ? MAX_WAIT_FORMING_MS : MAX_WAIT_JOINING_MS;
    let metadata: "ok" | "unknown" = "unknown";
    let nextForeignCheck = 0;
    let lastLogAt = 0;
    while (!stopped) {
      if (holdsState()) {
        if (metadata === "unknown") {
          const m = checkMetadata();
          if (m === "refused") return;
          metadata = m;
        }
        wasAlone = await rejoinMissing();
        if (metadata === "ok" && Date.now() >= nextForeignCheck) {
          await foreign.check();
          nextForeignCheck = Date.now() + FOREIGN_CHECK_MS;
        }
        await sleep(METADATA_CHECK_MS);
        continue;
      }
      let step = await round();
      if (stopped) return;
      if (step.kind === "bootstrap") {
        let why: string | undefined;
        try {
          why = await claimAndFound(step.founders);
        } catch (e) {
          // Founding refused (this data dir founded a cluster before): never a second one.
          opts.onFatal(String((e as Error).message));
          return;
        }
        if (why === undefined) continue;
        step = { kind: "wait", reason: `not founding yet: ${why}` };
      }
      switch (step.kind) {
        case "member":
          continue;
        case "refuse":
          opts.onFatal(step.reason);
          return;
        case "join": {
          const seeds = step.gossip.filter((a) => a !== node.gossipAddr);
          const key = seeds.join(",");
          if (key !== joined) {
            log.info("joining the cluster found", { via: step.via, gossip: key });
            joined = key;
          }
          node.acceptGroups();
          node.join(seeds);
          break;
        }
        case "wait":
          if (step.reason !== lastReason || Date.now() - lastLogAt >= WAIT_LOG_MS) {
            log.info("waiting to form or join a cluster", { reason: step.reason });
            if (step.reason !== lastReason) wait = FIRST_WAIT_MS;
            lastReason = step.reason;
            lastLogAt = Date.now();
          }
          break;
      }
      const alone = () => !node.gossipMembers().some((v) => v.id !== self && v.state === "alive");
      if (!warnedLonely && config.cluster_peers.length > 0 && Date.now() - startedAt > LONELY_WARN_MS && alone()) {
        warnedLonely = true;
        log.warn(
          "no member of the peers answered: check cluster_peers, that cluster_id and cluster_secret match theirs, and the firewall",
          { peers: config.cluster_peers.join(",") },
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, maxWait, WAIT_LOG_MS);
    }
  };

  const done = run().catch((e: unknown) => log.error("cluster formation failed", { error: String(e) }));
  return {
    done,
    foreignClusters: () => foreign.list(),
    stop() {
      stopped = true;
      wake();
    },
  };
}
