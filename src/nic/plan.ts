/**
 * Pure decisions ADD and CHECK make around a NIC: its MAC, its addresses when there is no IPAM
 * plugin, its routes, and which prevResult entries belong to it. No I/O here.
 */
import { fnv1a64Hex } from '../cni/ownership.js';
import { ipFamily, parseCidr, type IpFamily, type RequestedIp } from '../cni/addr.js';
import type { CniInterface, CniIpConfig, CniResult, CniRoute } from '../cni/result.js';

/**
 * The container MAC when the runtime asked for none: `0a:58:<IPv4 bytes>` when there is an
 * IPv4 address (as ovn-kubernetes does; stable across retries), otherwise a locally
 * administered unicast MAC hashed from (containerID, ifname).
 */
export function generateMac(ips: readonly CniIpConfig[], containerId: string, ifname: string): string {
  const v4 = ips.map((ip) => parseCidr(ip.address)).find((c) => c?.family === 4);
  let bytes: number[];
  if (v4) {
    bytes = [0x0a, 0x58, ...v4.address.split('.').map(Number)];
  } else {
    const hex = fnv1a64Hex(`${containerId}\n${ifname}`);
    bytes = [0, 1, 2, 3, 4, 5].map((i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
    bytes[0] = ((bytes[0] as number) & 0xfc) | 0x02;
  }
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Without an IPAM plugin: the requested addresses as they are (a bare address gets a host prefix). */
export function addressesWithoutIpam(requested: readonly RequestedIp[]): CniIpConfig[] {
  return requested.map((ip) => ({ address: `${ip.address}/${ip.prefix ?? (ip.family === 4 ? 32 : 128)}` }));
}

/**
 * The routes to install: the IPAM result's, or — when it gave none — a default route per family
 * through that family's gateway (as Kube-OVN does).
 */
export function routesFor(ipamRoutes: readonly CniRoute[], ips: readonly CniIpConfig[]): CniRoute[] {
  if (ipamRoutes.length > 0) return ipamRoutes.map((r) => ({ ...r }));
  const routes: CniRoute[] = [];
  const seen = new Set<IpFamily>();
  for (const ip of ips) {
    const family = parseCidr(ip.address)?.family;
    if (!family || !ip.gateway || seen.has(family)) continue;
    seen.add(family);
    routes.push({ dst: family === 4 ? '0.0.0.0/0' : '::/0', gw: ip.gateway });
  }
  return routes;
}

function addressBytes(address: string): number[] | undefined {
  const family = ipFamily(address);
  if (family === 4) return address.split('.').map(Number);
  if (family !== 6) return undefined;
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted?.[1]) {
    const v4 = dotted[1].split('.').map(Number);
    tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (tail.length) groups.splice(6, 2, ...tail);
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** Is `address` inside the subnet of `cidr` ("10.0.0.5" in "10.0.0.9/24")? */
export function inSubnet(address: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || ipFamily(address) !== c.family) return false;
  const a = addressBytes(address);
  const b = addressBytes(c.address);
  if (!a || !b) return false;
  for (let bit = 0; bit < c.prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((a[byte] as number) & mask) !== ((b[byte] as number) & mask)) return false;
  }
  return true;
}

export interface OwnPart {
  /** The container interface ADD reported (name = ifname, sandbox = netns). */
  iface: CniInterface | undefined;
  ips: CniIpConfig[];
  /** Routes ADD would have installed on it: a gateway inside one of its subnets, or no gateway with a family it has. */
  routes: CniRoute[];
}

/** The part of a (possibly chained) prevResult that this attachment created. */
export function ownPartOf(prev: CniResult, ifname: string, netns: string): OwnPart {
  const index = prev.interfaces.findIndex((i) => i.name === ifname && (i.sandbox === undefined || i.sandbox === netns));
  const iface = index >= 0 ? prev.interfaces[index] : undefined;
  const ips = index >= 0 ? prev.ips.filter((ip) => ip.interface === index) : [];
  const families = new Set(ips.map((ip) => parseCidr(ip.address)?.family));
  const routes = prev.routes.filter((r) =>
    r.gw !== undefined ? ips.some((ip) => inSubnet(r.gw as string, ip.address)) : families.has(parseCidr(r.dst)?.family),
  );
  return { iface, ips, routes };
}
