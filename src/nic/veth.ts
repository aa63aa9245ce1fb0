/**
 * veth NIC: the host end lives where ovs-vswitchd runs (`ovsNetns`, default the plugin's own
 * netns) and becomes an OVS system port; the container end is born inside CNI_NETNS under its
 * final name (no rename, no netns move) with the MAC, MTU, addresses and routes.
 *
 * On the userspace (netdev) datapath without `userspace-tso-enable`, TX checksum offload is
 * switched off on the container end: otherwise TCP/UDP leave with bad checksums and are dropped.
 */
import { hostLinkName } from '../cni/ownership.js';
import { ipFamily } from '../cni/addr.js';
import type { CniInterface, CniIpConfig, CniRoute } from '../cni/result.js';
import { Rtnl, isNetlinkError, parseCidr as canonicalCidr, parseIp, type LinkInfo, type RouteSpec } from '../netlink/index.js';
import { conflict } from './errors.js';
import { NetnsHandles, type AttachmentHandles } from './netns-handles.js';
import type { PortRecord } from './ovs-port.js';
import type { NicAdded, NicDelEnv, NicDriver, NicEnv, NicExpectation, NicGcEnv, NicPlan, NicPrepareEnv } from './types.js';
import type { UndoStack } from './undo.js';

const LOOPBACK_INDEX = 1;

export class VethDriver implements NicDriver {
  readonly type = 'veth' as const;
  private readonly handles = new NetnsHandles();

  /** Opens both namespaces and checks that neither name is taken; changes nothing. */
  async prepare(env: NicPrepareEnv): Promise<void> {
    const { host, pod } = this.handles.open(env);
    const hostName = hostLinkName(env.identity.containerId, env.ifname);
    const [inPod, onHost] = await Promise.all([pod.getLink(env.ifname), host.getLink(hostName)]);
    if (inPod) {
      throw conflict(`interface "${env.ifname}" already exists in netns ${env.netns}`, `CNI_IFNAME must name a new interface (existing: ${describe(inPod)})`);
    }
    if (onHost) {
      throw conflict(
        `host link "${hostName}" for container ${env.identity.containerId} ifname ${env.ifname} already exists`,
        `left by an earlier ADD of this attachment (${describe(onHost)}); DEL the attachment first`,
      );
    }
  }

  async add(env: NicEnv, plan: NicPlan, undo: UndoStack): Promise<NicAdded> {
    if (!this.handles.current) await this.prepare(env);
    const { host, pod } = this.handles.current as AttachmentHandles;
    const { conf } = env;
    const hostName = hostLinkName(env.identity.containerId, env.ifname);

    const mtu = plan.mtu;
    const hostEnd = await host.createVeth({
      name: hostName,
      up: true,
      ...(mtu !== undefined ? { mtu } : {}),
      peer: { name: env.ifname, netnsFd: (this.handles.current as AttachmentHandles).podNs.fd, mac: plan.mac, ...(mtu !== undefined ? { mtu } : {}) },
    });
    // deleting one end removes the pair, wherever the other end is
    undo.push(`delete veth ${hostName}`, () => host.deleteLink(hostName));
    const podIndex = hostEnd.linkIndex;
    if (podIndex === undefined) throw new Error(`veth "${hostName}" was created without a peer index`);
    env.fault('link');

    // one socket, requests pipelined: the kernel handles them in order
    await Promise.all([
      pod.setUp(LOOPBACK_INDEX),
      pod.setUp(podIndex),
      ...plan.ips.map((ip) => pod.addAddress(podIndex, ip.address, ipFamily(ip.address.split('/')[0] as string) === 6 ? { nodad: true } : {})),
    ]);
    await Promise.all(plan.routes.map((route) => pod.addRoute(routeSpec(route, plan.ips, podIndex))));
    env.fault('container-config');

    const plugged = await env.ovs.plug({
      bridge: conf.bridge,
      name: hostName,
      externalIds: plan.externalIds(),
      ...(mtu !== undefined ? { mtuRequest: mtu } : {}),
    });
    undo.push(`remove OVS port ${hostName}`, () => env.ovs.unplug([plugged.portUuid]));
    if (plugged.clearedIfaceIdFrom.length > 0) {
      env.log.info({ interfaces: plugged.clearedIfaceIdFrom }, 'took iface-id away from stale OVS interfaces');
    }
    if (plugged.datapathType === 'netdev' && !plugged.userspaceTso) pod.setTxChecksum(env.ifname, false);
    env.fault('ovs-port');

    const hostIface: CniInterface = { name: hostName, mac: hostEnd.mac };
    const podIface: CniInterface = { name: env.ifname, mac: plan.mac, mtu: hostEnd.mtu, sandbox: env.netns };
    return { interfaces: [hostIface, podIface], ipInterface: 1, portName: hostName };
  }

  async del(env: NicDelEnv, recorded: readonly PortRecord[]): Promise<void> {
    const names = new Set(recorded.filter((r) => r.type === '').map((r) => r.name));
    names.add(hostLinkName(env.identity.containerId, env.ifname));
    const host = openOrUndefined(env.conf.ovsNetns);
    if (host) {
      this.handles.keep(host);
      for (const name of names) await deleteVeth(host, name);
    }
    // The container end needs no deletion: a veth end cannot outlive its peer. CNI_IFNAME in the
    // netns is deliberately left alone — after an ADD that failed because CNI_IFNAME existed, it
    // belongs to someone else.
  }

  async check(env: NicEnv, expected: NicExpectation, recorded: PortRecord): Promise<string[]> {
    const problems: string[] = [];
    const { host, pod } = this.handles.open(env);
    const link = await pod.getLink(env.ifname);
    if (!link) return [`interface "${env.ifname}" is missing in netns ${env.netns}`];
    if (link.kind !== 'veth') problems.push(`interface "${env.ifname}" is a ${link.kind ?? 'non-veth'} device, not a veth`);
    if (expected.iface?.mac && link.mac !== expected.iface.mac.toLowerCase()) {
      problems.push(`interface "${env.ifname}" has MAC ${link.mac}, expected ${expected.iface.mac}`);
    }
    const mtu = expected.mtu ?? expected.iface?.mtu;
    if (mtu !== undefined && link.mtu !== mtu) problems.push(`interface "${env.ifname}" has MTU ${link.mtu}, expected ${mtu}`);
    if (!link.up) problems.push(`interface "${env.ifname}" is down`);

    const addresses = new Set((await pod.listAddresses({ index: link.index })).map((a) => `${a.address}/${a.prefixLength}`));
    for (const ip of expected.ips) {
      const want = canonical(ip.address);
      if (!addresses.has(want)) problems.push(`address ${ip.address} is missing on "${env.ifname}"`);
    }
    const routes = await pod.listRoutes({ index: link.index });
    for (const route of expected.routes) {
      const dst = canonical(route.dst);
      const gw = route.gw ?? familyGateway(route.dst, expected.ips);
      const wantGw = gw === undefined ? undefined : parseIp(gw).address;
      const found = routes.some((r) => r.dst === dst && (wantGw === undefined || r.gateway === wantGw));
      if (!found) problems.push(`route ${route.dst}${gw ? ` via ${gw}` : ''} is missing on "${env.ifname}"`);
    }

    const hostEnd = await host.getLink(recorded.name);
    if (!hostEnd) problems.push(`host link "${recorded.name}" is missing${env.conf.ovsNetns ? ` in ${env.conf.ovsNetns}` : ''}`);
    else {
      if (hostEnd.kind !== 'veth') problems.push(`host link "${recorded.name}" is not a veth`);
      if (!hostEnd.up) problems.push(`host link "${recorded.name}" is down`);
    }
    return problems;
  }

  async gc(env: NicGcEnv, stale: PortRecord): Promise<void> {
    if (stale.type !== '') return;
    const host = openOrUndefined(env.conf.ovsNetns);
    if (!host) return;
    this.handles.keep(host);
    await deleteVeth(host, stale.name);
  }

  close(): void {
    this.handles.close();
  }
}

function describe(link: LinkInfo): string {
  return `${link.kind ?? 'device'} ${link.name}, index ${link.index}, mac ${link.mac}`;
}

/** Rtnl in the netns at `path` (own netns when undefined); undefined when the netns is gone. */
function openOrUndefined(path: string | undefined): Rtnl | undefined {
  try {
    return Rtnl.open(path);
  } catch (err) {
    if (isNetlinkError(err, 'ENOENT', 'EINVAL', 'ENOTDIR')) return undefined;
    throw err;
  }
}

/** Deletes `name` if it is a veth; a missing link (or one vanishing meanwhile) is fine. */
async function deleteVeth(rtnl: Rtnl, name: string): Promise<void> {
  const link = await rtnl.getLink(name);
  if (!link || link.kind !== 'veth') return;
  try {
    await rtnl.deleteLink(link.index);
  } catch (err) {
    if (!isNetlinkError(err, 'ENODEV', 'ENOENT')) throw err;
  }
}

function familyGateway(cidrOrAddress: string, ips: readonly CniIpConfig[]): string | undefined {
  const family = ipFamily(cidrOrAddress.split('/')[0] as string);
  return ips.find((ip) => ip.gateway !== undefined && ipFamily(ip.gateway) === family)?.gateway;
}

/** Canonical "address/prefix" (RFC 5952 for IPv6), as the kernel reports it. */
function canonical(cidr: string): string {
  const c = canonicalCidr(cidr);
  return `${c.address}/${c.prefixLength}`;
}

/** A result route as a netlink route on the container interface; no `gw`: its family's gateway, else on-link. */
export function routeSpec(route: CniRoute, ips: readonly CniIpConfig[], index: number): RouteSpec {
  const gateway = route.gw ?? familyGateway(route.dst, ips);
  const spec: RouteSpec = { dst: route.dst, index };
  if (gateway !== undefined) spec.gateway = gateway;
  if (route.priority !== undefined) spec.metric = route.priority;
  if (route.table !== undefined) spec.table = route.table;
  return spec;
}
