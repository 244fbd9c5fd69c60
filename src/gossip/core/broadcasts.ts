import type { Msg } from "./types.ts";

interface Queued {
  readonly key: string;
  readonly msg: Msg;
  readonly size: number;
  transmits: number;
  readonly order: number;
}

/**
 * memberlist's TransmitLimitedQueue: each update rides on outgoing packets until it was sent
 * `limit` times; a newer update about the same member replaces the older one.
 */
export class BroadcastQueue {
  private readonly items = new Map<string, Queued>();
  private counter = 0;

  enqueue(key: string, msg: Msg, size: number): void {
    this.items.set(key, { key, msg, size, transmits: 0, order: this.counter++ });
  }

  get length(): number {
    return this.items.size;
  }

  /** Least-sent (then newest) first, as many as fit in `budget` bytes. */
  take(budget: number, limit: number): Msg[] {
    if (this.items.size === 0 || budget <= 0) return [];
    const sorted = [...this.items.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: Msg[] = [];
    let used = 0;
    for (const item of sorted) {
      if (used + item.size > budget) continue;
      used += item.size;
      out.push(item.msg);
      item.transmits++;
      if (item.transmits >= limit) this.items.delete(item.key);
    }
    return out;
  }
}
