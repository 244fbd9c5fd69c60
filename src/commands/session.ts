// One client connection's view of FlyDB: authentication, protocol, ordering of pipelined commands,
// and dispatch through the command table to the keyspace (reads) or the log (writes).
import { err, type Reply } from "../resp/reply.ts";
import { COMMANDS, isWrite } from "./table.ts";
import { keySlot } from "../cluster/core/slot.ts";
import { commandKeys } from "./connection.ts";
import type { ClientState, ClusterView, CommandSpec, Op, ServerView, SessionApi } from "./types.ts";
import { ascii, E, str } from "./util.ts";

/** What a session needs from the node: the keyspace, the write path, and the world outside. */
export interface Backend {
  /**
   * Runs a read-only data command: locally on a standalone node, on the right replica in a
   * cluster (which may answer asynchronously).
   */
  read(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply>;
  /** Resolves with what apply returned once the op is durable and applied. */
  propose(op: Op): Promise<Reply>;
  now(): number;
  random(): number;
  readonly server: ServerView;
  readonly requirepass: string;
  /** Present in cluster mode: CLUSTER commands and -MOVED redirects read it. */
  readonly cluster: ClusterView | undefined;
  /** New connections start in Redis Cluster mode (redis_cluster_mode). */
  readonly clusterModeDefault: boolean;
  clients(): readonly ClientState[];
  kill(id: number): boolean;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
}

function unknownCommand(argv: readonly Uint8Array[]): Reply {
  let args = "";
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${str(argv[i]!.subarray(0, 128 - args.length))}' `;
  }
  const text = `ERR unknown command '${str(argv[0]!.subarray(0, 128))}', with args beginning with: ${args}`;
  return err(text.replace(/[\r\n]/g, " "));
}

export class Session implements SessionApi {
  readonly client: ClientState;
  readonly table = COMMANDS;
  /** Set by QUIT or CLIENT KILL of itself; the server closes after writing the reply. */
  closeRequested = false;
  /** Proposed writes whose reply has not come back yet. */
  private inFlight = 0;
  /** Commands that arrived behind a write still in flight, in arrival order. */
  private readonly deferred: { spec: CommandSpec; argv: readonly Uint8Array[]; resolve: (r: Reply | Promise<Reply>) => void }[] = [];

  constructor(
    private readonly backend: Backend,
    info: ConnectionInfo,
  ) {
    const now = backend.now();
    this.client = {
      ...info,
      createdAt: now,
      name: "",
      libName: "",
      libVer: "",
      protocol: 2,
      authenticated: backend.requirepass === "",
      lastCommand: "NULL",
      lastActiveAt: now,
      clusterMode: backend.clusterModeDefault,
    };
  }

  get now(): number {
    return this.backend.now();
  }
  get server(): ServerView {
    return this.backend.server;
  }
  get requirepass(): string {
    return this.backend.requirepass;
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
  closeAfterReply(): void {
    this.closeRequested = true;
  }
  resetState(): void {
    // MULTI/WATCH state lives here once transactions exist.
  }

  /**
   * Runs one command. Replies come back in command order (the server writes them in order), and
   * commands take effect in arrival order: a read never overtakes an earlier write of the same
   * connection, and a write is never proposed before an earlier command that is still deferred.
   */
  execute(argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const name = ascii(argv[0]!.subarray(0, 64)).toLowerCase();
    const spec = this.table.get(name);
    this.client.lastActiveAt = this.backend.now();
    if (!spec || name.startsWith("__")) return unknownCommand(argv);
    this.client.lastCommand = name;
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) return E.arity(name);
    if (!this.client.authenticated && !spec.flags.includes("noauth")) return E.noAuth;
    // Connection and server commands never touch the keyspace, so they need not wait for earlier
    // writes; running them at once lets HELLO switch the protocol before later replies are encoded.
    if (spec.exec) return spec.exec(this, argv);
    if (this.client.clusterMode && this.backend.cluster) {
      const moved = this.redirect(spec, argv, this.backend.cluster);
      if (moved) return moved;
    }
    const write = isWrite(spec);
    // A write may be proposed at once unless an earlier command waits; a read only when no
    // earlier write is still in flight.
    if (this.deferred.length > 0 || (!write && this.inFlight > 0)) {
      return new Promise<Reply>((resolve) => this.deferred.push({ spec, argv, resolve }));
    }
    return write ? this.write(argv) : this.backend.read(spec, argv);
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
    while (this.deferred.length > 0) {
      const next = this.deferred[0]!;
      const write = isWrite(next.spec);
      if (!write && this.inFlight > 0) return;
      this.deferred.shift();
      let reply: Reply | Promise<Reply>;
      try {
        reply = write ? this.write(next.argv) : this.backend.read(next.spec, next.argv);
      } catch (e) {
        // Reported by the server like a throw from execute(); the commands behind still run.
        reply = Promise.reject(e);
      }
      next.resolve(reply);
    }
  }

  private write(argv: readonly Uint8Array[]): Promise<Reply> {
    const op: Op = { cmds: [argv], now: this.backend.now(), seed: Math.floor(this.backend.random() * 2 ** 32) };
    this.inFlight++;
    return this.backend
      .propose(op)
      .catch((e: unknown) => err(`ERR write failed: ${(e as Error).message}`))
      .finally(() => {
        this.inFlight--;
        this.drain();
      });
  }
}
