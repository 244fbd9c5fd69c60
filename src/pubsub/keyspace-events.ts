// Keyspace notifications (Redis's notify-keyspace-events): apply reports each write's events
// (ctx.notify, src/commands/apply.ts) and this publishes them on the node's own subscribers once
// the batch is applied, in order. Every replica applies the same ops, so each node notifies its
// own clients of every write to the partitions it replicates (docs/API.md "Keyspace notifications").
import type { EventClass, KeyEventSink, KeyEventsHook } from "../commands/types.ts";
import { byteKey, concatBytes, utf8 } from "../commands/util.ts";
import type { PubSubRegistry } from "./registry.ts";
import type { TrackingTable } from "./tracking.ts";

/** The classes "A" stands for (Redis: every class but m, n and the K/E channel kinds). */
const ALL_CLASSES = "g$lshzxetd";

interface Flags {
  readonly keyspace: boolean;
  readonly keyevent: boolean;
  readonly classes: ReadonlySet<string>;
}

function parseFlags(v: string): Flags {
  const classes = new Set<string>();
  for (const c of v) for (const x of c === "A" ? ALL_CLASSES : c) if (x !== "K" && x !== "E") classes.add(x);
  return { keyspace: v.includes("K"), keyevent: v.includes("E"), classes };
}

export class KeyspaceEvents implements KeyEventsHook {
  private parsedFrom: string | undefined;
  private flags: Flags = parseFlags("");
  private queue: [db: number, cls: EventClass, event: string, key: Uint8Array][] = [];
  /** The keys the batch changed, for client tracking's invalidations (once each, as Redis's per-loop batches). */
  private changed = new Map<string, Uint8Array>();
  private readonly collect: KeyEventSink = (db, cls, event, key) => {
    if (this.tracking?.active()) this.changed.set(byteKey(key), key.slice());
    const f = this.current();
    if ((f.keyspace || f.keyevent) && f.classes.has(cls)) this.queue.push([db, cls, event, key.slice()]);
  };

  constructor(
    private readonly registry: PubSubRegistry,
    /** The node's notify-keyspace-events, read at each apply (CONFIG SET changes it). */
    private readonly setting: () => string,
    /** Client tracking: every changed key is reported to it, whatever the setting. */
    private readonly tracking?: TrackingTable,
  ) {}

  /** What apply reports to; undefined while notifications are off and no key is tracked, so apply collects nothing. */
  sink(): KeyEventSink | undefined {
    const f = this.current();
    return ((f.keyspace || f.keyevent) && f.classes.size > 0) || this.tracking?.active() ? this.collect : undefined;
  }

  newKeys(): boolean {
    return this.current().classes.has("n");
  }

  /** Invalidates the tracked keys the applied batch changed, then publishes what it raised: per event the keyspace channel, then the keyevent one (as Redis). */
  flush(): void {
    if (this.changed.size > 0) {
      const keys = [...this.changed.values()];
      this.changed = new Map();
      // Redis invalidates (signalModifiedKey) before it notifies.
      this.tracking?.invalidate(keys);
    }
    if (this.queue.length === 0) return;
    const events = this.queue;
    this.queue = [];
    const f = this.current();
    for (const [db, , event, key] of events) {
      if (f.keyspace) this.registry.publish(concatBytes(utf8(`__keyspace@${db}__:`), key), utf8(event));
      if (f.keyevent) this.registry.publish(utf8(`__keyevent@${db}__:${event}`), key);
    }
  }

  private current(): Flags {
    const v = this.setting();
    if (v !== this.parsedFrom) [this.parsedFrom, this.flags] = [v, parseFlags(v)];
    return this.flags;
  }
}
