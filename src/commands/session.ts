// One client connection's view of FlyDB: authentication, protocol, ordering of pipelined commands,
// and dispatch through the command table to the keyspace (reads) or the log (writes).
import { array, err, OK, QUEUED, type Reply } from "../resp/reply.ts";
import { COMMANDS, isWrite } from "./table.ts";
import { keySlot } from "../keyspace/slot.ts";
import { commandKeys, defaultUserOpen } from "./connection.ts";
import { aclRefusal } from "./acl.ts";
import { DEFAULT_USER } from "../acl/registry.ts";
import { subscribedModeReply } from "./pubsub.ts";
import { NO_TOUCH } from "./key-access.ts";
import {
  type BlockingRegistry,
  mayBlock,
  nothingPopped,
  parseTimeout,
  pushBack,
  resolveBlockingArgs,
  retryEnds,
  TIMED_OUT,
  WAKES_ALL,
  UNBLOCKED,
} from "./blocking.ts";
import { VERSION_COMMAND, WATCH_ABORT } from "./transactions.ts";
import { isUnknownScript, proposedBySha, RUNS_SCRIPT, scriptKeys, shebangFlags, startEval } from "./scripting.ts";
import { startFcall } from "./functions.ts";
import type { BusyScripts } from "./busy-script.ts";
import { LuaVm } from "../scripting/lua-vm.ts";
import { type ClientPause, MAY_REPLICATE } from "./pause.ts";
import { clusterClientRefusal, selectedAfter } from "./databases.ts";
import type {
  ClientState,
  ClusterView,
  CommandContext,
  CommandSpec,
  Op,
  PubSubApi,
  SecurityApi,
  ServerView,
  SessionApi,
  WatchedKey,
  WriteBack,
} from "./types.ts";
import { ascii, byteKey, E, str, utf8 } from "./util.ts";

/** Commands that act on the transaction itself instead of being queued inside MULTI (as Redis). */
const NOT_QUEUED = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);
/**
 * Their confirmations are pushes, which Redis 7 writes even under CLIENT REPLY OFF/SKIP
 * (pubsub.c sets CLIENT_PUSHING for them, in RESP2 too).
 */
const PUSHED_REPLIES = new Set([
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
]);
const EXECABORT = err("EXECABORT Transaction discarded because of previous errors.");
const VERSION_SPEC = COMMANDS.get(VERSION_COMMAND)!;
/** Writes after which every tracking client of the node drops its whole cache (Redis's null invalidation). */
const FLUSHES = new Set(["flushall", "flushdb"]);

/** What a session needs from the node: the keyspace, the write path, and the world outside. */
export interface Backend {
  /**
   * Runs a read-only data command on database `db`: locally on a standalone node, on the right
   * replica in a cluster (which may answer asynchronously). `writeBack` is passed to local reads only;
   * `routing` is the connection's CLIENT ROUTING strategy (absent: the node's routing_strategy).
   */
  read(
    spec: CommandSpec,
    argv: readonly Uint8Array[],
    resp3: boolean,
    db: number,
    writeBack?: WriteBack,
    routing?: string,
  ): Reply | Promise<Reply>;
  /** Resolves with what apply returned once the op is durable and applied. */
  propose(op: Op): Promise<Reply>;
  now(): number;
  random(): number;
  readonly server: ServerView;
  /** ACL users, authentication delays and refusals (src/commands/acl.ts). */
  readonly security: SecurityApi;
  /** Present in cluster mode: CLUSTER commands and -MOVED redirects read it. */
  readonly cluster: ClusterView | undefined;
  /** New connections start in Redis Cluster mode (redis_cluster_mode). */
  readonly clusterModeDefault: boolean;
  clients(): readonly ClientState[];
  kill(id: number): boolean;
  /** This node's clients blocked in BLPOP and the like. */
  readonly blocking: BlockingRegistry;
  /** MONITOR: shows a command this node runs to the monitoring connections (absent: none can be). */
  monitor?(client: Pick<ClientState, "db" | "addr">, argv: readonly Uint8Array[]): void;
  /** Which client sent the ops and script reads this node runs (src/server/op-callers.ts); absent: nobody asks. */
  readonly callers?: {
    proposing(op: Op, caller: OpCaller): void;
    reading<T>(caller: OpCaller, read: () => T): T;
  };
  /** CLIENT PAUSE of this node (absent: never paused). */
  readonly pause?: ClientPause;
  /** This node's script in progress: -BUSY, SCRIPT KILL, FUNCTION KILL (absent: scripts never run as trials). */
  readonly busy?: BusyScripts;
  /**
   * Database `db` of this node's own data, readable across event-loop turns, where that is the
   * data script `argv` must see (a standalone node; a cluster member that leads the script's
   * partition, after a ReadIndex round); undefined elsewhere: the script then runs only in the log.
   */
  localContext?(
    db: number,
    resp3: boolean,
    argv: readonly Uint8Array[],
  ): LocalScriptContext | Promise<LocalScriptContext | undefined> | undefined;
  /** Calls `fn` once after `ms` milliseconds unless the returned cancel runs first. */
  after(ms: number, fn: () => void): () => void;
}

/** Where a script's trial reads; `home`: the partition a keyless script runs in (see scriptHost). */
export interface LocalScriptContext {
  readonly ctx: CommandContext;
  readonly home?: { readonly partition: number; readonly slot: number };
}

/** The client behind an op or a script read: told of each command its scripts run (see ScriptCallSink). */
export interface OpCaller {
  call(db: number, argv: readonly Uint8Array[], declared: readonly Uint8Array[], read: boolean): void;
  /** Its client id: NOLOOP tracking skips the invalidations of the keys its ops change. */
  readonly client: number;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
}

/** What WATCH records for a key, and the index of its last write. */
type VersionState = WatchedKey & { lastWrite: number };

function unknownCommand(argv: readonly Uint8Array[]): Reply {
  let args = "";
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${str(argv[i]!.subarray(0, 128 - args.length))}' `;
  }
  const text = `ERR unknown command '${str(argv[0]!.subarray(0, 128))}', with args beginning with: ${args}`;
  return err(text.replace(/[\r\n]/g, " "));
}

/** A transaction EXEC runs: its queued commands, whether queuing failed, the WATCHed keys. */
interface Transaction {
  readonly queued: readonly (readonly Uint8Array[])[];
  readonly failed: boolean;
  readonly watch: readonly WatchedKey[];
}

export class Session implements SessionApi {
  readonly client: ClientState;
  readonly table = COMMANDS;
  /** Set by QUIT or CLIENT KILL of itself; the server closes after writing the reply. */
  closeRequested = false;
  /**
   * The table name of the command execute() was last given, or undefined when it was unknown
   * (for metrics: CLIENT LIST's cmd= keeps the last known command, as in Redis).
   */
  lastExecuted: string | undefined;
  /** CLIENT REPLY OFF: no reply is written until CLIENT REPLY ON. */
  private replyOff = false;
  /** CLIENT REPLY SKIP: the next command's reply is not written. */
  private skipNext = false;
  /** The reply to the command execute() last ran is not written (read by the server right after). */
  silent = false;
  /** Proposed writes whose reply has not come back yet. */
  private inFlight = 0;
  /** The transactions of deferred EXECs, taken as each EXEC arrived (undefined: there was none). */
  private readonly takenAtArrival: (Transaction | undefined)[] = [];
  /** Commands that arrived behind a write still in flight, in arrival order. */
  private readonly deferred: {
    spec: CommandSpec;
    argv: readonly Uint8Array[];
    resolve: (r: Reply | Promise<Reply>) => void;
  }[] = [];
  /** A WATCH still reading versions: everything behind it waits, or EXEC could overtake it. */
  private watching = 0;
  /** The commands queued since MULTI; undefined outside a transaction. */
  private queued: (readonly Uint8Array[])[] | undefined;
  /** A command was refused while queueing: EXEC must abort. */
  private queueFailed = false;
  private readonly watched = new Map<string, WatchedKey>();
  /** A blocking command waits: every later command of the connection waits behind it, as in Redis. */
  private blocked = false;
  /** Waiting for the writes in flight to be applied (afterWrites). */
  private idle: (() => void)[] = [];
  /** The connection is gone: a blocked command stops waiting and nothing more is popped for it. */
  private closed = false;
  /** Ends the current blocked wait (connection closed). */
  private endWait: (() => void) | undefined;
  /** This connection as the sender of its ops: MONITOR shows what its scripts run, tracking remembers their keys once they read. */
  private readonly opCaller: OpCaller;

  constructor(
    private readonly backend: Backend,
    info: ConnectionInfo,
    /** Absent where nothing can be pushed to the client (HTTP). */
    readonly pubsub: PubSubApi | undefined = undefined,
  ) {
    const now = backend.now();
    this.client = {
      ...info,
      createdAt: now,
      name: "",
      libName: "",
      libVer: "",
      protocol: 2,
      authenticated: false,
      user: DEFAULT_USER,
      lastCommand: "NULL",
      lastActiveAt: now,
      clusterMode: backend.clusterModeDefault,
      db: 0,
      ...(pubsub ? { subscriptionCount: (kind) => pubsub.count(kind) } : {}),
      sessionState: () => {
        const tracking = this.pubsub?.tracking?.options();
        return {
          multi: this.queued?.length ?? -1,
          blocked: this.endWait !== undefined,
          ...(tracking ? { tracking } : {}),
        };
      },
    };
    this.client.authenticated = defaultUserOpen(this);
    this.opCaller = {
      call: (db, argv, declared, read) => {
        this.backend.monitor?.({ db, addr: "lua" }, argv);
        if (read) this.pubsub?.tracking?.readKeys(declared);
        else if (argv[0]!.length <= 8) this.publishForScript(argv);
      },
      client: info.id,
    };
  }

  get now(): number {
    return this.backend.now();
  }
  get server(): ServerView {
    return this.backend.server;
  }
  get security(): SecurityApi {
    return this.backend.security;
  }
  get cluster(): ClusterView | undefined {
    return this.backend.cluster;
  }
  clients(): readonly ClientState[] {
    return this.backend.clients();
  }
  kill(id: number): boolean {
    return this.backend.kill(id);
  }
  get clientPause(): ClientPause | undefined {
    return this.backend.pause;
  }
  unblock(id: number, withError: boolean): boolean {
    return this.backend.blocking.unblock(id, withError);
  }
  /** The connection closed: a blocked command stops waiting (its reply is never written). */
  close(): void {
    this.closed = true;
    this.endWait?.();
  }
  readData(argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const spec = this.table.get(ascii(argv[0]!).toLowerCase());
    if (!spec?.run) return err(`ERR no data command ${ascii(argv[0]!)}`);
    return this.backend.read(spec, argv, this.client.protocol === 3, this.client.db, undefined, this.client.routing);
  }
  closeAfterReply(): void {
    this.closeRequested = true;
  }
  replyMode(mode: "on" | "off" | "skip"): void {
    // As Redis: OFF and SKIP do not answer themselves; SKIP under OFF changes nothing.
    if (mode === "skip") this.skipNext = !this.replyOff;
    else this.replyOff = mode === "off";
    this.silent = mode !== "on";
  }
  resetState(): void {
    this.queued = undefined;
    this.queueFailed = false;
    this.watched.clear();
  }

  multi(): Reply {
    if (this.queued) return err("ERR MULTI calls can not be nested");
    this.queued = [];
    return OK;
  }

  discard(): Reply {
    if (!this.queued) return err("ERR DISCARD without MULTI");
    this.resetState();
    return OK;
  }

  /**
   * Records each key's version and liveness, read like any data command (on the key's leader in
   * a cluster). Redis keeps the first WATCH of a key: a later one must not hide a change between.
   * A watched key is (database, key), as in Redis.
   */
  watch(keys: readonly Uint8Array[]): Reply | Promise<Reply> {
    if (this.queued) return err("ERR WATCH inside MULTI is not allowed");
    const db = this.client.db;
    const id = (k: Uint8Array) => `${db}:${byteKey(k)}`;
    const fresh = keys.filter(
      (k, i) => !this.watched.has(id(k)) && keys.findIndex((x) => byteKey(x) === byteKey(k)) === i,
    );
    const reads = fresh.map((key) => this.versionOf(key, db));
    const record = (states: readonly (WatchedKey | Reply)[]): Reply => {
      for (const st of states) {
        if ("t" in st) return st;
        this.watched.set(id(st.key), { db, key: st.key, version: st.version, existed: st.existed });
      }
      return OK;
    };
    if (!reads.some((r) => r instanceof Promise)) return record(reads as (WatchedKey | Reply)[]);
    this.watching++;
    return Promise.all(reads)
      .then(record)
      .finally(() => {
        this.watching--;
        this.drain();
      });
  }

  /** What WATCH records for a key, plus the key's current version (for an EXEC with nothing to apply). */
  private versionOf(key: Uint8Array, db: number): VersionState | Reply | Promise<VersionState | Reply> {
    const toState = (r: Reply) => {
      if (r.t !== "array" || r.v.length !== 3 || r.v.some((x) => x.t !== "int")) return r;
      const [point, live, lastWrite] = r.v.map((x) => Number((x as { v: number | bigint }).v)) as [
        number,
        number,
        number,
      ];
      return { db, key, version: point, existed: live === 1, lastWrite };
    };
    const r = this.backend.read(VERSION_SPEC, [utf8(VERSION_COMMAND), key], false, db);
    return r instanceof Promise ? r.then(toState) : toState(r);
  }

  unwatch(): Reply {
    this.watched.clear();
    return OK;
  }

  /**
   * Data commands (reads too) go to the log as one op so the transaction is atomic on every
   * replica, and the WATCH check runs inside apply; connection and server commands queued with
   * them run here, after it, and their replies take their places in EXEC's array.
   */
  exec(): Reply | Promise<Reply> {
    const taken = this.takenAtArrival.length > 0 ? this.takenAtArrival.shift() : this.takeTransaction();
    if (!taken) return err("ERR EXEC without MULTI");
    const { queued, failed, watch } = taken;
    if (failed) return EXECABORT;
    const specs = queued.map((argv) => this.table.get(ascii(argv[0]!.subarray(0, 64)).toLowerCase())!);
    // SELECT inside MULTI goes into the op: the data commands after it use the database it selects.
    const inOp = (spec: CommandSpec) => spec.run !== undefined || spec.name === "select";
    const finish = (dataReplies: readonly Reply[]): Reply => {
      let d = 0;
      return array(specs.map((spec, i) => (inOp(spec) ? dataReplies[d++]! : this.runSession(spec, queued[i]!))));
    };
    const data = queued.filter((_, i) => inOp(specs[i]!));
    // Only connection commands: nothing to apply, but the WATCHed keys must still be unchanged.
    if (data.length === 0) return this.watchIntact(watch).then((intact) => (intact ? finish([]) : WATCH_ABORT));
    const op: Op = { ...this.opBase(), cmds: data, multi: true, ...(watch.length > 0 ? { watch } : {}) };
    return this.propose(op).then((reply) => {
      if (reply.t !== "array") return reply;
      if (specs.some((spec) => FLUSHES.has(spec.name))) this.pubsub?.tracking?.flushed();
      this.client.db = selectedAfter(data, reply.v, this.client.db);
      return finish(reply.v);
    });
  }

  /** Ends the open transaction, if any, handing over what EXEC runs. */
  private takeTransaction(): Transaction | undefined {
    if (!this.queued) return undefined;
    const taken = { queued: this.queued, failed: this.queueFailed, watch: [...this.watched.values()] };
    this.resetState();
    return taken;
  }

  private async watchIntact(watch: readonly WatchedKey[]): Promise<boolean> {
    for (const w of watch) {
      const now = await this.versionOf(w.key, w.db ?? 0);
      if ("t" in now || now.lastWrite > w.version || (w.existed && !now.existed)) return false;
    }
    return true;
  }

  /** A connection command queued in MULTI (EXEC and WATCH, the asynchronous ones, never are). */
  private runSession(spec: CommandSpec, argv: readonly Uint8Array[]): Reply {
    const reply = spec.exec!(this, argv);
    return reply instanceof Promise ? err(`ERR ${spec.name} cannot run inside MULTI`) : reply;
  }

  /**
   * Runs one command. Replies come back in command order (the server writes them in order), and
   * commands take effect in arrival order: a read never overtakes an earlier write of the same
   * connection, and a write is never proposed before an earlier command that is still deferred.
   */
  execute(argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const name = ascii(argv[0]!.subarray(0, 64)).toLowerCase();
    const spec = this.table.get(name);
    this.silent = (this.replyOff || this.skipNext) && !PUSHED_REPLIES.has(name);
    this.skipNext = false;
    this.client.lastActiveAt = this.backend.now();
    if (!spec || name.startsWith("__")) {
      this.lastExecuted = undefined;
      if (this.queued) this.queueFailed = true;
      return unknownCommand(argv);
    }
    // CLIENT LIST's cmd=: a container's subcommand as Redis names it ("client|list").
    const sub = spec.subcommands && argv.length > 1 ? ascii(argv[1]!.subarray(0, 64)).toLowerCase() : undefined;
    this.client.lastCommand = sub && spec.subcommands!.some((x) => x.name === sub) ? `${name}|${sub}` : name;
    this.lastExecuted = name;
    if (this.queued && !NOT_QUEUED.has(name)) {
      // As Redis: refused while a script is busy, which fails the transaction.
      const busy = this.backend.busy?.busyReply(this, argv);
      if (!busy) return this.enqueue(spec, argv);
      this.queueFailed = true;
      return busy;
    }
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) return E.arity(name);
    if (!this.client.authenticated && !spec.flags.includes("noauth")) return E.noAuth;
    const denied = aclRefusal(this, spec, argv, false);
    if (denied) {
      if (name !== "exec") return denied;
      // As Redis: a refused EXEC ends the transaction and says why.
      this.resetState();
      return err(`EXECABORT Transaction discarded because of: ${(denied as { v: string }).v}`);
    }
    const refused = subscribedModeReply(this, name, argv);
    if (refused) return refused;
    const busy = this.backend.busy;
    if (!busy) return this.dispatch(spec, name, argv, false);
    if (sub === "kill" && (name === "script" || name === "function")) {
      return busy.kill(name === "script" ? "eval" : "function");
    }
    return this.gated(busy, spec, name, argv);
  }

  /** Dispatches once no other client's script holds the node (BusyScripts.gate), or answers -BUSY. */
  private gated(busy: BusyScripts, spec: CommandSpec, name: string, argv: readonly Uint8Array[]) {
    const gate = busy.gate(this, argv);
    if (gate instanceof Promise) return gate.then((): Reply | Promise<Reply> => this.gated(busy, spec, name, argv));
    if (gate) {
      if (name !== "exec" || !this.queued) return gate;
      // A refused EXEC ends the transaction and says why, as Redis's execCommandAbort.
      this.resetState();
      return err(`EXECABORT Transaction discarded because of: ${(gate as { v: string }).v}`);
    }
    const reply = this.dispatch(spec, name, argv, false);
    if (name !== "function" || argv.length !== 2 || ascii(argv[1]!).toLowerCase() !== "stats") return reply;
    return reply instanceof Promise ? reply.then((r) => busy.withRunningScript(r)) : busy.withRunningScript(reply);
  }

  /**
   * Runs a validated command, unless CLIENT PAUSE holds it: then it waits and runs once the pause
   * ends (`resumed`), ahead of the commands that arrived while it waited.
   */
  private dispatch(
    spec: CommandSpec,
    name: string,
    argv: readonly Uint8Array[],
    resumed: boolean,
  ): Reply | Promise<Reply> {
    const held = this.backend.pause?.active && this.heldByPause(spec, name, argv);
    if (held) {
      this.blocked = true;
      const resume = () => {
        this.blocked = false;
        const reply = this.dispatch(spec, name, argv, true);
        this.drain();
        return reply;
      };
      if (held === true) return this.backend.pause!.wait().then(resume);
      // A function flagged no-writes runs while writes are paused: FCALL_RO answers it.
      return Promise.resolve(held).then((r) => {
        if (r.t === "error" && r.v.startsWith(WRITE_FLAG_REFUSAL)) return this.backend.pause!.wait().then(resume);
        this.blocked = false;
        this.drain();
        return r;
      });
    }
    // Connection and server commands never touch the keyspace, so they need not wait for earlier
    // writes; running them at once lets HELLO switch the protocol before later replies are encoded.
    // WATCH (a read) and EXEC (a write) do touch it and keep their place like data commands. Behind
    // a blocked command they wait too (TIME, INFO and CLIENT SETNAME would show they ran early),
    // except those whose effect execute() needs when the next command arrives.
    if (spec.exec && !ordered(spec)) {
      if (!this.blocked || ARRIVAL.has(name)) return this.runConnection(spec, argv);
      return new Promise<Reply>((resolve) => this.deferred.push({ spec, argv, resolve }));
    }
    if (spec.resolve) {
      const resolved = spec.resolve(argv);
      if (!Array.isArray(resolved)) return resolved as Reply;
      argv = resolved;
      spec = this.table.get(ascii(argv[0]!).toLowerCase())!;
    }
    if (this.client.clusterMode && this.backend.cluster) {
      const moved = clusterClientRefusal(spec, argv) ?? this.redirect(spec, argv, this.backend.cluster);
      if (moved) return moved;
    }
    // A write may be proposed at once unless an earlier command waits; a read only when no
    // earlier write is still in flight.
    if (this.deferred.length > 0 || this.watching > 0 || this.blocked || (!writes(spec) && this.inFlight > 0)) {
      // EXEC ends the transaction when it arrives, not when it runs: what the client sends after it
      // is not queued into it.
      if (name === "exec") this.takenAtArrival.push(this.takeTransaction());
      return new Promise<Reply>((resolve) =>
        resumed ? this.deferred.unshift({ spec, argv, resolve }) : this.deferred.push({ spec, argv, resolve }),
      );
    }
    return this.start(spec, argv);
  }

  /**
   * Whether the node's CLIENT PAUSE holds this command: every command under ALL; under WRITE what
   * may write, as Redis's may-replicate rule (an FCALL's function flags are known only by running
   * it: the FCALL_RO read it returns says).
   */
  private heldByPause(spec: CommandSpec, name: string, argv: readonly Uint8Array[]): boolean | Reply | Promise<Reply> {
    if (this.backend.pause!.active === "all") return true;
    if (name === "exec") {
      return (this.queued ?? []).some((a) => {
        const s = this.table.get(ascii(a[0]!.subarray(0, 64)).toLowerCase());
        return s !== undefined && mayWrite(s, a) === true;
      });
    }
    const verdict = mayWrite(spec, argv);
    if (verdict !== "function") return verdict;
    const ro = this.table.get("fcall_ro")!;
    return this.backend.read(ro, [utf8("fcall_ro"), ...argv.slice(1)], this.client.protocol === 3, this.client.db);
  }

  /** Commands start in arrival order (SELECT and RESET too): the selected database is the one they were sent under. */
  private start(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    if (spec.exec && !ordered(spec)) return this.runConnection(spec, argv);
    if (spec.exec) {
      const reply = spec.exec(this, argv);
      this.show(spec, argv);
      return reply;
    }
    this.show(spec, argv);
    if (!NO_TOUCH.has(spec.name)) {
      this.backend.server.keyAccess.touch(this.client.db, commandKeys(spec, argv), this.backend.now());
    }
    const tracking = this.pubsub?.tracking;
    const reply = mayBlock(spec, argv)
      ? this.blockingWrite(spec, argv)
      : RUNS_SCRIPT.has(spec.name)
        ? this.script(spec, argv)
        : isWrite(spec)
          ? this.trackedWrite(spec, argv)
          : this.read(spec, argv);
    // Remembered as the read is issued: a write applied before it answers still invalidates. A
    // script's keys are remembered only once it reads (opCaller), as in Redis.
    if (tracking && !isWrite(spec) && !RUNS_SCRIPT.has(spec.name)) tracking.readKeys(commandKeys(spec, argv));
    tracking?.commandDone();
    const complete = spec.completeReply;
    if (!complete) return reply;
    return reply instanceof Promise ? reply.then((r) => complete(this, argv, r)) : complete(this, argv, reply);
  }

  /** A connection or server command (see dispatch): runs on the session, not on the keyspace. */
  private runConnection(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const reply = spec.exec!(this, argv);
    this.show(spec, argv);
    // CLIENT CACHING applies to the command after it; any other command ends it.
    if (spec.name !== "client" || argv.length < 2 || ascii(argv[1]!).toLowerCase() !== "caching") {
      this.pubsub?.tracking?.commandDone();
    }
    return reply;
  }

  private read(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const c = this.client;
    const read = () => this.backend.read(spec, argv, c.protocol === 3, c.db, this.writeBack, c.routing);
    const callers = this.backend.callers;
    const script = callers !== undefined && RUNS_SCRIPT.has(spec.name);
    // In a cluster a script read runs on the partition's leader, after a round trip, so this node
    // never sees whether it called a read-only command (which makes Redis track its declared
    // keys): a tracking connection's is proposed as an op instead, and its apply here tells.
    if (script && this.backend.cluster && this.tracksKeysOf(argv)) return this.write(argv);
    const reply = script ? callers.reading(this.opCaller, read) : read();
    // The write the read asked for is done before the reply, as Redis's own are: what the client
    // sends next, INFO's expired_keys included, sees it.
    const back = this.writingBack;
    this.writingBack = undefined;
    return back ? back.then(() => reply) : reply;
  }

  /**
   * A script, first as a trial on this node's own data where it has it (src/commands/busy-script.ts):
   * one that ends without writing is answered from there; one that reaches a write is proposed
   * (or read, for the read-only variants, which never stop) as before.
   */
  private script(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const inLog = () => (isWrite(spec) ? this.trackedWrite(spec, argv) : this.read(spec, argv));
    const busy = this.backend.busy;
    // A writing script may start while the connection's earlier writes are in flight (read-only
    // ones wait for them): its trial is then "stale", it may miss them.
    const stale = this.inFlight > 0;
    const c = this.client;
    const local = busy && this.backend.localContext?.(c.db, c.protocol === 3, argv);
    if (!busy || !local) return inLog();
    const go = (l: LocalScriptContext | undefined) => (l ? this.trial(busy, spec, argv, l, inLog, stale) : inLog());
    if (!(local instanceof Promise)) return go(local);
    this.blocked = true;
    return local.then((l) => {
      this.blocked = false;
      const reply = go(l);
      this.drain();
      return reply;
    });
  }

  /** Runs `fn` once the connection's writes in flight are applied; its later commands wait. */
  private afterWrites(fn: () => Reply | Promise<Reply>): Promise<Reply> {
    this.blocked = true;
    return new Promise<void>((resolve) => this.idle.push(resolve)).then(() => {
      this.blocked = false;
      const reply = fn();
      this.drain();
      return reply;
    });
  }

  /**
   * A stale trial (see script) that ends with a reply might have answered from before the
   * connection's own write: it runs in the log instead, ordered after that write; one that cannot
   * start (an FCALL of a function a FUNCTION LOAD in flight adds) starts again once it is applied.
   * A killed one stands: it did nothing.
   */
  private trial(
    busy: BusyScripts,
    spec: CommandSpec,
    argv: readonly Uint8Array[],
    local: LocalScriptContext,
    inLog: () => Reply | Promise<Reply>,
    stale: boolean,
  ): Reply | Promise<Reply> {
    // What the trial ran reaches MONITOR and tracking only if it is the script's run: a stopped
    // trial runs again in apply, which reports it then.
    const calls: Parameters<OpCaller["call"]>[] = [];
    const ctx: CommandContext = { ...local.ctx, scriptCall: (...c) => calls.push(c) };
    const fcall = spec.name.startsWith("fcall");
    const readOnly = spec.name.endsWith("_ro");
    const home = local.home;
    const trial = fcall ? startFcall(ctx, argv, readOnly, home) : startEval(ctx, argv, readOnly, home?.slot);
    if (!("run" in trial)) return stale ? this.afterWrites(() => this.script(spec, argv)) : trial;
    const label = fcall ? ascii(argv[1]!) : `f_${LuaVm.sha(argv[1]!)}`;
    let killed = false;
    const run = {
      step: trial.run.step,
      kill: () => {
        killed = true;
        return trial.run.kill();
      },
    };
    let waiting = false;
    const propose = () => {
      // Proposed before the connection's later commands, which waited behind the trial.
      const reply = inLog();
      if (waiting) {
        waiting = false;
        this.blocked = false;
        this.drain();
      }
      return Promise.resolve(reply);
    };
    const report = (reply: Reply): Reply | Promise<Reply> => {
      if (trial.host.stopped) return reply;
      if (stale && !killed) return inLog();
      for (const c of calls) this.opCaller.call(...c);
      return reply;
    };
    const out = busy.run(this, fcall ? "function" : "eval", label, argv, run, propose);
    if (!(out instanceof Promise)) return report(out);
    this.blocked = waiting = true;
    return out.then(report).finally(() => {
      if (!waiting) return;
      waiting = false;
      this.blocked = false;
      this.drain();
    });
  }

  /**
   * A script's PUBLISH / SPUBLISH (src/commands/scripting.ts): delivered by this node only, once
   * the applied batch that ran the script has committed, as keyspace events are.
   */
  private publishForScript(argv: readonly Uint8Array[]): void {
    const name = ascii(argv[0]!).toLowerCase();
    const pubsub = this.pubsub;
    if (!pubsub || (name !== "publish" && name !== "spublish")) return;
    queueMicrotask(() => {
      if (name === "publish") pubsub.publish(argv[1]!, argv[2]!);
      else Promise.resolve(pubsub.publishShard(argv[1]!, argv[2]!)).catch(() => {});
    });
  }

  /** MONITOR: as Redis, once the command ran (SELECT shows its new database); admin commands are not shown. */
  private show(spec: CommandSpec, argv: readonly Uint8Array[]): void {
    if (!spec.flags.includes("admin")) this.backend.monitor?.(this.client, argv);
  }

  /** Inside MULTI: Redis refuses (and dooms the transaction) what would fail before running. */
  private enqueue(spec: CommandSpec, argv: readonly Uint8Array[]): Reply {
    const refused = (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity)
      ? E.arity(spec.name)
      : !this.client.authenticated && !spec.flags.includes("noauth")
        ? E.noAuth
        : (aclRefusal(this, spec, argv, true) ??
          (spec.flags.includes("no-multi")
            ? err("ERR Command not allowed inside a transaction")
            : this.client.clusterMode && this.backend.cluster
              ? clusterClientRefusal(spec, argv)
              : undefined));
    if (refused) {
      this.queueFailed = true;
      return refused;
    }
    this.show(spec, argv);
    const resolved = spec.resolve?.(argv);
    this.queued!.push(Array.isArray(resolved) ? resolved : argv);
    return QUEUED;
  }

  /** Redis Cluster clients are sent to the node serving the slot instead of being proxied. */
  private redirect(spec: CommandSpec, argv: readonly Uint8Array[], cluster: ClusterView): Reply | undefined {
    const keys = commandKeys(spec, argv);
    if (keys.length === 0) return undefined;
    const slot = keySlot(keys[0]!);
    for (const k of keys) if (keySlot(k) !== slot) return err("CROSSSLOT Keys in request don't hash to the same slot");
    const to = cluster.redirect(slot);
    return to === undefined ? undefined : err(`MOVED ${slot} ${to}`);
  }

  /** Starts deferred commands in order: writes as soon as they are first in line, reads once no earlier write is in flight. */
  private drain(): void {
    while (this.deferred.length > 0 && this.watching === 0 && !this.blocked) {
      const next = this.deferred[0]!;
      if (!writes(next.spec) && this.inFlight > 0) return;
      this.deferred.shift();
      let reply: Reply | Promise<Reply>;
      try {
        reply = this.start(next.spec, next.argv);
      } catch (e) {
        // Reported by the server like a throw from execute(); the commands behind still run.
        reply = Promise.reject(e);
      }
      next.resolve(reply);
    }
  }

  /** What every op of this connection carries: the proposer's clock, a seed, the reply shape. */
  private opBase(): Pick<Op, "now" | "seed" | "resp3" | "encoding" | "db"> {
    const db = this.client.db;
    const encoding = this.backend.server.encodingLimits();
    const seed = Math.floor(this.backend.random() * 2 ** 32);
    const base = { now: this.backend.now(), seed, ...(db !== 0 ? { db } : {}), ...(encoding ? { encoding } : {}) };
    return this.client.protocol === 3 ? { ...base, resp3: true } : base;
  }

  /** A read's write (see read()); counts as in flight from the call on. */
  private readonly writeBack: WriteBack = (argv) => {
    const done = this.write(argv).catch(() => undefined);
    this.writingBack = this.writingBack ? Promise.all([this.writingBack, done]) : done;
  };
  private writingBack: Promise<unknown> | undefined;

  private write(argv: readonly Uint8Array[]): Promise<Reply> {
    return this.propose({ ...this.opBase(), cmds: [argv] });
  }

  /** Whether this connection's tracking would remember the keys a script declares in `argv`. */
  private tracksKeysOf(argv: readonly Uint8Array[]): boolean {
    const o = this.pubsub?.tracking?.options();
    return o !== undefined && !o.bcast && scriptKeys(argv).length > 0;
  }

  /** A write with client tracking: a FLUSHDB/FLUSHALL empties every tracking client's cache of this node (Redis's null invalidation). */
  private trackedWrite(spec: CommandSpec, argv: readonly Uint8Array[]): Promise<Reply> {
    const tracking = this.pubsub?.tracking;
    if (!tracking || !FLUSHES.has(spec.name)) return this.write(argv);
    return this.write(argv).then((r) => {
      if (r.t !== "error") tracking.flushed();
      return r;
    });
  }

  /**
   * A blocking pop outside MULTI: proposed as the non-blocking form (a replicated write, like LPOP);
   * while it finds nothing the client waits in this node's registry (src/commands/blocking.ts) and
   * retries whenever a write this node saw touches one of its keys (in a cluster also every
   * CLUSTER_RETRY_MS, see src/node.ts). It is registered before the first try, so a write that
   * commits between that try and the wait still wakes it. A pop is proposed only while the
   * connection is open; one that succeeds after the connection closed is pushed back.
   */
  private blockingWrite(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const timeout = parseTimeout(spec.name, argv);
    if (typeof timeout !== "number") return timeout;
    const db = this.client.db;
    this.blocked = true;
    const xinfo = this.table.get("xinfo")!;
    const read = (a: readonly Uint8Array[]) => this.backend.read(xinfo, a, false, db, this.writeBack);
    const resolved = resolveBlockingArgs(spec.name, argv, read);
    return resolved instanceof Promise
      ? resolved.then((a) => this.wait(spec, a, timeout, db))
      : this.wait(spec, resolved, timeout, db);
  }

  /** blockingWrite's wait: tries, then retries whenever the registry wakes it, until a pop or the end. */
  private wait(spec: CommandSpec, argv: readonly Uint8Array[], timeout: number, db: number): Promise<Reply> {
    const registry = this.backend.blocking;
    return new Promise<Reply>((resolve) => {
      let trying = false;
      let again = false;
      let done = false;
      let pendingEnd: Reply | undefined;
      /** The try in flight, settled once its answer is handled (and any retry it owed proposed). */
      let settled: Promise<void> | undefined;
      const finish = (r: Reply) => {
        if (done) return;
        done = true;
        registry.remove(waiter);
        cancelTimer();
        this.endWait = undefined;
        this.blocked = false;
        resolve(r);
        this.drain();
      };
      // A try in flight may still pop: its result decides, the timeout or UNBLOCK only if it found nothing.
      const end = (r: Reply) => (trying ? (pendingEnd = r) : finish(r));
      const attempt = (first: boolean): Promise<void> | undefined => {
        if (done) return undefined;
        if (trying) {
          again = true;
          return settled;
        }
        if (this.closed) {
          end(TIMED_OUT);
          return undefined;
        }
        trying = true;
        registry.tryStarted();
        const tried = this.propose({ ...this.opBase(), cmds: [argv] }, true).then((r) => {
          trying = false;
          const popped = !nothingPopped(r) && r.t !== "error";
          if (popped && this.closed) this.giveBack(spec.name, argv, r, db);
          // A retry's error keeps the client waiting (its key became another type: Redis serves only
          // lists), except BLMOVE's: the element is there but the destination is not a list.
          if (popped || (r.t === "error" && (first || MOVES.has(spec.name)))) return finish(r);
          const ends = first ? undefined : retryEnds(spec.name, r);
          if (ends) return finish(ends);
          if (pendingEnd) return finish(pendingEnd);
          if (again) {
            again = false;
            attempt(false);
          }
        });
        settled = tried.finally(() => registry.tryEnded());
        return undefined;
      };
      const waiter = {
        clientId: this.client.id,
        db,
        keys: commandKeys(spec, argv).map(byteKey),
        wake: () => attempt(false),
        unblock: (withError: boolean) => end(withError ? UNBLOCKED : TIMED_OUT),
      };
      const cancelTimer = timeout > 0 ? this.backend.after(timeout, () => end(TIMED_OUT)) : () => {};
      this.endWait = () => end(TIMED_OUT);
      registry.add(waiter);
      attempt(true);
    });
  }

  /**
   * Puts back what a pop took for a client whose connection closed before the reply could be
   * written. A write of the element by another client between the pop and this push may reorder
   * it within its list; it is never lost unless this node stops in between.
   */
  private giveBack(name: string, argv: readonly Uint8Array[], reply: Reply, db: number): void {
    const push = pushBack(name, argv, reply);
    if (push) void this.propose({ ...this.opBase(), ...(db !== 0 ? { db } : {}), cmds: [push] });
  }

  /** Wakes the clients of this node blocked on keys the committed op wrote; whether it woke any. */
  private wakeBlocked(op: Op, reply: Reply): boolean {
    if (this.backend.blocking.size === 0 || reply.t === "error") return false;
    let woke = false;
    let db = op.db ?? 0;
    op.cmds.forEach((argv, i) => {
      const spec = this.table.get(ascii(argv[0]!.subarray(0, 64)).toLowerCase());
      if (!spec) return;
      if (spec.name === "select") db = Number(ascii(argv[1]!));
      if (!isWrite(spec)) return;
      const own = op.multi ? (reply.t === "array" ? reply.v[i] : undefined) : reply;
      // A blocking pop that found nothing wrote nothing: waking others would make the waiters wake each other forever.
      if (spec.flags.includes("blocking") && (!own || nothingPopped(own))) return;
      if (WAKES_ALL.has(spec.name)) woke = this.backend.blocking.wakeAll() || woke;
      else woke = this.backend.blocking.touched(db, commandKeys(spec, argv).map(byteKey)) || woke;
    });
    return woke;
  }

  /**
   * `retry`: a blocked client's try, which answers without waiting for the tries it wakes (see
   * BlockingRegistry.settled). A cluster node does not wait either: its blocked clients also retry
   * every 100 ms, so tries may never all be settled at once.
   */
  /**
   * The reply once the woken tries have settled, or after SETTLE_WAIT_MS: other writers keep
   * waking clients, and a stream of their tries must not hold this reply back indefinitely.
   */
  private afterWoken(r: Reply): Promise<Reply> {
    return new Promise((resolve) => {
      const cancel = this.backend.after(SETTLE_WAIT_MS, () => resolve(r));
      void this.backend.blocking.settled().then(() => {
        cancel();
        resolve(r);
      });
    });
  }

  private propose(op: Op, retry = false): Promise<Reply> {
    this.inFlight++;
    const callers = this.backend.callers;
    if (
      callers &&
      (this.pubsub?.tracking?.options()?.noloop ||
        op.cmds.some((argv) => RUNS_SCRIPT.has(ascii(argv[0]!.subarray(0, 16)).toLowerCase())))
    ) {
      callers.proposing(op, this.opCaller);
    }
    const bySha = proposedBySha(op);
    const proposed = bySha
      ? this.backend.propose(bySha).then((r) => {
          if (!isUnknownScript(r)) return r;
          callers?.proposing(op, this.opCaller);
          return this.backend.propose(op);
        })
      : this.backend.propose(op);
    return proposed
      .then((r) => (this.wakeBlocked(op, r) && !retry && !this.backend.cluster ? this.afterWoken(r) : r))
      .catch((e: unknown) => err(`ERR write failed: ${(e as Error).message}`))
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0 && this.idle.length > 0) for (const f of this.idle.splice(0)) f();
        this.drain();
      });
  }
}

/** Longest a write that woke blocked clients holds its reply for their tries (see Session.afterWoken). */
const SETTLE_WAIT_MS = 1000;

/** Redis's error for a script with the write flag run by a read-only variant. */
const WRITE_FLAG_REFUSAL = "ERR Can not execute a script with write flag";

/** Whether a command may write (CLIENT PAUSE WRITE holds it); "function": an FCALL, which depends on its function's flags. */
function mayWrite(spec: CommandSpec, argv: readonly Uint8Array[]): boolean | "function" {
  if (MAY_REPLICATE.has(spec.name)) return true;
  if (spec.name === "fcall") return "function";
  if (spec.name === "eval" || spec.name === "evalsha") {
    const resolved = spec.name === "evalsha" ? spec.resolve!(argv) : argv;
    if (!Array.isArray(resolved)) return false;
    const flags = shebangFlags(resolved[1]!);
    return !(flags instanceof Set && flags.has("no-writes"));
  }
  return isWrite(spec);
}

/** Blocking pops that push too: woken with a destination of another type, they answer WRONGTYPE (as Redis). */
const MOVES = new Set(["blmove", "brpoplpush"]);
/** Session commands that read or write the keyspace: ordered among data commands. */
const ordered = (spec: CommandSpec) => ORDERED.has(spec.name);
/**
 * SELECT and RESET change the database the commands after them use (WATCH and EXEC read it); MEMORY USAGE
 * reads a key; PUBLISH keeps its place so that a subscriber told of a write can read it.
 */
const ORDERED = new Set(["watch", "exec", "select", "reset", "debug", "memory", "publish", "spublish"]);
/**
 * Connection commands that run as they arrive even behind a blocked command: execute() and dispatch
 * read what they change (transaction, user, protocol, reply mode, subscriptions, cluster routing,
 * ACL rules) when the commands after them arrive, so they must have run by then.
 */
const ARRIVAL = new Set([
  "multi",
  "discard",
  "unwatch",
  "auth",
  "hello",
  "client",
  "quit",
  "readonly",
  "readwrite",
  "asking",
  "acl",
  "config",
  ...PUSHED_REPLIES,
]);
/** What must not overtake an earlier command of the connection, nor be overtaken by a later read. */
const writes = (spec: CommandSpec) => isWrite(spec) || spec.name === "exec";
