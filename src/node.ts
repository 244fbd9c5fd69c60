// Composition root: Config → a running node (data plane, RESP server, HTTP API).
import type { TLSOptions } from "bun";
import { mkdirSync } from "node:fs";
import { Session, type Backend } from "./commands/session.ts";
import type { KeyEventSink, KeyEventsHook, ServerView } from "./commands/types.ts";
import { byteKey } from "./commands/util.ts";
import { formatValue } from "./config/load.ts";
import { CONFIG_KEYS, parseOutputLimit, type Config, type ConfigKey } from "./config/schema.ts";
import { type Caller, createHttpApp, type NodeStatus } from "./http/app.ts";
import {
  NodeMetrics,
  registerClusterMetrics,
  registerDiscoveryMetrics,
  registerForeignClusterMetric,
  registerSqliteSynchronous,
} from "./http/metrics.ts";
import { createLogger, LogTail, type Logger } from "./log.ts";
import { formatHostPort, parseHostPort } from "./net/hostport.ts";
import { bulk, err, int, map, OK, type Reply } from "./resp/reply.ts";
import { rdbSnapshot } from "./cluster/backup-source.ts";
import { DEFAULT_ENCODING } from "./commands/collection.ts";
import { clusterPartitions, clusterStatus } from "./http/cluster-status.ts";
import { leave } from "./cluster/leave.ts";
import { removeMember } from "./cluster/remove.ts";
import { startRespServer, type ConnectionControl } from "./server/resp-server.ts";
import { renderInfo } from "./server/info.ts";
import { CommandObserver } from "./server/command-observer.ts";
import { rewriteConfigFile } from "./config/rewrite.ts";
import { KeyAccess } from "./commands/key-access.ts";
import type { EncodingLimits } from "./commands/types.ts";
import { resolveMode, openCluster, openStandalone, type DataPlane } from "./data-plane.ts";
import { VERSION } from "./version.ts";
import { KeyspaceEvents } from "./pubsub/keyspace-events.ts";
import { TrackingTable } from "./pubsub/tracking.ts";
import { Monitors } from "./server/monitor.ts";
import { OpCallers } from "./server/op-callers.ts";
import { ClientPause } from "./commands/pause.ts";
import { BusyScripts } from "./commands/busy-script.ts";
import { PubSubRegistry, sessionPubSub } from "./pubsub/registry.ts";
import { wallNow } from "./wall-clock.ts";
import { BlockingRegistry } from "./commands/blocking.ts";
import { aclCatalog, httpAdminRefusal } from "./commands/acl.ts";
import { COMMANDS } from "./commands/table.ts";
import { createSecurity } from "./server/security.ts";
import { PROTECTED_MODE_DENIED, protectedModeRefuses, tlsOptions } from "./server/tls.ts";
import { clusterTls } from "./transport/cluster-tls.ts";

export interface RunningNode {
  readonly log: Logger;
  readonly respPort: number;
  readonly httpPort: number;
  stop(): Promise<void>;
  /**
   * Reads tls_cert_file, tls_key_file and tls_ca_cert_file again for new connections on tls_port,
   * HTTPS and tls_cluster's Raft transport (SIGHUP); false without any. Throws, keeping the
   * previous certificates, when one is unreadable.
   */
  reloadCertificates(): boolean;
}

export interface StartOptions {
  configFile?: string;
  log?: Logger;
  /** Called after a graceful POST /cluster/leave has drained and stopped the node (the CLI exits). */
  onLeft?: () => void;
  /** Called after SHUTDOWN has stopped the node (the CLI exits with status 0). */
  onShutdown?: () => void;
  /**
   * The node must not serve the cluster it found (another cluster_id or partition_count).
   * Default: log the reason, stop, and exit the process with status 2.
   */
  onFatal?: (message: string) => void;
}

/** Log lines the web console shows (/ui). */
const LOG_TAIL_LINES = 200;

/** INFO sections that include the keyspace section. */
const WITH_KEYSPACE = new Set([undefined, "default", "all", "everything", "keyspace"]);

export async function startNode(config: Config, opts: StartOptions = {}): Promise<RunningNode> {
  const tail = new LogTail(LOG_TAIL_LINES);
  const log =
    opts.log ??
    createLogger(config.log_level, config.log_format, { node: config.node_id }, (line) => {
      process.stderr.write(line);
      tail.write(line);
    });
  const startedAt = Date.now();
  // The data plane opens below; the gauge only reads it at scrape time.
  const metrics = new NodeMetrics(() => plane?.keyCount() ?? 0);
  mkdirSync(config.data_dir, { recursive: true });
  const cluster = resolveMode(config) === "cluster";
  // A standalone node opens its store before listening (it replays its log first); a cluster
  // member needs its RESP and HTTP ports first, to advertise them.
  const pubsub = new PubSubRegistry();
  const tracking = new TrackingTable();
  const monitors = new Monitors();
  const callers = new OpCallers();
  const pause = new ClientPause((ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  }, Date.now);
  const events = new KeyspaceEvents(pubsub, () => config.notify_keyspace_events, tracking);
  const blocking = new BlockingRegistry();
  // Keys the applied writes changed, for this node's blocked clients: a push proxied by another
  // node wakes them when this node applies it, not at the next periodic retry.
  let changed: [db: number, key: string][] = [];
  /** INFO expired_keys: keys this node's replicas deleted as expired since start or CONFIG RESETSTAT. */
  let expiredKeys = 0;
  const wake: KeyEventSink = (db, _cls, _event, key) => changed.push([db, byteKey(key)]);
  const observer = new CommandObserver(config, metrics);
  const keyEvents: KeyEventsHook = {
    sink: () => {
      const notify = events.sink();
      if (blocking.size === 0) return notify;
      if (!notify) return wake;
      return (db, cls, event, key) => {
        wake(db, cls, event, key);
        notify(db, cls, event, key);
      };
    },
    newKeys: () => events.newKeys(),
    flush: () => {
      events.flush();
      const touched = changed;
      changed = [];
      for (const [db, key] of touched) blocking.touched(db, [key]);
    },
    applying: (op) => {
      const caller = callers.applying(op);
      // A read's lazily expired keys are not the reader's writes.
      events.writtenBy(op && caller?.client);
      return caller?.scriptCalls;
    },
    expiryPaused: () => pause.active !== undefined,
    expired: (n) => {
      expiredKeys += n;
    },
    applied: (op, micros) => observer.applied(op, micros),
  };
  let plane: DataPlane | undefined = cluster ? undefined : await openStandalone(config, log, metrics, keyEvents);

  const sessions = new Map<number, { session: Session; conn: ConnectionControl }>();
  let totalConnections = 0;
  let totalCommands = 0;
  let rejectedConnections = 0;
  const resp = parseHostPort(config.bind_addr);
  let respPort = resp.port;
  /** Keys changed by CONFIG SET since start: what CONFIG REWRITE writes. */
  const changedKeys = new Set<ConfigKey>();
  let lastSave = Math.floor(startedAt / 1000);

  const server: ServerView = {
    version: VERSION,
    nodeId: config.node_id,
    get port() {
      return respPort;
    },
    startedAt,
    configNames: () => CONFIG_KEYS,
    configValue: (name) =>
      CONFIG_KEYS.includes(name as ConfigKey) ? formatValue(name as ConfigKey, config) : undefined,
    configSet: (changes) => {
      for (const [key, value] of changes) {
        if (!CONFIG_KEYS.includes(key as ConfigKey)) throw new Error(`CONFIG SET of ${key}: not a configuration key`);
        (config as unknown as Record<ConfigKey, unknown>)[key as ConfigKey] = value;
        changedKeys.add(key as ConfigKey);
        if (key === "requirepass") security.setRequirepass(config.requirepass);
      }
    },
    configRewrite: () => {
      if (!opts.configFile) return err("ERR The server is running without a config file");
      try {
        rewriteConfigFile(opts.configFile, config, [...changedKeys]);
        return OK;
      } catch (e) {
        return err(`ERR Rewriting config file: ${(e as Error).message}`);
      }
    },
    resetStats: () => {
      observer.stats.reset();
      totalConnections = 0;
      totalCommands = 0;
      rejectedConnections = 0;
      expiredKeys = 0;
    },
    encodingLimits: () => encodingLimits(config),
    slowlog: observer.slowlog,
    keyAccess: new KeyAccess(startedAt),
    latency: observer.latency,
    memoryStats: () => {
      const m = process.memoryUsage();
      const keys = plane?.keyCount() ?? 0;
      return map(
        [
          ["peak.allocated", m.heapTotal],
          ["total.allocated", m.heapUsed],
          ["startup.allocated", 0],
          ["replication.backlog", 0],
          ["clients.slaves", 0],
          ["clients.normal", 0],
          ["aof.buffer", 0],
          ["keys.count", keys],
          ["dataset.bytes", m.heapUsed],
          ["rss-bytes", m.rss],
        ].map(([k, v]) => [bulk(k as string), int(v as number)] as const),
      );
    },
    save: async () => {
      if (!plane?.save) {
        return err("ERR SAVE is not available in cluster mode: each partition's replica checkpoints data.db itself");
      }
      await plane.save();
      lastSave = Math.floor(Date.now() / 1000);
      return OK;
    },
    lastSave: () => lastSave,
    rdbSnapshot: async () => {
      if (!plane) return LOADING;
      try {
        return bulk(await rdbSnapshot(plane.backup, Date.now()));
      } catch (e) {
        return err(`ERR SYNC could not take a snapshot: ${(e as Error).message}`);
      }
    },
    shutdown: async (save) => {
      if (save && plane?.save) await plane.save();
      log.info("SHUTDOWN received, stopping");
      // After this command's turn: stopping closes the connection it came on.
      setTimeout(() => void running?.stop().then(() => opts.onShutdown?.()), 0);
      return new Promise<Reply>(() => {});
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    info: (section, now) => {
      const source = {
        version: VERSION,
        nodeId: config.node_id,
        port: respPort,
        startedAt,
        configFile: opts.configFile ?? "",
        fsync: config.fsync,
        connectedClients: sessions.size,
        blockedClients: blocking.size + pause.waiting,
        totalConnections,
        totalCommands,
        rejectedConnections,
        expiredKeys,
        keys: plane?.keyCount() ?? 0,
        expires: plane?.expiringKeyCount?.() ?? 0,
        dbs: plane?.databaseKeys?.(),
        dataDir: config.data_dir,
        appliedIndex: plane?.appliedIndex() ?? 0,
        commandStats: observer.stats,
        cluster: plane?.cluster !== undefined,
        maxclients: config.maxclients,
        tracking: tracking.stats(),
      };
      // A cluster member's own rows are its replicas' keys: the keyspace section counts the
      // cluster's keys, asked of every partition's leader. When one does not answer, INFO
      // KEYSPACE is that error; a full INFO (clients run one on connect) says so in the section.
      const cluster = plane?.cluster;
      const withKeyspace = section === undefined || section.split(" ").some((s) => WITH_KEYSPACE.has(s));
      if (!cluster || !withKeyspace) return renderInfo(source, section, now);
      // A node still joining would wait out the fan-out timeout: say so at once instead.
      const ready = cluster.ready();
      if (!ready.ready) {
        const why = `CLUSTERDOWN this node cannot count the cluster's keys yet: ${ready.reason}`;
        return Promise.resolve(
          section === "keyspace" ? err(why) : renderInfo({ ...source, keyspaceError: why }, section, now),
        );
      }
      return cluster.keyspaceTotals().then((t) => {
        if (!("failed" in t)) return renderInfo({ ...source, ...t }, section, now);
        if (section === "keyspace") return t.failed;
        return renderInfo({ ...source, keyspaceError: t.failed.t === "error" ? t.failed.v : "unknown" }, section, now);
      });
    },
  };

  const security = createSecurity({
    commands: aclCatalog(COMMANDS),
    requirepass: config.requirepass,
    aclfile: config.aclfile,
    // A cluster keeps its users in the metadata group instead.
    ...(cluster ? {} : { dataDir: config.data_dir }),
    log,
  });
  let stopAclSync: (() => void) | undefined;
  const backend: Backend = {
    read: (spec, argv, resp3, db, writeBack, routing) =>
      plane ? plane.read(spec, argv, resp3, db, writeBack, routing) : LOADING,
    propose: (op) => {
      if (!plane) return Promise.resolve(LOADING);
      const timed = (reply: Reply) => observer.timed(op, reply);
      // Tracking clients of a cluster member learn of a write when this member applies it (see OpCallers.appliedHere).
      if (!tracking.enabled() || !plane.replicates?.(op)) return plane.propose(op).then(timed);
      return callers.appliedHere(op, () => plane!.propose(op)).then(timed);
    },
    localContext: (db, resp3, argv) => plane?.localContext?.(db, resp3, argv),
    busy: new BusyScripts({
      now: () => performance.now(),
      after: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      },
      threshold: () => config.busy_reply_threshold,
    }),
    now: wallNow,
    random: () => Math.random(),
    server,
    security,
    get cluster() {
      return plane?.cluster?.view;
    },
    clusterModeDefault: config.redis_cluster_mode,
    clients: () => [...sessions.values()].map((s) => s.session.client),
    kill: (id) => {
      const s = sessions.get(id);
      if (!s) return false;
      s.conn.close();
      return true;
    },
    blocking,
    monitor: (client, argv) =>
      monitors.feed(Math.floor((performance.timeOrigin + performance.now()) * 1000), client, argv),
    callers,
    pause,
    after: (ms, fn) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
  };

  const listenerOptions = {
    // Read as each connection opens: CONFIG SET proto-max-bulk-len applies to new connections.
    limits: {
      get maxBulkLength() {
        return config.proto_max_bulk_len;
      },
    },
    pushLimit: parseOutputLimit(config.client_output_buffer_limit_pubsub),
    log,
    onConnection(conn: ConnectionControl) {
      if (protectedModeRefuses(config, security.acl, resp.host, conn.remoteAddress)) {
        rejectedConnections++;
        return { ...rejectingHandler(conn), refusal: PROTECTED_MODE_DENIED };
      }
      if (sessions.size >= config.maxclients) {
        rejectedConnections++;
        return rejectingHandler(conn);
      }
      totalConnections++;
      metrics.connectionsTotal.inc();
      metrics.connectedClients.inc();
      const subscriber = pubsub.client({ id: conn.id, push: (r) => conn.push(r) });
      const tracker = tracking.client(
        subscriber.receiver,
        () => session.client.protocol,
        () => subscriber.count("channel") + subscriber.count("pattern") + subscriber.count("shard") > 0,
      );
      const session = new Session(
        backend,
        { id: conn.id, addr: conn.remoteAddress, laddr: conn.localAddress },
        {
          ...sessionPubSub(pubsub, subscriber, () => plane?.cluster?.pubsub),
          tracking: tracker,
          monitor: () => monitors.add(conn.id, (r) => conn.push(r)),
        },
      );
      sessions.set(conn.id, { session, conn });
      return {
        onCommand(argv: Uint8Array[]) {
          totalCommands++;
          const started = performance.now();
          const out = session.execute(argv);
          const ran = (performance.now() - started) * 1000;
          // CONFIG SET tracking-table-max-keys or this command's reads may have overfilled the table.
          tracking.limit(config.tracking_table_max_keys);
          const name = session.lastExecuted;
          if (session.closeRequested) conn.close();
          const record = (reply: Reply) => {
            const elapsed = (performance.now() - started) * 1000;
            observer.record(name, session.client, argv, { ran, elapsed }, reply);
            return reply;
          };
          return out instanceof Promise ? out.then(record) : record(out);
        },
        protocol: () => session.client.protocol,
        silent: () => session.silent,
        onProtocolError: () => metrics.protocolErrors.inc(),
        // Clients that have not authenticated (requirepass) get Redis's tighter request limits.
        authenticated: () => session.client.authenticated,
        onPeerEnd: () => session.close(),
        onClose() {
          session.close();
          subscriber.close();
          tracker.close();
          monitors.remove(conn.id);
          sessions.delete(conn.id);
          metrics.connectedClients.dec();
        },
      };
    },
  };
  const respServer = await startRespServer({ ...listenerOptions, host: resp.host, port: resp.port }).catch(
    cannotListen("Redis clients", config.bind_addr),
  );
  const tlsServer =
    config.tls_port > 0
      ? await startRespServer({
          ...listenerOptions,
          host: resp.host,
          port: config.tls_port,
          tls: tlsOptions(config),
          refuseUnverifiedPeers: config.tls_auth_clients === "optional",
        }).catch(cannotListen("Redis clients over TLS", formatHostPort(resp.host, config.tls_port)))
      : undefined;
  respPort = respServer.port;

  const http = parseHostPort(config.http_addr);
  /**
   * An HTTP caller stands where a RESP client does: with requirepass set, only a configured
   * http_auth_token (checked by the app) or an ACL user's AUTH stands in for it.
   */
  const httpSession = () => {
    const session = new Session(backend, { id: 0, addr: "http", laddr: formatHostPort(http.host, httpPort) });
    session.client.authenticated = config.requirepass === "" || config.http_auth_token !== "";
    // HTTP callers cannot follow -MOVED: the node always proxies for them.
    session.client.clusterMode = false;
    return session;
  };
  /**
   * AUTH as the caller: a bearer token names the one user that has it as a password; a token of
   * no user, or of several, is refused as a wrong password (counted for the AUTH delay, in ACL LOG).
   */
  const signIn = async (session: Session, as: Caller): Promise<Reply> => {
    let user: string;
    let password: string;
    if ("token" in as) {
      const users = security.acl.usersWithPassword(enc.encode(as.token));
      // Not a user name (names have no spaces): AUTH fails, and ACL LOG says it was a token.
      user = users.length === 1 ? users[0]! : "(bearer token)";
      password = as.token;
    } else ({ user, password } = as);
    return await session.execute([enc.encode("AUTH"), enc.encode(user), enc.encode(password)]);
  };
  const status: NodeStatus = {
    live: () => true,
    ready: () => plane?.ready() ?? { ready: false, reason: "starting" },
    status: async () => {
      const base = {
        node: {
          id: config.node_id,
          version: VERSION,
          role: plane?.mode ?? "starting",
          uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
          addresses: { resp: formatHostPort(resp.host, respPort), http: formatHostPort(http.host, httpPort) },
        },
        keys: plane?.keyCount() ?? 0,
        connected_clients: sessions.size,
      };
      if (!plane?.cluster) return base;
      const foreign = (plane.foreignClusters?.() ?? []).map((f) => ({
        node: f.nodeId,
        members: f.members,
        since: new Date(f.since).toISOString(),
      }));
      return { ...base, ...(await clusterStatus(plane.cluster)), foreign_clusters: foreign };
    },
    metrics,
    httpAuthToken: config.http_auth_token,
    console: {
      ready: () => plane?.ready() ?? { ready: false, reason: "starting" },
      routingStrategy: config.routing_strategy,
      readConsistency: config.read_consistency,
      logTail: () => tail.snapshot(),
    },
    mode: cluster ? "cluster" : "standalone",
    backup: () => plane?.backup,
    cluster: () => {
      const node = plane?.cluster;
      if (!node) return undefined;
      return {
        partitions: () => clusterPartitions(node),
        join: (peers) => node.join(peers),
        remove: (id, timeoutMs) => removeMember(node, id, timeoutMs),
        leave: async (timeoutMs) => {
          const r = await leave(node, timeoutMs);
          // Stop after the reply is on its way: stopping closes the HTTP server.
          if (r.drained) setTimeout(() => void running?.stop().then(() => opts.onLeft?.()), 100);
          return r;
        },
      };
    },
    command: async (argv, as) => {
      const session = httpSession();
      if (as) {
        const auth = await signIn(session, as);
        if (auth.t === "error") return auth;
      }
      return await session.execute(argv);
    },
    adminRefusal: async (as, endpoint, readsEveryKey) => {
      const session = httpSession();
      const auth = await signIn(session, as);
      return auth.t === "error" ? auth : httpAdminRefusal(session, endpoint, readsEveryKey);
    },
  };
  const app = createHttpApp(status);
  const serveHttp = (port: number, tls: TLSOptions | undefined) =>
    Bun.serve({ hostname: http.host, port, fetch: app.fetch, ...(tls ? { tls } : {}) });
  let httpsOptions = config.tls_http ? tlsOptions(config, false) : undefined;
  let httpServer = (() => {
    try {
      return serveHttp(http.port, httpsOptions);
    } catch (e) {
      return cannotListen("HTTP", config.http_addr)(e);
    }
  })();
  const httpPort = httpServer.port ?? http.port;
  /**
   * New HTTPS certificates need a new listening socket, as the RESP TLS port (reloadTls): requests
   * in flight finish on the old one. A certificate the new socket refuses keeps the previous one.
   */
  const reloadHttps = (next: TLSOptions) => {
    httpServer.stop(false);
    try {
      httpServer = serveHttp(httpPort, next);
      httpsOptions = next;
    } catch (e) {
      httpServer = serveHttp(httpPort, httpsOptions);
      throw e;
    }
  };
  let running: RunningNode | undefined;
  const onFatal =
    opts.onFatal ??
    ((message: string) => {
      log.error(message);
      void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(2));
    });
  if (cluster) {
    plane = await openCluster(config, log, VERSION, { resp: respPort, http: httpPort }, onFatal);
    registerClusterMetrics(metrics, plane.cluster!.clusterMetricsSource());
    plane.cluster!.notifyKeyEvents(keyEvents);
    plane.cluster!.pubsub.onPublished = (m) =>
      m.shard ? pubsub.publishShard(m.channel, m.message) : pubsub.publish(m.channel, m.message);
    const foreign = plane.foreignClusters;
    if (foreign) registerForeignClusterMetric(metrics, () => foreign().length);
    if (plane.discoveryStats) registerDiscoveryMetrics(metrics, plane.discoveryStats);
    stopAclSync = security.attachCluster(plane.cluster!);
  }
  registerSqliteSynchronous(metrics, () => plane!.sqliteSynchronous());

  log.info("flydb started", {
    version: VERSION,
    resp: formatHostPort(resp.host, respPort),
    http: formatHostPort(http.host, httpPort),
    ...(tlsServer ? { resp_tls: formatHostPort(resp.host, tlsServer.port) } : {}),
    data_dir: config.data_dir,
    fsync: config.fsync,
    mode: plane!.mode,
    config: opts.configFile ?? "(defaults)",
  });

  // CONFIG SET timeout: idle clients are closed, checked once a second as Redis's clientsCron does.
  const idleCheck = setInterval(() => {
    if (config.timeout <= 0) return;
    const limit = Date.now() - config.timeout * 1000;
    for (const { session, conn } of sessions.values()) if (session.client.lastActiveAt < limit) conn.close();
  }, 1000);
  idleCheck.unref();
  // In a cluster a write to a key may be proxied by another node, which this node's blocked clients
  // never hear of: they retry on the partition's leader this often, so a committed push waits at
  // most this long for them (a write proxied by this node wakes them at once).
  const blockedRetry = plane?.cluster ? setInterval(() => blocking.wakeAll(), CLUSTER_RETRY_MS) : undefined;

  let stopping: Promise<void> | undefined;
  running = {
    log,
    respPort,
    httpPort,
    reloadCertificates: () => {
      const transport = plane?.cluster?.transport;
      if (!tlsServer && !config.tls_http && !(transport && config.tls_cluster)) return false;
      // All read before any is swapped: an unreadable file changes no listener.
      const resp = tlsServer ? tlsOptions(config) : undefined;
      const https = config.tls_http ? tlsOptions(config, false) : undefined;
      const raft = transport ? clusterTls(config) : undefined;
      if (resp) tlsServer!.reloadTls(resp);
      if (https) reloadHttps(https);
      if (raft) transport!.reloadTls(raft);
      return true;
    },
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(idleCheck);
        stopAclSync?.();
        clearInterval(blockedRetry);
        await respServer.stop();
        await tlsServer?.stop();
        await httpServer.stop(true);
        await plane?.stop(true);
        log.info("flydb stopped");
      })()),
  };
  return running;
}

const enc = new TextEncoder();

/** How often a blocked client of a cluster node retries its pop without having seen a write to its keys. */
const CLUSTER_RETRY_MS = 100;

/** The thresholds ops carry (Op.encoding), or undefined while they are Redis's defaults. */
function encodingLimits(c: Config): EncodingLimits | undefined {
  const limits = {
    hashEntries: c.hash_max_listpack_entries,
    hashValue: c.hash_max_listpack_value,
    setIntsetEntries: c.set_max_intset_entries,
    zsetEntries: c.zset_max_listpack_entries,
    zsetValue: c.zset_max_listpack_value,
    streamNodeEntries: c.stream_node_max_entries,
    streamNodeBytes: c.stream_node_max_bytes,
  };
  const d = DEFAULT_ENCODING;
  const same = (Object.keys(d) as (keyof EncodingLimits)[]).every((k) => limits[k] === d[k]);
  return same ? undefined : limits;
}

const LOADING = err("LOADING FlyDB is joining its cluster; retry shortly");

/** Over maxclients: the client gets Redis's error as soon as it connects, and the connection closes. */
function rejectingHandler(conn: ConnectionControl) {
  return {
    refusal: err("ERR max number of clients reached"),
    onCommand(): Reply {
      conn.close();
      return err("ERR max number of clients reached");
    },
    protocol: () => 2 as const,
    onClose() {},
  };
}

/** Bun's listen errors name neither the listener nor always the port; an operator needs both. */
function cannotListen(what: string, addr: string): (e: unknown) => never {
  return (e) => {
    throw new Error(`cannot listen for ${what} on ${addr}: ${e instanceof Error ? e.message : String(e)}`);
  };
}
