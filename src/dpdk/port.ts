/**
 * The OVS Interface description of a vhost-user attachment, independent of how it is written
 * (OVSDB transaction or ovs-vsctl). OVS connects as the vhost-user client to the socket the VM
 * serves (`dpdkvhostuserclient`), so the VM can restart without OVS losing the port.
 */
import { isAbsolute } from 'node:path';
import { DpdkError } from './errors.js';
import { assertSocketPathFits } from './socket-dir.js';

export const VHOST_USER_CLIENT_TYPE = 'dpdkvhostuserclient';
/** OVS accepts `options:tx-retries-max` from 0 to 32 (default 8). */
export const MAX_TX_RETRIES = 32;
const MIN_MTU = 68;

export interface VhostUserPortInput {
  /** OVS Port and Interface name. */
  name: string;
  /** Socket the VM creates (see vhostSocketLocation). */
  socketPath: string;
  /**
   * Retries when the guest's rx ring is full, before dropping (`options:tx-retries-max`).
   * The queue count is not set here: for vhost-user it is negotiated with the VM.
   */
  txRetriesMax?: number;
  /** `mtu_request`; unset leaves OVS's default (1500). */
  mtuRequest?: number;
  externalIds?: Readonly<Record<string, string>>;
}

export interface VhostUserPortSpec {
  name: string;
  type: typeof VHOST_USER_CLIENT_TYPE;
  options: Record<string, string>;
  mtuRequest?: number;
  externalIds: Record<string, string>;
}

export function vhostUserPortSpec(input: VhostUserPortInput): VhostUserPortSpec {
  if (input.name === '' || /[\s/]/.test(input.name)) {
    throw new DpdkError('INVALID_ARGUMENT', `invalid OVS port name "${input.name}"`);
  }
  if (!isAbsolute(input.socketPath)) {
    throw new DpdkError('INVALID_ARGUMENT', `vhost-user socket path must be absolute, got "${input.socketPath}"`);
  }
  assertSocketPathFits(input.socketPath);
  const options: Record<string, string> = { 'vhost-server-path': input.socketPath };
  if (input.txRetriesMax !== undefined) {
    if (!Number.isInteger(input.txRetriesMax) || input.txRetriesMax < 0 || input.txRetriesMax > MAX_TX_RETRIES) {
      throw new DpdkError('INVALID_ARGUMENT', `tx-retries-max must be an integer from 0 to ${MAX_TX_RETRIES}, got ${input.txRetriesMax}`);
    }
    options['tx-retries-max'] = String(input.txRetriesMax);
  }
  const spec: VhostUserPortSpec = {
    name: input.name,
    type: VHOST_USER_CLIENT_TYPE,
    options,
    externalIds: { ...input.externalIds },
  };
  if (input.mtuRequest !== undefined) {
    if (!Number.isInteger(input.mtuRequest) || input.mtuRequest < MIN_MTU) {
      throw new DpdkError('INVALID_ARGUMENT', `mtu must be an integer of at least ${MIN_MTU}, got ${input.mtuRequest}`);
    }
    spec.mtuRequest = input.mtuRequest;
  }
  return spec;
}

/**
 * The column assignments of the spec in ovs-vsctl syntax, for
 * `ovs-vsctl add-port <br> <name> -- set Interface <name> ...args`.
 */
export function vsctlInterfaceSettings(spec: VhostUserPortSpec): string[] {
  const args = [`type=${spec.type}`];
  for (const [k, v] of Object.entries(spec.options)) args.push(`options:${k}=${vsctlString(v)}`);
  if (spec.mtuRequest !== undefined) args.push(`mtu_request=${spec.mtuRequest}`);
  for (const [k, v] of Object.entries(spec.externalIds)) args.push(`external_ids:${vsctlString(k)}=${vsctlString(v)}`);
  return args;
}

/** ovs-vsctl parses values as OVSDB atoms: quote anything beyond plain characters. */
function vsctlString(s: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(s) ? s : JSON.stringify(s);
}
