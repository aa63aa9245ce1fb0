/**
 * Addresses and routes on a container-side link, and the CHECK of them: shared by NIC types
 * whose container side is a kernel link (macvtap, macvlan).
 */
import { ipFamily } from '../cni/addr.js';
import type { CniIpConfig } from '../cni/result.js';
import { parseCidr, parseIp, type Rtnl } from '../netlink/index.js';
import type { NicExpectation, NicPlan } from './types.js';
import { routeSpec } from './veth.js';

/** IPv6 addresses skip DAD: the address is the attachment's by allocation, and waiting for DAD would delay the pod. */
export async function configureAddresses(rtnl: Rtnl, index: number, plan: Pick<NicPlan, 'ips' | 'routes'>): Promise<void> {
  for (const ip of plan.ips) {
    await rtnl.addAddress(index, ip.address, familyOf(ip.address) === 6 ? { nodad: true } : {});
  }
  for (const route of plan.routes) await rtnl.addRoute(routeSpec(route, plan.ips, index));
}

/** What differs from the expected addresses and routes on link `index` named `name`. */
export async function addressProblems(rtnl: Rtnl, index: number, name: string, expected: Pick<NicExpectation, 'ips' | 'routes'>): Promise<string[]> {
  const problems: string[] = [];
  const have = new Set((await rtnl.listAddresses({ index })).map((a) => `${a.address}/${a.prefixLength}`));
  for (const ip of expected.ips) {
    if (!have.has(canonical(ip.address))) problems.push(`address ${ip.address} is missing on "${name}"`);
  }
  const routes = await rtnl.listRoutes({ index });
  for (const route of expected.routes) {
    const dst = canonical(route.dst);
    const gw = route.gw ?? familyGateway(route.dst, expected.ips);
    const wantGw = gw === undefined ? undefined : parseIp(gw).address;
    if (!routes.some((r) => r.dst === dst && (wantGw === undefined || r.gateway === wantGw))) {
      problems.push(`route ${route.dst}${gw ? ` via ${gw}` : ''} is missing on "${name}"`);
    }
  }
  return problems;
}

function familyOf(cidrOrAddress: string): 4 | 6 | undefined {
  return ipFamily(cidrOrAddress.split('/')[0] as string);
}

function familyGateway(cidrOrAddress: string, ips: readonly CniIpConfig[]): string | undefined {
  const family = familyOf(cidrOrAddress);
  return ips.find((ip) => ip.gateway !== undefined && ipFamily(ip.gateway) === family)?.gateway;
}

/** "address/prefix" as the kernel reports it (RFC 5952 for IPv6). */
function canonical(cidr: string): string {
  const c = parseCidr(cidr);
  return `${c.address}/${c.prefixLength}`;
}
