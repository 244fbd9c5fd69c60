// One client connection's view of FlyDB: authentication, protocol, ordering of pipelined commands,
// and dispatch through the command table to the keyspace (reads) or the log (writes).
import { err, type Reply } from "../resp/reply.ts";
import { COMMANDS, isWrite } from "./table.ts";
import type { ClientState, CommandSpec, Op, ServerView, SessionApi } from "./types.ts";
import { ascii, E } from "./util.ts";

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
    // MULTI/WATCH state lives here once transactions exist.
  }

  /**
   * Runs one command. Replies come back in command order (the server writes them in order);
   * a read never overtakes an earlier write of the same connection.
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
    if (isWrite(spec)) return this.track(this.waiting > 0 ? this.tail!.then(() => this.write(argv)) : this.write(argv));
    if (this.outstanding > 0) {
      this.waiting++;
      return this.track(
        this.tail!.then(() => {
          this.waiting--;
          return this.backend.read(spec, argv);
        }),
      );
    }
    return this.backend.read(spec, argv);
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

  private write(argv: readonly Uint8Array[]): Promise<Reply> {
    const op: Op = { cmds: [argv], now: this.backend.now(), seed: Math.floor(this.backend.random() * 2 ** 32) };
    return this.backend.propose(op).catch((e: unknown) => err(`ERR write failed: ${(e as Error).message}`));
  }
}
