// Keyspace notifications (Redis's notify-keyspace-events): apply reports each write's events
// (ctx.notify, src/commands/apply.ts) and this publishes them on the node's own subscribers once
// the batch is applied, in order. Every replica applies the same ops, so each node notifies its
// own clients of every write to the partitions it replicates (docs/API.md "Keyspace notifications").
import type { EventClass, KeyEventSink, KeyEventsHook } from "../commands/types.ts";
import { byteKey, concatBytes, utf8 } from "../commands/util.ts";
import type { PubSubRegistry } from "./registry.ts";
import type { ChangedKey, TrackingTable } from "./tracking.ts";

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
  /**
   * The keys the batch changed, for client tracking's invalidations: once each, as Redis's
   * per-loop batches, with the first writer, as Redis's BCAST table keeps it.
   */
  private changed = new Map<string, ChangedKey>();
  /** The client of this node whose op is being applied (see writtenBy). */
  private writer: number | undefined;
  private readonly collect: KeyEventSink = (db, cls, event, key) => {
    if (this.tracking?.active()) {
      const k = byteKey(key);
      if (!this.changed.has(k)) this.changed.set(k, { key: key.slice(), writer: this.writer });
    }
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

  /** The op applied next was sent by this client of the node (undefined: by none). */
  writtenBy(client: number | undefined): void {
    this.writer = client;
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
