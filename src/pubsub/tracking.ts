// Client-side caching (Redis's CLIENT TRACKING): which connection read which key, and the
// invalidation messages once a write changes it. Writes reach this through the keyspace-event hook
// (src/pubsub/keyspace-events.ts) after each applied batch, so a write through any node of the
// cluster invalidates the keys read through this one, as long as this node replicates the key's
// partition (docs/API.md "Client tracking").
import { array, bulk, int, NULL_BULK, type Reply } from "../resp/reply.ts";
import type { TrackingApi, TrackingOptions } from "../commands/types.ts";
import { byteKey, bytesEqual, str } from "../commands/util.ts";
import type { Receiver } from "./registry.ts";

const INVALIDATE = bulk("invalidate");
const REDIR_BROKEN = bulk("tracking-redir-broken");
const TRACKING_CHANNEL = bulk("__redis__:invalidate");
const MESSAGE = bulk("message");

interface Tracker {
  readonly receiver: Receiver;
  readonly protocol: () => number;
  /** Subscribed to anything: a RESP2 redirect target gets invalidations as __redis__:invalidate messages. */
  readonly subscribed: () => boolean;
  /** Undefined while tracking is off. */
  opts: (TrackingOptions & { prefixes: Uint8Array[] }) | undefined;
  /** CLIENT CACHING for the next command. */
  caching: boolean;
  brokenRedirect: boolean;
}

/** A key an applied write changed, and the client of this node whose op changed it (NOLOOP skips that client). */
export interface ChangedKey {
  readonly key: Uint8Array;
  /** Undefined: an op no client of this node sent. */
  readonly writer: number | undefined;
}

const startsWith = (key: Uint8Array, prefix: Uint8Array) =>
  key.length >= prefix.length && bytesEqual(key.subarray(0, prefix.length), prefix);
const overlap = (a: Uint8Array, b: Uint8Array) => startsWith(a, b) || startsWith(b, a);

/** One node's tracking table: keys read by tracking connections, and the BCAST prefixes. */
/** Redis's tracking counters: connections with tracking on, keys remembered, (key, client) pairs, BCAST prefixes. */
export interface TrackingStats {
  readonly clients: number;
  readonly keys: number;
  readonly items: number;
  readonly prefixes: number;
}

export class TrackingTable {
  private readonly conns = new Map<number, Tracker>();
  private readonly keys = new Map<string, { key: Uint8Array; ids: Set<number> }>();
  private readonly prefixes = new Map<string, { prefix: Uint8Array; ids: Set<number> }>();
  /** Connections with tracking on. */
  private tracking = 0;

  /** Whether any key or prefix is tracked (otherwise writes need not report their keys). */
  active(): boolean {
    return this.keys.size > 0 || this.prefixes.size > 0;
  }

  /** Whether any connection has tracking on (it may read next what a write in flight changes). */
  enabled(): boolean {
    return this.tracking > 0;
  }

  /** INFO's tracking counters. */
  stats(): TrackingStats {
    let items = 0;
    for (const { ids } of this.keys.values()) items += ids.size;
    return { clients: this.tracking, keys: this.keys.size, items, prefixes: this.prefixes.size };
  }

  /** One connection's side; close() when it goes away. */
  client(receiver: Receiver, protocol: () => number, subscribed: () => boolean): TrackingApi & { close(): void } {
    const t: Tracker = {
      receiver,
      protocol,
      subscribed,
      opts: undefined,
      caching: false,
      brokenRedirect: false,
    };
    this.conns.set(receiver.id, t);
    return {
      enable: (o) => this.enable(t, o),
      disable: () => this.disable(t),
      caching: (yes) => {
        if (!t.opts) {
          return "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
        }
        if (yes && !t.opts.optin) return "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
        if (!yes && !t.opts.optout)
          return "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
        t.caching = true;
        return undefined;
      },
      info: () => {
        const o = t.opts;
        if (!o) return { flags: ["off"], redirect: -1, prefixes: [] };
        const flags = ["on"];
        if (o.bcast) flags.push("bcast");
        if (o.optin) flags.push("optin", ...(t.caching ? ["caching-yes"] : []));
        if (o.optout) flags.push("optout", ...(t.caching ? ["caching-no"] : []));
        if (o.noloop) flags.push("noloop");
        if (t.brokenRedirect) flags.push("broken_redirect");
        return { flags, redirect: o.redirect ?? 0, prefixes: [...o.prefixes] };
      },
      readKeys: (keys) => {
        const o = t.opts;
        if (!o || o.bcast || (o.optin && !t.caching) || (o.optout && t.caching)) return;
        for (const k of keys) {
          const key = byteKey(k);
          let entry = this.keys.get(key);
          if (!entry) this.keys.set(key, (entry = { key: k.slice(), ids: new Set() }));
          entry.ids.add(receiver.id);
        }
      },
      commandDone: () => {
        t.caching = false;
      },
      options: () => t.opts,
      flushed: () => this.invalidateAll(),
      close: () => {
        this.disable(t);
        this.conns.delete(receiver.id);
      },
    };
  }

  /**
   * Invalidates what the applied writes changed: each key read by a tracking connection, then each
   * BCAST prefix's keys; a NOLOOP connection is not told of the keys its own ops changed.
   */
  invalidate(changed: readonly ChangedKey[]): void {
    for (const { key: k, writer } of changed) {
      const key = byteKey(k);
      const ids = this.keys.get(key)?.ids;
      if (!ids) continue;
      this.keys.delete(key);
      for (const id of ids) {
        const t = this.conns.get(id);
        if (!t?.opts || t.opts.bcast || (t.opts.noloop && writer === id)) continue;
        this.send(t, array([bulk(k)]));
      }
    }
    for (const { prefix, ids } of this.prefixes.values()) {
      const matching = changed.filter((c) => startsWith(c.key, prefix));
      if (matching.length === 0) continue;
      for (const id of ids) {
        const t = this.conns.get(id)!;
        const keys = t.opts?.noloop ? matching.filter((c) => c.writer !== id) : matching;
        if (keys.length > 0) this.send(t, array(keys.map((c) => bulk(c.key))));
      }
    }
  }

  /**
   * Redis's tracking-table-max-keys: past `max` keys (0: no limit) the oldest are forgotten, their
   * readers told to drop them as if they had changed.
   */
  limit(max: number): void {
    if (max <= 0) return;
    for (const [name, { key: k, ids }] of this.keys) {
      if (this.keys.size <= max) return;
      this.keys.delete(name);
      for (const id of ids) {
        const t = this.conns.get(id);
        if (t?.opts && !t.opts.bcast) this.send(t, array([bulk(k)]));
      }
    }
  }

  /** FLUSHDB/FLUSHALL: every tracking connection drops its whole cache (a null invalidation, as Redis). */
  invalidateAll(): void {
    this.keys.clear();
    for (const t of this.conns.values()) if (t.opts) this.send(t, NULL_BULK);
  }

  private send(t: Tracker, keys: Reply): void {
    let to = t;
    const redirect = t.opts?.redirect;
    if (redirect !== undefined) {
      const r = this.conns.get(redirect);
      if (!r) {
        t.brokenRedirect = true;
        if (t.protocol() === 3) t.receiver.push({ t: "push", v: [REDIR_BROKEN, int(redirect)] });
        return;
      }
      to = r;
    }
    if (to.protocol() === 3) to.receiver.push({ t: "push", v: [INVALIDATE, keys] });
    else if (redirect !== undefined && to.subscribed()) {
      to.receiver.push({ t: "push", v: [MESSAGE, TRACKING_CHANNEL, keys] });
    }
  }

  private enable(t: Tracker, o: TrackingOptions): string | undefined {
    if (o.redirect !== undefined && !this.conns.has(o.redirect)) {
      return "ERR The client ID you want redirect to does not exist";
    }
    if (!o.bcast && o.prefixes.length > 0) return "ERR PREFIX option requires BCAST mode to be enabled";
    const old = t.opts;
    if (old && old.bcast !== o.bcast) {
      return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
    }
    if (o.bcast && (o.optin || o.optout)) return "ERR OPTIN and OPTOUT are not compatible with BCAST";
    if (o.optin && o.optout) return "ERR You can't specify both OPTIN mode and OPTOUT mode";
    if (old && ((o.optin && old.optout) || (o.optout && old.optin))) {
      return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
    }
    const mine = old?.prefixes ?? [];
    for (let i = 0; i < o.prefixes.length; i++) {
      const p = o.prefixes[i]!;
      const existing = mine.find((x) => overlap(x, p));
      if (existing) {
        return `ERR Prefix '${str(p)}' overlaps with an existing prefix '${str(existing)}'. Prefixes for a single client must not overlap.`;
      }
      const other = o.prefixes.slice(i + 1).find((x) => overlap(x, p));
      if (other) {
        return `ERR Prefix '${str(p)}' overlaps with another provided prefix '${str(other)}'. Prefixes for a single client must not overlap.`;
      }
    }
    const prefixes = [...mine];
    if (o.bcast)
      for (const p of o.prefixes.length > 0 ? o.prefixes : [new Uint8Array()]) {
        const key = byteKey(p);
        let entry = this.prefixes.get(key);
        if (!entry) this.prefixes.set(key, (entry = { prefix: p.slice(), ids: new Set() }));
        entry.ids.add(t.receiver.id);
        if (!prefixes.some((x) => bytesEqual(x, p))) prefixes.push(p.slice());
      }
    if (!old) this.tracking++;
    t.opts = { ...o, prefixes };
    t.brokenRedirect = false;
    return undefined;
  }

  private disable(t: Tracker): void {
    if (t.opts) this.tracking--;
    for (const p of t.opts?.prefixes ?? []) {
      const key = byteKey(p);
      const entry = this.prefixes.get(key);
      entry?.ids.delete(t.receiver.id);
      if (entry?.ids.size === 0) this.prefixes.delete(key);
    }
    t.opts = undefined;
    t.caching = false;
  }
}
