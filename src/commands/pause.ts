// CLIENT PAUSE: this node holds back its clients' commands until CLIENT UNPAUSE or the timeout, as
// Redis does (per node in a cluster, like Redis Cluster: a paused node's clients wait, other nodes'
// do not). WRITE mode holds what may write (writes, EXEC of a transaction with one, scripts not
// flagged no-writes, PFCOUNT and PUBLISH); ALL holds every command. While paused the node's
// active expiry proposes no deletes (src/cluster/replica-host.ts).
import { err, OK, type Reply } from "../resp/reply.ts";
import type { SessionApi } from "./types.ts";
import { E, lower, parseInt64 } from "./util.ts";

/** Read-only in FlyDB yet held by CLIENT PAUSE WRITE and refused to read-only scripts: Redis's may-replicate commands. */
export const MAY_REPLICATE = new Set(["pfcount", "publish", "spublish"]);

export type PauseMode = "write" | "all";

export class ClientPause {
  private mode: PauseMode | undefined;
  private until = 0;
  private cancel: (() => void) | undefined;
  private waiters: (() => void)[] = [];

  /** `after` schedules the end (Backend.after); `now` is the node's clock in ms. */
  constructor(
    private readonly after: (ms: number, fn: () => void) => () => void,
    private readonly now: () => number,
  ) {}

  /** As Redis 7.0: the stronger mode and the later end of two pauses win. */
  pause(mode: PauseMode, ms: number): void {
    if (this.mode !== "all") this.mode = mode;
    const until = this.now() + ms;
    if (until <= this.until) return;
    this.until = until;
    this.cancel?.();
    this.cancel = this.after(ms, () => this.unpause());
  }

  unpause(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.mode = undefined;
    this.until = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** What is paused now: undefined, "write" or "all". */
  get active(): PauseMode | undefined {
    return this.mode;
  }

  /** Clients waiting for the pause to end (INFO blocked_clients counts them). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once the pause ends. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE, with Redis's errors. */
export function clientPauseCommand(s: SessionApi, argv: readonly Uint8Array[]): Reply {
  const pause = s.clientPause;
  if (!pause) return err("ERR CLIENT PAUSE needs a node");
  if (lower(argv[1]!) === "unpause") {
    if (argv.length !== 2) return E.arity("client|unpause");
    pause.unpause();
    return OK;
  }
  if (argv.length !== 3 && argv.length !== 4) return E.arity("client|pause");
  let mode: PauseMode = "all";
  if (argv.length === 4) {
    const m = lower(argv[3]!);
    if (m !== "write" && m !== "all") return err("ERR CLIENT PAUSE mode must be WRITE or ALL");
    mode = m;
  }
  const ms = parseInt64(argv[2]!);
  if (ms === undefined) return err("ERR timeout is not an integer or out of range");
  if (ms < 0n) return err("ERR timeout is negative");
  pause.pause(mode, Number(ms > BigInt(MAX_PAUSE_MS) ? BigInt(MAX_PAUSE_MS) : ms));
  return OK;
}

/** setTimeout's limit: a longer pause is held for this long (about 24.8 days). */
const MAX_PAUSE_MS = 2 ** 31 - 1;
