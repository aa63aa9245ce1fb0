/**
 * NIC drivers by type. Each entry creates a fresh driver for one CNI invocation; a type whose
 * entry is missing is not available in this build.
 */
import { CniError, CniErrorCode } from '../cni/errors.js';
import type { NicType } from '../cni/config.js';
import type { NicDriver } from './types.js';
import { VethDriver } from './veth.js';
import { InternalMacvtapDriver } from './internal-macvtap.js';
import { DpdkVhostUserDriver } from './dpdk-vhostuser.js';

const DRIVERS: Partial<Record<NicType, () => NicDriver>> = {
  veth: () => new VethDriver(),
  'internal-macvtap': () => new InternalMacvtapDriver(),
  'dpdk-vhostuser': () => new DpdkVhostUserDriver(),
};

export function createNicDriver(type: NicType): NicDriver {
  const make = DRIVERS[type];
  if (!make) throw new CniError(CniErrorCode.UnsupportedField, `unsupported field: nicType "${type}" is not available in this build`, `nicType=${type}`);
  return make();
}

export function isNicTypeAvailable(type: string): type is NicType {
  return type in DRIVERS;
}

export type { NicDriver, NicEnv, NicPrepareEnv, NicDelEnv, NicGcEnv, NicPlan, NicAdded, NicExpectation } from './types.js';
export { OvsPorts, BridgeMissingError, PortNameTakenError, OvnBindingTimeoutError, type PortSpec, type PlugOutcome, type PortRecord } from './ovs-port.js';
export { UndoStack } from './undo.js';
export { ADD_STEPS, faultHookFromEnv, noFaults, type AddStep, type FaultHook } from './faults.js';
export { OvnicErrorCode } from './errors.js';
