/**
 * Logical switch port naming, compatible with Kube-OVN's PodNameToPortName (pkg/ovs/util.go):
 * `<name>.<namespace>` on the default provider `ovn`, `<name>.<namespace>.<provider>` on any other
 * provider (e.g. `nicport1.default.attachnet1.mec-nets.ovn`). The kubeovn.io IP object published
 * for a NicPort has the same name, as Kube-OVN names IP objects after their port.
 */
import { DEFAULT_PROVIDER } from '../ipam/subnet-spec.js';

export function lspName(name: string, namespace: string, provider: string | undefined): string {
  const p = provider === undefined || provider === '' ? DEFAULT_PROVIDER : provider;
  return p === DEFAULT_PROVIDER ? `${name}.${namespace}` : `${name}.${namespace}.${p}`;
}
