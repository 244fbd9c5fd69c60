// The admin commands' HTTP client: one request to a node's API, told apart into an answer (any
// status) and no answer at all, because scripts act differently on the two (see EXIT in format.ts).
import { readFileSync } from "node:fs";

export interface Target {
  /** host:port of the node's HTTP API. */
  readonly http: string;
  readonly token?: string;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** No HTTP answer from the node: refused, unresolvable, or none within the request timeout. */
export class Unreachable extends Error {}

/** The bearer token: --token-file wins over FLYDB_HTTP_AUTH_TOKEN (the variable the node reads too). */
export function readToken(tokenFile: string | undefined, env = process.env): string | undefined {
  if (tokenFile !== undefined) {
    try {
      return readFileSync(tokenFile, "utf8").trim();
    } catch (e) {
      throw new Error(`cannot read --token-file ${tokenFile}: ${(e as Error).message}`);
    }
  }
  return env.FLYDB_HTTP_AUTH_TOKEN || undefined;
}

export async function request(
  t: Target,
  method: "GET" | "POST",
  path: string,
  o: { body?: unknown; timeoutMs: number },
): Promise<Answer> {
  const url = `http://${t.http}${path}`;
  const headers: Record<string, string> = {};
  if (t.token) headers.authorization = `Bearer ${t.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const why =
      err.name === "TimeoutError"
        ? `no answer within ${o.timeoutMs} ms`
        : err.code === "ConnectionRefused" || err.code === "ECONNREFUSED"
          ? "connection refused (is a node running there?)"
          : err.message;
    throw new Unreachable(`${method} ${url}: ${why}`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): keep the text for the message.
  }
  return { status: res.status, body };
}

/** What a failed answer says, for stderr. */
export function failure(method: string, path: string, t: Target, a: Answer): string {
  const said =
    typeof a.body === "object" && a.body !== null && "error" in a.body
      ? String((a.body as { error: unknown }).error)
      : JSON.stringify(a.body);
  const hint = a.status === 401 ? " (set FLYDB_HTTP_AUTH_TOKEN or pass --token-file)" : "";
  return `${method} ${path} on ${t.http}: HTTP ${a.status}: ${said}${hint}`;
}
