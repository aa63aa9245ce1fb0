/**
 * Owner keys name who holds an address or MAC. One holder must map to one key whatever source
 * reports it (a NicPort, the kubeovn.io IP object ovnic publishes for it, its LSP): otherwise a
 * rebuild sees the holder's own address twice and reports a false conflict.
 */
import { invalidInput } from './errors.js';

export const ownerKey = {
  nicPort: (namespace: string, name: string): string => `nicport/${namespace}/${name}`,
  /**
   * A Kube-OVN pod/VM port: its kubeovn.io IP object and its LSP (external_ids vendor=kube-ovn)
   * share the name `<pod>.<ns>[.<provider>]`, so both map to this one key.
   */
  kubeOvn: (portName: string): string => `kube-ovn/${portName}`,
  /** Any other NB logical switch port. */
  lsp: (name: string): string => `lsp/${name}`,
};

export function assertOwner(owner: string): void {
  if (typeof owner !== 'string' || owner === '') throw invalidInput('owner key is empty');
}
