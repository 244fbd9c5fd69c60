// One-shot browse for FlyDB nodes. Queries go out as "legacy" one-shot queries from an ephemeral
// port (RFC 6762 §5.1): responders answer those by unicast at once, without the one-second
// multicast rate limit, and unicast to an ephemeral port cannot be taken by another process the
// way unicast to 5353 can. A second socket on 5353 hears announcements and goodbyes.
import { encodeMessage } from "./core/codec.ts";
import { ServiceCache, browseQuery } from "./core/browser.ts";
import type { DiscoveredNode } from "./core/browser.ts";
import { MDNS_PORT } from "./core/records.ts";
import { selectInterfaces } from "./interfaces.ts";
import { openMdnsSocket } from "./mdns-socket.ts";
import type { MdnsSocket } from "./mdns-socket.ts";
import type { DiscoveryLog } from "./log.ts";

export type { DiscoveredNode };

export interface BrowseOptions {
  readonly timeoutMs: number;
  /** Keep only nodes whose TXT cluster_id equals this. */
  readonly clusterId?: string;
  /** Interface name or IPv4 address; default: every up, multicast-capable, non-loopback IPv4 interface. */
  readonly interface?: string;
  readonly log?: DiscoveryLog;
  /** Return early once this holds for the nodes found so far (e.g. `bootstrap_expect` nodes seen). */
  readonly stopWhen?: (nodes: DiscoveredNode[]) => boolean;
}

/** First query at once, then after 250 ms, doubling (RFC 6762 §5.2 asks for at least doubling intervals). */
const FIRST_RETRY_MS = 250;
/** Follow-up questions for half-resolved instances are asked at most this often. */
const RESOLVE_MIN_INTERVAL_MS = 100;

/**
 * Browses for `timeoutMs` (or until `stopWhen` holds) and returns every FlyDB node resolved by
 * then, de-duplicated, goodbyes honoured.
 */
export async function browse(opts: BrowseOptions): Promise<DiscoveredNode[]> {
  if (!(opts.timeoutMs > 0)) throw new Error(`browse timeout must be positive, got ${opts.timeoutMs}`);
  const interfaces = selectInterfaces(opts.interface);
  const log = opts.log ?? (() => {});
  const cache = new ServiceCache();
  const started = Date.now();
  let lastResolve = 0;
  let queryId = 1 + Math.floor(Math.random() * 0xfffe);
  let satisfied = false;
  let wake: () => void = () => {};

  const onMessage = (bytes: Uint8Array, from: { address: string }): void => {
    cache.ingest(bytes, from.address, Date.now());
    if (opts.stopWhen && !satisfied && opts.stopWhen(cache.nodes(Date.now(), opts.clusterId))) {
      satisfied = true;
      wake();
    }
    const missing = cache.missingQuestions(Date.now());
    if (missing.length && Date.now() - lastResolve >= RESOLVE_MIN_INTERVAL_MS) {
      lastResolve = Date.now();
      void send(encodeMessage({ id: nextId(), isResponse: false, questions: missing }));
    }
  };
  const nextId = (): number => (queryId = (queryId % 0xffff) + 1);
  const querier = await openMdnsSocket({
    interfaces,
    port: 0,
    onMessage,
    onError: (e) => log("warn", "mDNS querier error", { error: e.message }),
  });
  let listener: MdnsSocket | null = null;
  try {
    listener = await openMdnsSocket({
      interfaces,
      port: MDNS_PORT,
      onMessage,
      onError: (e) => log("warn", "mDNS listener error", { error: e.message }),
    });
  } catch (e) {
    // Without 5353 the browse still works from the unicast answers; it only misses announcements.
    log("warn", "mDNS listener unavailable; browsing with one-shot queries only", { error: String(e) });
  }
  const send = (bytes: Uint8Array): Promise<void> =>
    querier.sendMulticast(bytes).catch((e) => log("warn", "mDNS query failed", { error: String(e) }));

  try {
    let interval = FIRST_RETRY_MS;
    let nextQuery = started;
    for (;;) {
      const now = Date.now();
      if (satisfied || now >= started + opts.timeoutMs) break;
      if (now >= nextQuery) {
        await send(encodeMessage(browseQuery(cache.knownAnswers(now), cache.missingQuestions(now), nextId())));
        nextQuery = now + interval;
        interval *= 2;
      }
      const ms = Math.max(1, Math.min(nextQuery, started + opts.timeoutMs) - Date.now());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const nodes = cache.nodes(Date.now(), opts.clusterId);
    if (cache.stats.malformedPackets || cache.stats.skippedRecords)
      log("debug", "mDNS browse dropped unreadable data", { ...cache.stats });
    return nodes;
  } finally {
    await querier.close();
    await listener?.close();
  }
}
