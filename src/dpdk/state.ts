/**
 * Reading OVS's view of a vhost-user attachment: whether ovs-vswitchd can create
 * dpdkvhostuserclient ports at all, whether the bridge can hold one, and what an Interface
 * row says about the port (columns `error`, `ofport`, `link_state`, `status`).
 *
 * Inputs are plain values so any OVSDB client (or ovs-vsctl output) can feed them; an empty
 * OVSDB optional column is `undefined`.
 */
import { DpdkError } from './errors.js';
import { VHOST_USER_CLIENT_TYPE } from './port.js';

/** Columns of the Open_vSwitch root row that tell whether DPDK is usable. */
export interface OvsDpdkCapabilities {
  /** `iface_types`; empty until ovs-vswitchd has started once. */
  ifaceTypes?: readonly string[];
  /** `dpdk_initialized`. */
  dpdkInitialized?: boolean;
  /** `dpdk_version`: "none" when ovs-vswitchd is not a DPDK build. */
  dpdkVersion?: string;
}

export interface BridgeObservation {
  name: string;
  /** `datapath_type`; "" means the default, "system" (kernel). */
  datapathType?: string;
}

export interface InterfaceObservation {
  name: string;
  type?: string;
  error?: string;
  /** -1 when OVS failed to open the interface; undefined until ovs-vswitchd has handled it. */
  ofport?: number;
  linkState?: string;
  status?: Readonly<Record<string, string>>;
}

export type VhostUserPortPhase =
  /** ovs-vswitchd has not configured the interface yet (or its bridge could not be created). */
  | 'pending'
  /** OVS is connecting as client and no server (VM) listens on the socket yet: normal before the VM starts. */
  | 'waiting-for-server'
  /** The vhost-user connection is up. */
  | 'connected'
  | 'failed';

export interface VhostUserPortState {
  phase: VhostUserPortPhase;
  message: string;
  /** Set when phase is 'failed': the error to report (code DPDK_UNSUPPORTED or PORT_FAILED). */
  error?: DpdkError;
  /** OVS's vhost-user `status` map: mode, status, socket, num_of_vrings, features, ... */
  vhost: Readonly<Record<string, string>>;
}

// ovs-vswitchd without a registered netdev class for a type reports EAFNOSUPPORT:
// "could not open network device <name> (Address family not supported by protocol)".
const UNSUPPORTED_TYPE_RE = /could not open network device .* \(Address family not supported by protocol\)/;

const NO_DPDK_HINT =
  'run the DPDK build of ovs-vswitchd (Debian: openvswitch-switch-dpdk) with other_config:dpdk-init=true';

/** Why OVS cannot run vhost-user ports, or undefined when it can (or cannot tell yet). */
export function dpdkSupportProblem(caps: OvsDpdkCapabilities): DpdkError | undefined {
  const types = caps.ifaceTypes ?? [];
  if (types.length === 0 || types.includes(VHOST_USER_CLIENT_TYPE)) return undefined;
  const version = caps.dpdkVersion ?? '';
  if (version === '' || version === 'none') {
    return new DpdkError(
      'DPDK_UNSUPPORTED',
      `OVS has no DPDK support: ovs-vswitchd is not built with DPDK (dpdk_version=${version || 'none'}) ` +
        `and cannot create ${VHOST_USER_CLIENT_TYPE} ports; ${NO_DPDK_HINT}`,
    );
  }
  return new DpdkError(
    'DPDK_UNSUPPORTED',
    `OVS has no DPDK support: ovs-vswitchd has ${version} but DPDK is not initialized ` +
      `(dpdk_initialized=${caps.dpdkInitialized === true}), so it cannot create ${VHOST_USER_CLIENT_TYPE} ports; ` +
      'set other_config:dpdk-init=true, restart ovs-vswitchd and check its log for EAL errors',
  );
}

/** Throws BRIDGE_NOT_NETDEV unless the bridge uses the userspace datapath. */
export function assertVhostUserBridge(bridge: BridgeObservation): void {
  const type = bridge.datapathType ?? '';
  if (type !== 'netdev') {
    throw new DpdkError(
      'BRIDGE_NOT_NETDEV',
      `bridge ${bridge.name} has datapath_type "${type}"${type === '' ? ' (the kernel datapath)' : ''}; ` +
        `${VHOST_USER_CLIENT_TYPE} ports need a userspace bridge (datapath_type=netdev)`,
    );
  }
}

/** Interprets an Interface row of a vhost-user client port. */
export function interpretVhostUserInterface(iface: InterfaceObservation): VhostUserPortState {
  const vhost = iface.status ?? {};
  const error = iface.error ?? '';
  if (error !== '') {
    if (UNSUPPORTED_TYPE_RE.test(error) && (iface.type === undefined || iface.type === VHOST_USER_CLIENT_TYPE)) {
      const e = new DpdkError(
        'DPDK_UNSUPPORTED',
        `OVS has no DPDK support: ovs-vswitchd cannot create ${VHOST_USER_CLIENT_TYPE} port ${iface.name} ` +
          `(Interface error: "${error}"); ${NO_DPDK_HINT}`,
      );
      return { phase: 'failed', message: e.message, error: e, vhost };
    }
    const e = new DpdkError('PORT_FAILED', `OVS reports an error for vhost-user port ${iface.name}: ${error}`);
    return { phase: 'failed', message: e.message, error: e, vhost };
  }
  if (iface.ofport === -1) {
    const e = new DpdkError('PORT_FAILED', `OVS could not open vhost-user port ${iface.name} (ofport -1)`);
    return { phase: 'failed', message: e.message, error: e, vhost };
  }
  if (iface.ofport === undefined) {
    return { phase: 'pending', message: `ovs-vswitchd has not configured vhost-user port ${iface.name} yet`, vhost };
  }
  if (vhost.mode === 'server') {
    // dpdkvhostuserclient without options:vhost-server-path never connects and shows mode=server.
    const e = new DpdkError('PORT_FAILED', `vhost-user port ${iface.name} has no vhost-server-path: OVS will never connect it`);
    return { phase: 'failed', message: e.message, error: e, vhost };
  }
  if (iface.linkState === 'up') {
    return { phase: 'connected', message: `vhost-user port ${iface.name} is connected to ${vhost.socket ?? 'its server'}`, vhost };
  }
  return {
    phase: 'waiting-for-server',
    message: `vhost-user port ${iface.name} is waiting for a server on its socket (link ${iface.linkState ?? 'unknown'})`,
    vhost,
  };
}
