// The web console at /ui: one self-contained page (src/http/console/console.html, compiled into
// the binary, so it works offline) that polls this node's own HTTP API, plus the one endpoint it
// needs beyond it: the node's settings for reads and the tail of its log.
import { type Context, Hono } from "hono";
import page from "./console/console.html" with { type: "text" };

/** Imported as text (Bun's `type: "text"`), whatever the .html module typing says. */
const PAGE = page as unknown as string;

export interface ConsoleSource {
  ready(): { ready: boolean; reason?: string };
  readonly routingStrategy: string;
  readonly readConsistency: string;
  /** The node's most recent log lines, oldest first. */
  logTail(): readonly string[];
}

export function consoleApp(src: ConsoleSource): Hono {
  const app = new Hono();
  const serve = (c: Context) => c.html(PAGE);
  app.get("/", serve);
  app.get("", serve);
  app.get("/api/node", (c) =>
    c.json({
      ...src.ready(),
      routing_strategy: src.routingStrategy,
      read_consistency: src.readConsistency,
      log: src.logTail(),
    }),
  );
  return app;
}
