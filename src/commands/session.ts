// One client connection's view of FlyDB: authentication, protocol, ordering of pipelined commands,
// and dispatch through the command table to the keyspace (reads) or the log (writes).
import { array, err, OK, QUEUED, type Reply } from "../resp/reply.ts";
import { COMMANDS, isWrite } from "./table.ts";
import { WATCH_ABORT, watchBroken } from "./transactions.ts";
import type { ClientState, CommandSpec, Keyspace, Op, ServerView, SessionApi, WatchedKey } from "./types.ts";
import { ascii, byteKey, E } from "./util.ts";

/** Commands that act on the transaction itself instead of being queued inside MULTI (as Redis). */
const NOT_QUEUED = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);
/** Session commands that read or write the keyspace, so they are ordered like data commands. */
const ORDERED = new Set(["watch", "exec"]);
const EXECABORT = err("EXECABORT Transaction discarded because of previous errors.");

/** What a session needs from the node: the keyspace, the write path, and the world outside. */
export interface Backend {
  readonly db: Keyspace;
  /** Resolves with what apply returned once the op is durable and applied. */
  propose(op: Op): Promise<Reply>;
  now(): number;
  random(): number;
  readonly server: ServerView;
  readonly requirepass: string;
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
    args += `'${ascii(argv[i]!.subarray(0, 128 - args.length))}' `;
  }
  const text = `ERR unknown command '${ascii(argv[0]!.subarray(0, 128))}', with args beginning with: ${args}`;
  return err(text.replace(/[\r\n]/g, " "));
}

export class Session implements SessionApi {
  readonly client: ClientState;
  readonly table = COMMANDS;
  /** Set by QUIT or CLIENT KILL of itself; the server closes after writing the reply. */
  closeRequested = false;
  /** Promise of the last queued command while any is outstanding. */
  private tail: Promise<unknown> | undefined;
  private outstanding = 0;
  /** Commands that wait on earlier writes; a write behind one must wait too, or it could be applied before the read. */
  private waiting = 0;
  /** The commands queued since MULTI; undefined outside a transaction. */
  private queued: (readonly Uint8Array[])[] | undefined;
  /** A command was refused while queueing: EXEC must abort. */
  private queueFailed = false;
  private readonly watched = new Map<string, WatchedKey>();

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

  watch(keys: readonly Uint8Array[]): Reply {
    if (this.queued) return err("ERR WATCH inside MULTI is not allowed");
    const { db } = this.backend;
    const now = this.backend.now();
    for (const key of keys) {
      const id = byteKey(key);
      // Redis keeps the first WATCH of a key: a later one must not hide a change in between.
      if (!this.watched.has(id)) this.watched.set(id, { key, version: db.version(key), existed: db.meta(key, now) !== undefined });
    }
    return OK;
  }

  unwatch(): Reply {
    this.watched.clear();
    return OK;
  }

  /**
   * Data commands (reads too) go to the log as one op so the transaction is atomic on every
   * replica; connection and server commands queued with them run here, after it, and their
   * replies take their places in EXEC's array.
   */
  exec(): Reply | Promise<Reply> {
    if (!this.queued) return err("ERR EXEC without MULTI");
    const queued = this.queued;
    const failed = this.queueFailed;
    const watch = [...this.watched.values()];
    this.resetState();
    if (failed) return EXECABORT;
    const specs = queued.map((argv) => this.table.get(ascii(argv[0]!.subarray(0, 64)).toLowerCase())!);
    const data = queued.filter((_, i) => specs[i]!.run);
    const finish = (dataReplies: readonly Reply[]): Reply => {
      let d = 0;
      return array(specs.map((spec, i) => (spec.run ? dataReplies[d++]! : this.runLocalSync(spec, queued[i]!))));
    };
    if (data.length === 0) {
      return watchBroken({ cmds: [], now: this.backend.now(), seed: 0, watch }, this.backend.db) ? WATCH_ABORT : finish([]);
    }
    const op: Op = { ...this.opBase(), cmds: data, multi: true, ...(watch.length > 0 ? { watch } : {}) };
    return this.propose(op).then((reply) => (reply.t === "array" ? finish(reply.v) : reply));
  }

  /**
   * Runs one command. Replies come back in command order (the server writes them in order);
   * a read never overtakes an earlier write of the same connection.
   */
  execute(argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    const name = ascii(argv[0]!.subarray(0, 64)).toLowerCase();
    const spec = this.table.get(name);
    this.client.lastActiveAt = this.backend.now();
    if (!spec || name.startsWith("__")) {
      if (this.queued) this.queueFailed = true;
      return unknownCommand(argv);
    }
    this.client.lastCommand = name;
    if (this.queued && !NOT_QUEUED.has(name)) return this.enqueue(spec, argv);
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) return E.arity(name);
    if (!this.client.authenticated && !spec.flags.includes("noauth")) return E.noAuth;
    // Connection and server commands never touch the keyspace, so they need not wait for earlier
    // writes; running them at once lets HELLO switch the protocol before later replies are encoded.
    // WATCH and EXEC do touch it: they keep their place behind this connection's earlier writes.
    if (spec.exec && !ORDERED.has(name)) return spec.exec(this, argv);
    if (isWrite(spec)) return this.track(this.waiting > 0 ? this.tail!.then(() => this.write(argv)) : this.write(argv));
    if (this.outstanding > 0) {
      this.waiting++;
      return this.track(
        this.tail!.then(() => {
          this.waiting--;
          return this.runLocal(spec, argv);
        }),
      );
    }
    const reply = this.runLocal(spec, argv);
    // EXEC waits for its op: later commands of this connection must queue behind it.
    return reply instanceof Promise ? this.track(reply) : reply;
  }

  /** Inside MULTI: Redis refuses (and dooms the transaction) what would fail before running. */
  private enqueue(spec: CommandSpec, argv: readonly Uint8Array[]): Reply {
    const refused =
      (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) ? E.arity(spec.name)
      : !this.client.authenticated && !spec.flags.includes("noauth") ? E.noAuth
      : undefined;
    if (refused) {
      this.queueFailed = true;
      return refused;
    }
    this.queued!.push(argv);
    return QUEUED;
  }

  private track(p: Promise<Reply>): Promise<Reply> {
    this.outstanding++;
    const done = p.finally(() => {
      this.outstanding--;
      if (this.outstanding === 0) this.tail = undefined;
    });
    this.tail = done;
    return done;
  }

  /** What every op of this connection carries: the proposer's clock, a seed, the reply shape. */
  private opBase(): Pick<Op, "now" | "seed" | "resp3"> {
    const base = { now: this.backend.now(), seed: Math.floor(this.backend.random() * 2 ** 32) };
    return this.client.protocol === 3 ? { ...base, resp3: true } : base;
  }

  private write(argv: readonly Uint8Array[]): Promise<Reply> {
    return this.propose({ ...this.opBase(), cmds: [argv] });
  }

  private propose(op: Op): Promise<Reply> {
    return this.backend.propose(op).catch((e: unknown) => err(`ERR write failed: ${(e as Error).message}`));
  }

  private runLocal(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | Promise<Reply> {
    if (spec.exec) return spec.exec(this, argv);
    const ctx = { db: this.backend.db, now: this.backend.now(), random: () => this.backend.random(), resp3: this.client.protocol === 3 };
    return spec.run!(ctx, argv);
  }

  /** A connection command queued in MULTI; none of them waits for anything. */
  private runLocalSync(spec: CommandSpec, argv: readonly Uint8Array[]): Reply {
    const reply = this.runLocal(spec, argv);
    return reply instanceof Promise ? err("ERR command cannot run inside MULTI") : reply;
  }
}
