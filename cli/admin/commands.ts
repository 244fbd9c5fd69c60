// The admin subcommands of `flydb` (status, members, partitions, join, leave, remove, wait): each
// is one or a few requests to a running node's HTTP API (src/http/app.ts), printed as a table for
// people or as the node's JSON for scripts, ending with an exit code from EXIT.
import { type Command, Option } from "commander";
import { formatHostPort, parseHostPort } from "../../src/net/hostport.ts";
import { failure, readToken, request, Unreachable, type Answer, type Target } from "./client.ts";
import {
  EXIT,
  formatMembers,
  formatPartitions,
  formatStatus,
  parseDuration,
  waitLine,
  type PartitionsView,
  type StatusView,
} from "./format.ts";

const DEFAULT_HTTP = "127.0.0.1:8080";
const REQUEST_TIMEOUT_MS = 10_000;
/** The node's own default wait for /cluster/leave and /cluster/remove (src/http/app.ts). */
const DRAIN_TIMEOUT = "60s";
/** How long past its own wait the node may take to answer a drain before we call it unreachable. */
const DRAIN_SLACK_MS = 10_000;
const POLL_MS = 200;

export interface CommonOpts {
  http: string;
  tokenFile?: string;
  json?: boolean;
}

/** A usage mistake the parser cannot see (a bad address or duration, an unreadable token file): exit 2. */
export class UsageError extends Error {}

export function target(o: CommonOpts): Target {
  let addr: string;
  try {
    const hp = parseHostPort(o.http.replace(/^https?:\/\//, "").replace(/\/$/, ""), "127.0.0.1");
    addr = formatHostPort(hp.host, hp.port);
  } catch (e) {
    throw new UsageError(`--http: ${(e as Error).message}`);
  }
  try {
    return { http: addr, token: readToken(o.tokenFile) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a duration (e.g. 30s, 500ms, 2m)`);
  return ms;
}

const out = (s: string) => process.stdout.write(s);
const json = (v: unknown) => out(`${JSON.stringify(v, null, 2)}\n`);

/** Prints a failed answer (and its JSON when asked) and says whether the answer was a success. */
function succeeded(a: Answer, method: string, path: string, t: Target, o: CommonOpts): boolean {
  if (a.status >= 200 && a.status < 300) return true;
  if (o.json) json(a.body);
  process.stderr.write(`flydb: ${failure(method, path, t, a)}\n`);
  return false;
}

/** Runs an action, turning what it throws into a message on stderr and an exit code. */
export function run<A extends unknown[]>(action: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await action(...args);
    } catch (e) {
      process.stderr.write(`flydb: ${(e as Error).message}\n`);
      process.exitCode =
        e instanceof Unreachable ? EXIT.unreachable : e instanceof UsageError ? EXIT.usage : EXIT.failed;
    }
  };
}

export function adminCommand(program: Command, name: string, description: string): Command {
  return (
    program
      .command(name)
      .description(description)
      .option("--http <addr>", "host:port of the node's HTTP API", DEFAULT_HTTP)
      .option("--token-file <path>", "file holding the node's http_auth_token (default: $FLYDB_HTTP_AUTH_TOKEN)")
      .option("--json", "print the node's JSON answer instead of a table")
      // Parser errors (unknown option, missing argument) are usage errors for scripts: exit 2.
      .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : EXIT.usage))
  );
}

async function get<T>(t: Target, path: string, o: CommonOpts): Promise<T | undefined> {
  const a = await request(t, "GET", path, { timeoutMs: REQUEST_TIMEOUT_MS });
  return succeeded(a, "GET", path, t, o) ? (a.body as T) : undefined;
}

async function waitFor(what: "ready" | "healthy", o: CommonOpts & { timeout: string }): Promise<number> {
  const t = target(o);
  const limitMs = duration("--timeout", o.timeout);
  const path = what === "ready" ? "/ready" : "/health";
  const tty = process.stdout.isTTY === true && !o.json;
  const started = performance.now();
  let shown: string | undefined;
  for (let tick = 0; ; tick++) {
    const elapsed = () => Math.round(performance.now() - started);
    let state: string;
    let reachable = true;
    try {
      const a = await request(t, "GET", path, { timeoutMs: Math.max(100, Math.min(2000, limitMs - elapsed())) });
      const body = (typeof a.body === "object" && a.body !== null ? a.body : {}) as {
        reason?: string;
        status?: string;
      };
      if (a.status === 200) {
        if (tty) out("\r\x1b[2K");
        if (o.json) json({ http: t.http, [what]: true, waited_ms: elapsed() });
        else out(`${t.http} is ${what} after ${(elapsed() / 1000).toFixed(1)}s\n`);
        return EXIT.ok;
      }
      state = body.reason ?? body.status ?? `HTTP ${a.status}`;
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      reachable = false;
      state = "unreachable";
    }
    if (elapsed() >= limitMs) {
      if (tty) out("\r\x1b[2K");
      if (o.json) json({ http: t.http, [what]: false, reachable, state, waited_ms: elapsed() });
      process.stderr.write(`flydb: ${t.http} not ${what} after ${o.timeout} (${state})\n`);
      return reachable ? EXIT.failed : EXIT.unreachable;
    }
    if (tty) out(`\r\x1b[2K${waitLine(tick, what, t.http, elapsed(), state)}`);
    else if (!o.json && state !== shown) out(`${t.http}: not ${what} yet (${state})\n`);
    shown = state;
    await Bun.sleep(Math.min(POLL_MS, limitMs - elapsed()));
  }
}

export const ADMIN_HELP = `
Admin commands talk to a running node's HTTP API (--http host:port, default ${DEFAULT_HTTP}; the token
comes from --token-file or FLYDB_HTTP_AUTH_TOKEN); --json prints the node's JSON instead of a table.
  flydb status | members | partitions      flydb join ADDR... | leave | remove NODE [--timeout 60s]
  flydb wait --ready|--healthy [--timeout 30s]
  flydb import-rdb FILE | export-rdb FILE --resp ADDR [--password-file PATH] [--pipeline N]  (Redis RDB)
Exit codes: 0 ok, 1 the node answered with a failure (or was not ready/healthy in time), 2 usage error,
3 the node is unreachable.`;

export function addAdminCommands(program: Command): void {
  adminCommand(program, "status", "the node's and its cluster's state").action(
    run(async (o: CommonOpts) => {
      const s = await get<StatusView>(target(o), "/cluster/status", o);
      if (!s) return EXIT.failed;
      out(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
      return EXIT.ok;
    }),
  );

  adminCommand(program, "members", "the cluster's members as this node sees them").action(
    run(async (o: CommonOpts) => {
      const t = target(o);
      const s = await get<StatusView>(t, "/cluster/status", o);
      if (!s) return EXIT.failed;
      if (!s.members) {
        process.stderr.write(`flydb: ${t.http} (${s.node.id}) runs ${s.node.role}: it has no cluster members\n`);
        return EXIT.failed;
      }
      out(o.json ? `${JSON.stringify(s.members, null, 2)}\n` : formatMembers(s));
      return EXIT.ok;
    }),
  );

  adminCommand(program, "partitions", "every partition: slots, leader, voters, health").action(
    run(async (o: CommonOpts) => {
      const p = await get<PartitionsView>(target(o), "/cluster/partitions", o);
      if (!p) return EXIT.failed;
      out(o.json ? `${JSON.stringify(p, null, 2)}\n` : formatPartitions(p));
      return EXIT.ok;
    }),
  );

  adminCommand(program, "join", "make the node join the cluster of these members")
    .argument("<addr...>", "gossip addresses (host:port) of cluster members")
    .action(
      run(async (addrs: string[], o: CommonOpts) => {
        const t = target(o);
        for (const a of addrs) {
          try {
            parseHostPort(a);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
        }
        const a = await request(t, "POST", "/cluster/join", { body: { peers: addrs }, timeoutMs: REQUEST_TIMEOUT_MS });
        if (!succeeded(a, "POST", "/cluster/join", t, o)) return EXIT.failed;
        out(o.json ? `${JSON.stringify(a.body, null, 2)}\n` : `${t.http} is joining via ${addrs.join(", ")}\n`);
        return EXIT.ok;
      }),
    );

  /** leave and remove: a drain the node waits for, then reports. */
  const drain = async (o: CommonOpts & { timeout: string }, path: string, done: (r: DrainAnswer) => string) => {
    const t = target(o);
    const ms = duration("--timeout", o.timeout);
    const full = `${path}${path.includes("?") ? "&" : "?"}timeout_ms=${ms}`;
    const a = await request(t, "POST", full, { timeoutMs: ms + DRAIN_SLACK_MS });
    if (!succeeded(a, "POST", path, t, o)) return EXIT.failed;
    out(o.json ? `${JSON.stringify(a.body, null, 2)}\n` : done(a.body as DrainAnswer));
    return EXIT.ok;
  };

  adminCommand(program, "leave", "make the node leave its cluster (it hands over its replicas, then stops)")
    .addOption(new Option("--timeout <duration>", "how long the node may take to hand over").default(DRAIN_TIMEOUT))
    .action(
      run((o: CommonOpts & { timeout: string }) =>
        drain(o, "/cluster/leave", (r) => `${r.node} left the cluster (drained in ${r.waited_ms} ms)\n`),
      ),
    );

  adminCommand(program, "remove", "remove a member (a dead one, say) from the cluster")
    .argument("<node>", "the member's node id")
    .addOption(new Option("--timeout <duration>", "how long to wait for its replicas to move").default(DRAIN_TIMEOUT))
    .action(
      run((node: string, o: CommonOpts & { timeout: string }) =>
        drain(
          o,
          `/cluster/remove?node=${encodeURIComponent(node)}`,
          (r) => `removed ${r.node} (in ${r.waited_ms} ms)\n`,
        ),
      ),
    );

  adminCommand(program, "wait", "wait until the node is ready (serves its partitions) or healthy (alive)")
    .option("--ready", "wait for GET /ready")
    .option("--healthy", "wait for GET /health")
    .addOption(new Option("--timeout <duration>", "give up after this long").default("30s"))
    .action(
      run(async (o: CommonOpts & { timeout: string; ready?: boolean; healthy?: boolean }) => {
        if (o.ready === o.healthy) throw new UsageError("wait: give exactly one of --ready and --healthy");
        return waitFor(o.ready ? "ready" : "healthy", o);
      }),
    );
}

/** What /cluster/leave and /cluster/remove answer on success (src/cluster/leave.ts). */
interface DrainAnswer {
  readonly node: string;
  readonly waited_ms: number;
}
