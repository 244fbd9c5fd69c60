// Which IPv4 interfaces mDNS runs on. Sockets need addresses, not names: node:dgram's
// addMembership(group, "eth0") returns without error and silently joins on INADDR_ANY.
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";

export interface MulticastInterface {
  readonly name: string;
  readonly address: string;
  readonly netmask: string;
}

// Linux <net/if.h> flags, read from /sys/class/net/<if>/flags.
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function linkFlags(name: string): number | null {
  try {
    return Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, "utf8").trim(), 16);
  } catch {
    return null; // not Linux, or no sysfs: fall back to what os.networkInterfaces says
  }
}

function ipv4Of(name: string, entries: ReturnType<typeof networkInterfaces>[string]): MulticastInterface[] {
  return (entries ?? [])
    .filter((e) => e.family === "IPv4")
    .map((e) => ({ name, address: e.address, netmask: e.netmask }));
}

/**
 * `spec` pins one interface by name (`eth0`) or by one of its IPv4 addresses. Without it: every
 * interface that is up, multicast-capable, not loopback, and has an IPv4 address.
 */
export function selectInterfaces(spec?: string): MulticastInterface[] {
  const all = networkInterfaces();
  if (spec !== undefined && spec !== "") {
    if (IPV4.test(spec)) {
      for (const [name, entries] of Object.entries(all)) {
        const hit = ipv4Of(name, entries).find((i) => i.address === spec);
        if (hit) return [hit];
      }
      throw new Error(`discovery interface ${spec}: no local interface has this IPv4 address`);
    }
    const found = ipv4Of(spec, all[spec]);
    if (found.length === 0) {
      const known = Object.keys(all).join(", ");
      throw new Error(
        `discovery interface ${spec}: no such interface that is up and running with an IPv4 address (have: ${known})`,
      );
    }
    return [found[0]];
  }
  const chosen: MulticastInterface[] = [];
  for (const [name, entries] of Object.entries(all)) {
    const flags = linkFlags(name);
    if (flags !== null && ((flags & IFF_UP) === 0 || (flags & IFF_MULTICAST) === 0 || (flags & IFF_LOOPBACK) !== 0))
      continue;
    const v4 = (entries ?? []).filter((e) => e.family === "IPv4" && !e.internal);
    if (v4.length) chosen.push({ name, address: v4[0].address, netmask: v4[0].netmask });
  }
  if (chosen.length === 0) throw new Error("discovery: no up, multicast-capable, non-loopback IPv4 interface found");
  return chosen;
}

/** Every address of this machine: records claiming them for our host name come from a local stack (avahi), not a rival. */
export function localAddresses(): Set<string> {
  const set = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) for (const e of entries ?? []) set.add(e.address);
  return set;
}

/** Global IPv6 addresses of the chosen interfaces, for AAAA records (link-local ones need a scope and are left out). */
export function ipv6AddressesOf(ifaces: readonly MulticastInterface[]): string[] {
  const all = networkInterfaces();
  const names = new Set(ifaces.map((i) => i.name));
  const out: string[] = [];
  for (const name of names) {
    for (const e of all[name] ?? [])
      if (e.family === "IPv6" && !e.internal && !e.address.toLowerCase().startsWith("fe80")) out.push(e.address);
  }
  return out;
}
