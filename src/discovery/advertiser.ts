// The node's mDNS responder: runs the pure Responder against a real socket and a real clock.
import { hostname } from "node:os";
import { encodeMessage } from "./core/codec.ts";
import { MDNS_PORT, hostName, instanceName, toLabel } from "./core/records.ts";
import type { ServicePorts } from "./core/records.ts";
import { Responder } from "./core/responder.ts";
import type { ResponderEvent, ResponderStats, Step } from "./core/responder.ts";
import { ipv6AddressesOf, localAddresses, selectInterfaces } from "./interfaces.ts";
import { openMdnsSocket } from "./mdns-socket.ts";
import type { MdnsSocket } from "./mdns-socket.ts";
import type { DiscoveryLog } from "./log.ts";

export interface AdvertiserOptions {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly version: string;
  /** Advertised in TXT as `zone` when not empty. */
  readonly zone?: string;
  readonly ports: ServicePorts;
  /** Interface name or IPv4 address; default: every up, multicast-capable, non-loopback IPv4 interface. */
  readonly interface?: string;
  /** Host label for the SRV target `<host>.local`; default: this machine's host name. */
  readonly host?: string;
  readonly log?: DiscoveryLog;
}

export interface Advertiser {
  /** Current instance name (changes if a conflict forced a rename). */
  instance(): string;
  /** Current host name, `<label>.local`. */
  host(): string;
  /** Resolves at the first announcement, after probing found the names free. */
  readonly announced: Promise<void>;
  stats(): Readonly<ResponderStats>;
  /** Sends goodbyes (TTL 0) and closes the socket. */
  stop(): Promise<void>;
}

/** Opens the mDNS socket and starts probing; resolves once the socket is bound (see `announced`). */
export async function startAdvertiser(opts: AdvertiserOptions): Promise<Advertiser> {
  const interfaces = selectInterfaces(opts.interface);
  const local = localAddresses();
  const responder = new Responder(
    {
      instance: toLabel(opts.nodeId),
      host: toLabel(opts.host ?? hostname().split(".")[0]),
      nodeId: opts.nodeId,
      clusterId: opts.clusterId,
      version: opts.version,
      ...(opts.zone ? { zone: opts.zone } : {}),
      ports: opts.ports,
      ipv4: interfaces.map((i) => i.address),
      ipv6: ipv6AddressesOf(interfaces),
    },
    { random: Math.random, isLocalAddress: (a) => local.has(a) },
  );
  const log = opts.log ?? (() => {});
  let resolveAnnounced: () => void = () => {};
  const announced = new Promise<void>((r) => (resolveAnnounced = r));
  let timer: ReturnType<typeof setTimeout> | null = null;
  let socket: MdnsSocket | null = null;

  const perform = (step: Step): void => {
    for (const e of step.events) report(e);
    for (const out of step.send) {
      let bytes: Uint8Array;
      try {
        bytes = encodeMessage(out.message); // a legacy reply echoes the querier's question: never trust it to encode
      } catch (err) {
        log("warn", "mDNS reply could not be encoded", { to: out.to, error: String(err) });
        continue;
      }
      const sent =
        out.to.kind === "multicast"
          ? socket?.sendMulticast(bytes)
          : socket?.sendUnicast(bytes, out.to.address, out.to.port);
      sent?.catch((err) => log("warn", "mDNS send failed", { to: out.to, error: String(err) }));
    }
    schedule();
  };
  const report = (e: ResponderEvent): void => {
    if (e.type === "announced") {
      if (e.count === 1) log("info", "mDNS service announced", { instance: e.instance, host: e.host });
      resolveAnnounced();
    } else if (e.type === "renamed")
      log("warn", `mDNS name conflict: renamed ${e.kind}`, { from: e.from, to: e.to, reason: e.reason });
    else if (e.type === "malformed") log("debug", "malformed mDNS packet dropped", { from: e.from, error: e.error });
    else if (e.type === "conflict-after-announce")
      log("info", "mDNS record conflict after announcing; probing again", { name: e.name });
    else log("debug", `mDNS ${e.type}`, { ...e });
  };
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    const at = responder.nextWakeAt();
    if (at !== null) timer = setTimeout(() => perform(responder.tick(Date.now())), Math.max(0, at - Date.now()));
  };

  socket = await openMdnsSocket({
    interfaces,
    port: MDNS_PORT,
    onMessage: (bytes, from) => perform(responder.receive(bytes, from, Date.now())),
    onError: (err) => log("warn", "mDNS socket error", { error: err.message }),
  });
  log("info", "mDNS advertiser started", {
    interfaces: interfaces.map((i) => `${i.name}/${i.address}`),
    instance: responder.instance,
  });
  perform(responder.start(Date.now()));

  let stopping: Promise<void> | null = null;
  return {
    instance: () => instanceName(responder.instance),
    host: () => hostName(responder.host),
    announced,
    stats: () => ({ ...responder.stats }),
    stop: () =>
      (stopping ??= (async () => {
        if (timer) clearTimeout(timer);
        timer = null;
        const step = responder.stop();
        for (const e of step.events) report(e);
        const s = socket;
        if (!s) return;
        for (const out of step.send) await s.sendMulticast(encodeMessage(out.message)).catch(() => undefined);
        await s.close();
      })()),
  };
}
