/**
 * internal-macvtap NIC (KubeVirt-style VM passthrough): an OVS `type=internal` port on the
 * bridge — on the userspace datapath ovs-vswitchd makes it a tap device in its own netns
 * (`ovsNetns`) — and a macvtap on top of it, created directly inside CNI_NETNS as CNI_IFNAME
 * with the attachment's MAC. A VM opens the macvtap's character device and gets the port's
 * frames with no Linux bridge or veth in between.
 *
 * ADD order differs from veth, because the macvtap needs its lower device to exist:
 *   1. the OVS port (fault step 'ovs-port'), then wait for ovs-vswitchd to create its device;
 *   2. the macvtap in the netns ('link');
 *   3. the netns side: link up, allmulticast when the guest owns its addresses (a guest's IPv6
 *      solicited-node groups are unknown to the host, so the macvtap would filter them), the
 *      addresses and routes otherwise, and the host-side device node ('container-config').
 *
 * The macvtap lives and dies with its lower device: removing the OVS port makes ovs-vswitchd
 * delete the internal device, and the kernel then deletes the macvtap wherever it is. DEL waits
 * for that, so a new ADD of the same attachment finds the names free.
 *
 * The tap device: the kernel names it /dev/tap<ifindex>, ifindex of the macvtap's netns, and
 * only that netns's sysfs lists its major:minor. ovnic reads them there and creates
 * `<tapDeviceDir>/<containerID[:12]>-<ifname>/tap` on the host; the ADD result carries
 * everything under the `ovnic.dev/tap` key (see TapResultExtension).
 */
import { lstat } from 'node:fs/promises';
import { hostLinkName } from '../cni/ownership.js';
import type { CniInterface } from '../cni/result.js';
import { Rtnl, isNetlinkError, type LinkInfo, type TapDevice } from '../netlink/index.js';
import { addressProblems, configureAddresses } from './container-addresses.js';
import { conflict } from './errors.js';
import { NetnsHandles, type AttachmentHandles } from './netns-handles.js';
import { tapDeviceDir } from './nic-options.js';
import type { PortRecord } from './ovs-port.js';
import { ensureTapNode, listOrphanTapNodes, removeTapNode, tapNodePath } from './tap-node.js';
import type { NicAdded, NicDelEnv, NicDriver, NicEnv, NicExpectation, NicGcEnv, NicPlan, NicPrepareEnv } from './types.js';
import type { UndoStack } from './undo.js';

const LOOPBACK_INDEX = 1;
const INTERNAL_PORT_TYPE = 'internal';
/** How long DEL/GC/rollback wait for ovs-vswitchd to delete an unplugged internal port's device. */
const DEVICE_GONE_TIMEOUT_MS = 5000;
const POLL_MS = 10;

/** Result key of the tap device description. Runtimes ignore unknown result keys. */
export const TAP_RESULT_KEY = 'ovnic.dev/tap';

/** `ovnic.dev/tap` in the ADD result. */
export interface TapResultExtension {
  /** The macvtap: CNI_IFNAME in `sandbox`. */
  ifname: string;
  sandbox: string;
  /** The kernel's name for the device as seen from `sandbox`: /dev/tap<ifindex>. */
  device: string;
  ifindex: number;
  major: number;
  minor: number;
  /** The node ovnic made on the host for this attachment (mode 0600, root). */
  node: string;
}

export class InternalMacvtapDriver implements NicDriver {
  readonly type = 'internal-macvtap' as const;
  private readonly handles = new NetnsHandles();

  /** Validates the configuration, opens both namespaces, checks that no name is taken; changes nothing. */
  async prepare(env: NicPrepareEnv): Promise<void> {
    tapDeviceDir(env.conf);
    const { host, pod } = this.handles.open(env);
    const portName = hostLinkName(env.identity.containerId, env.ifname);
    const [inPod, onHost] = await Promise.all([pod.getLink(env.ifname), host.getLink(portName)]);
    if (inPod) {
      throw conflict(`interface "${env.ifname}" already exists in netns ${env.netns}`, `CNI_IFNAME must name a new interface (existing: ${describe(inPod)})`);
    }
    if (onHost) {
      throw conflict(
        `host link "${portName}" for container ${env.identity.containerId} ifname ${env.ifname} already exists`,
        `left by an earlier ADD of this attachment (${describe(onHost)}); DEL the attachment first`,
      );
    }
  }

  async add(env: NicEnv, plan: NicPlan, undo: UndoStack): Promise<NicAdded> {
    if (!this.handles.current) await this.prepare(env);
    const { host, podNs, pod } = this.handles.current as AttachmentHandles;
    const { conf } = env;
    const portName = hostLinkName(env.identity.containerId, env.ifname);
    const nodeDir = tapDeviceDir(conf);

    const plugged = await env.ovs.plug({
      bridge: conf.bridge,
      name: portName,
      type: INTERNAL_PORT_TYPE,
      externalIds: plan.externalIds(),
      ...(plan.mtu !== undefined ? { mtuRequest: plan.mtu } : {}),
    });
    undo.push(`remove OVS port ${portName}`, async () => {
      await env.ovs.unplug([plugged.portUuid]);
      await removeInternalDevice(host, portName);
    });
    if (plugged.clearedIfaceIdFrom.length > 0) {
      env.log.info({ interfaces: plugged.clearedIfaceIdFrom }, 'took iface-id away from stale OVS interfaces');
    }
    await env.ovs.waitAttached(portName, conf.ovnWait.timeoutMs);
    const lower = await host.getLink(portName);
    if (!lower) {
      throw new Error(`ovs-vswitchd attached internal port "${portName}" but its device is not in ${conf.ovsNetns ?? 'the plugin netns'}: is ovsNetns the netns ovs-vswitchd runs in?`);
    }
    env.fault('ovs-port');

    await host.setUp(lower.index);
    await host.createMacvtap({
      name: env.ifname,
      lowerIndex: lower.index,
      mode: conf.macvtapMode,
      mac: plan.mac,
      netnsFd: podNs.fd,
      ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
    });
    undo.push(`delete macvtap ${env.ifname}`, () => deleteMacvtap(pod, env.ifname));
    env.fault('link');

    const macvtap = await pod.getLink(env.ifname);
    if (!macvtap) throw new Error(`macvtap "${env.ifname}" vanished from netns ${env.netns} right after its creation`);
    await pod.setUp(LOOPBACK_INDEX);
    if (conf.guestOwnsAddresses) await pod.setLink(macvtap.index, { up: true, allmulti: true });
    else await pod.setUp(macvtap.index);
    await configureAddresses(pod, macvtap.index, plan);

    const tap = pod.macvtapDevice(env.ifname);
    const owner = { containerId: env.identity.containerId, ifname: env.ifname, network: conf.name };
    const node = await ensureTapNode(nodeDir, owner, tap.major, tap.minor);
    undo.push(`remove tap device node ${node.path}`, () => removeTapNode(nodeDir, owner.containerId, owner.ifname));
    env.fault('container-config');

    // passthru gave the lower device the attachment's MAC: report what it has now
    const lowerNow = (await host.getLinkByIndex(lower.index)) ?? lower;
    const hostIface: CniInterface = { name: portName, mac: lowerNow.mac };
    const podIface: CniInterface = { name: env.ifname, mac: macvtap.mac, mtu: macvtap.mtu, sandbox: env.netns };
    return {
      interfaces: [hostIface, podIface],
      ipInterface: 1,
      portName,
      resultExtensions: { [TAP_RESULT_KEY]: tapExtension(env, tap, node.path) },
    };
  }

  async del(env: NicDelEnv, recorded: readonly PortRecord[]): Promise<void> {
    const nodeDir = tapDeviceDir(env.conf);
    const unplugged = recorded.filter((r) => r.type === INTERNAL_PORT_TYPE).map((r) => r.name);
    // Only devices of ports just unplugged: a device whose port still exists (OVSDB unreachable)
    // is ovs-vswitchd's, and DEL fails on the OVSDB error anyway.
    const host = unplugged.length > 0 ? this.openHost(env.conf.ovsNetns) : undefined;
    if (host) {
      for (const name of new Set(unplugged)) await removeInternalDevice(host, name);
    }
    // The macvtap went with its lower device. CNI_IFNAME is never deleted by name: after an ADD
    // that failed because it existed, it belongs to someone else.
    await removeTapNode(nodeDir, env.identity.containerId, env.ifname);
  }

  async check(env: NicEnv, expected: NicExpectation, recorded: PortRecord): Promise<string[]> {
    const problems: string[] = [];
    const { host, pod } = this.handles.open(env);
    if (recorded.type !== INTERNAL_PORT_TYPE) problems.push(`OVS port "${recorded.name}" has type "${recorded.type}", expected "${INTERNAL_PORT_TYPE}"`);
    const lower = await host.getLink(recorded.name);
    if (!lower) problems.push(`internal port device "${recorded.name}" is missing${env.conf.ovsNetns ? ` in ${env.conf.ovsNetns}` : ''}`);
    else if (!lower.up) problems.push(`internal port device "${recorded.name}" is down`);

    const link = await pod.getLink(env.ifname);
    if (!link) return [...problems, `interface "${env.ifname}" is missing in netns ${env.netns}`];
    if (link.kind !== 'macvtap') {
      return [...problems, `interface "${env.ifname}" is a ${link.kind ?? 'non-macvtap'} device, not a macvtap`];
    }
    if (link.macvlanMode !== env.conf.macvtapMode) problems.push(`macvtap "${env.ifname}" is in mode ${link.macvlanMode ?? '?'}, expected ${env.conf.macvtapMode}`);
    if (lower && link.linkIndex !== lower.index) problems.push(`macvtap "${env.ifname}" is not on internal port device "${recorded.name}"`);
    if (expected.iface?.mac && link.mac !== expected.iface.mac.toLowerCase()) {
      problems.push(`interface "${env.ifname}" has MAC ${link.mac}, expected ${expected.iface.mac}`);
    }
    const mtu = expected.mtu ?? expected.iface?.mtu;
    if (mtu !== undefined && link.mtu !== mtu) problems.push(`interface "${env.ifname}" has MTU ${link.mtu}, expected ${mtu}`);
    if (!link.up) problems.push(`interface "${env.ifname}" is down`);
    problems.push(...(await addressProblems(pod, link.index, env.ifname, expected)));

    const node = tapNodePath(tapDeviceDir(env.conf), env.identity.containerId, env.ifname);
    const tap = pod.macvtapDevice(env.ifname);
    const nodeProblem = await charDeviceProblem(node, tap);
    if (nodeProblem) problems.push(nodeProblem);
    return problems;
  }

  async gc(env: NicGcEnv, stale: PortRecord): Promise<void> {
    const owner = stale.owner;
    if (stale.type === INTERNAL_PORT_TYPE) {
      const host = this.openHost(env.conf.ovsNetns);
      if (host) await removeInternalDevice(host, stale.name);
    }
    if (owner) await removeTapNode(tapDeviceDir(env.conf), owner.containerId, owner.ifname);
  }

  /** Tap device directories of this network whose attachment is not valid (their OVS port is gone already). */
  async gcOrphans(env: NicGcEnv, isValid: (containerId: string, ifname: string) => boolean): Promise<number> {
    const nodeDir = tapDeviceDir(env.conf);
    let removed = 0;
    for (const orphan of await listOrphanTapNodes(nodeDir, env.conf.name, isValid)) {
      if (await removeTapNode(nodeDir, orphan.containerId, orphan.ifname)) removed++;
    }
    return removed;
  }

  close(): void {
    this.handles.close();
  }

  /** Rtnl in ovsNetns; undefined when that netns is gone (nothing of ours can be left there). */
  private openHost(path: string | undefined): Rtnl | undefined {
    try {
      const host = Rtnl.open(path);
      this.handles.keep(host);
      return host;
    } catch (err) {
      if (isNetlinkError(err, 'ENOENT', 'EINVAL', 'ENOTDIR')) return undefined;
      throw err;
    }
  }
}

function tapExtension(env: NicEnv, tap: TapDevice, node: string): TapResultExtension {
  return { ifname: env.ifname, sandbox: env.netns, device: tap.path, ifindex: tap.ifindex, major: tap.major, minor: tap.minor, node };
}

function describe(link: LinkInfo): string {
  return `${link.kind ?? 'device'} ${link.name}, index ${link.index}, mac ${link.mac}`;
}

/**
 * After its OVS port was removed: waits for ovs-vswitchd to delete the internal device, and
 * deletes it when it lingers (ovs-vswitchd is down: the tap is persistent and would block the
 * name). Its macvtap goes with it.
 */
async function removeInternalDevice(host: Rtnl, name: string): Promise<void> {
  if (await waitLinkGone(host, name, DEVICE_GONE_TIMEOUT_MS)) return;
  const link = await host.getLink(name);
  if (!link || (link.kind !== 'tun' && link.kind !== 'openvswitch')) return;
  try {
    await host.deleteLink(link.index);
  } catch (err) {
    if (!isNetlinkError(err, 'ENODEV', 'ENOENT')) throw err;
  }
}

/** true once no link `name` exists (polling up to `timeoutMs`). */
async function waitLinkGone(rtnl: Rtnl, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await rtnl.getLink(name))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Rollback only: deletes `name` in the pod netns if it is (still) a macvtap. */
async function deleteMacvtap(pod: Rtnl, name: string): Promise<void> {
  const link = await pod.getLink(name);
  if (!link || link.kind !== 'macvtap') return;
  try {
    await pod.deleteLink(link.index);
  } catch (err) {
    if (!isNetlinkError(err, 'ENODEV', 'ENOENT')) throw err;
  }
}

async function charDeviceProblem(path: string, tap: TapDevice): Promise<string | undefined> {
  let rdev: bigint;
  try {
    const stat = await lstat(path, { bigint: true });
    if (!stat.isCharacterDevice()) return `tap device node ${path} is not a character device`;
    rdev = stat.rdev;
  } catch {
    return `tap device node ${path} is missing`;
  }
  // glibc gnu_dev_major / gnu_dev_minor
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  if (major !== tap.major || minor !== tap.minor) return `tap device node ${path} is ${major}:${minor}, the macvtap's device is ${tap.major}:${tap.minor}`;
  return undefined;
}
