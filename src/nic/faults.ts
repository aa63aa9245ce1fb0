/**
 * Fault injection for the rollback tests: ADD fails right after a named step, so a test can
 * prove that each failure point leaves nothing behind.
 *
 * Armed only when BOTH variables are set — `OVNIC_TEST_FAULTS=1` and `OVNIC_FAULT_INJECT=<step>` —
 * so a stray variable in a production environment cannot trigger it. An unknown step name with
 * the switch on is an error (a typo must not make a test pass vacuously).
 */
import { CniError, CniErrorCode } from '../cni/errors.js';
import type { RawEnv } from '../cni/env.js';

/** ADD checkpoints, in the order ADD passes them. */
export const ADD_STEPS = [
  /** the delegated IPAM plugin allocated addresses */
  'ipam',
  /** the NIC's links exist (veth pair: host end in ovsNetns, container end in the netns) */
  'link',
  /** the container side has its MAC, MTU, addresses and routes */
  'container-config',
  /** the OVS port is on the bridge */
  'ovs-port',
  /** OVN reported the binding (or the wait was skipped) */
  'ovn-binding',
  /** the result is assembled, right before it is returned */
  'result',
] as const;

export type AddStep = (typeof ADD_STEPS)[number];

/** Called by ADD after each step; throws when a fault is armed for that step. */
export type FaultHook = (step: AddStep) => void;

export const noFaults: FaultHook = () => undefined;

export function faultHookFromEnv(env: RawEnv): FaultHook {
  if (env.OVNIC_TEST_FAULTS !== '1') return noFaults;
  const wanted = env.OVNIC_FAULT_INJECT;
  if (!wanted) return noFaults;
  if (!(ADD_STEPS as readonly string[]).includes(wanted)) {
    throw new CniError(CniErrorCode.InvalidEnvironment, `unknown OVNIC_FAULT_INJECT step "${wanted}"`, `steps: ${ADD_STEPS.join(', ')}`);
  }
  return (step) => {
    if (step === wanted) throw new CniError(CniErrorCode.Internal, `injected fault after step "${step}"`, 'OVNIC_TEST_FAULTS=1');
  };
}
