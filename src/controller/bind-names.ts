/**
 * Names used when binding a NicPort to a KubeVirt VM: the NetworkAttachmentDefinition a Kube-OVN provider
 * stands for, the VM interface/network name owned by a NicPort, the pod interface name KubeVirt gives that
 * network, and the provider-scoped pod annotation keys.
 */
import { createHash } from 'node:crypto';

/** The pod annotation Multus reads the secondary networks of a pod from. */
export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** Prefix of the VM interface/network names ovnic owns; keeps them apart from user names such as `default`. */
export const VM_INTERFACE_PREFIX = 'np-';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;

export function isDnsLabel(value: string): boolean {
  return value.length <= MAX_LABEL && DNS_LABEL.test(value);
}

export class InvalidProviderError extends Error {
  constructor(readonly provider: string, why: string) {
    super(`provider "${provider}" ${why}; expected "<nad>.<namespace>.ovn" or "<nad>.<namespace>.ovn.<ifname>"`);
    this.name = 'InvalidProviderError';
  }
}

export interface NadRef {
  namespace: string;
  name: string;
  /** `<ifname>` of the `<nad>.<ns>.ovn.<ifname>` form (the same NAD attached more than once), else undefined. */
  ifName?: string;
}

/**
 * The NetworkAttachmentDefinition behind a Kube-OVN provider: `<nad>.<ns>.ovn` and `<nad>.<ns>.ovn.<ifname>`
 * name NAD `<ns>/<nad>` (Kube-OVN splits providers on dots too, so NAD names with dots cannot be expressed).
 */
export function nadFromProvider(provider: string): NadRef {
  const parts = provider.split('.');
  if (parts.length !== 3 && parts.length !== 4) throw new InvalidProviderError(provider, 'does not have 3 or 4 dot-separated parts');
  const [name, namespace, suffix, ifName] = parts as [string, string, string, string | undefined];
  if (suffix !== 'ovn') throw new InvalidProviderError(provider, 'is not an OVN provider (third part must be "ovn")');
  if (!isDnsLabel(name)) throw new InvalidProviderError(provider, `has an invalid NAD name "${name}"`);
  if (!isDnsLabel(namespace)) throw new InvalidProviderError(provider, `has an invalid namespace "${namespace}"`);
  if (ifName !== undefined && (ifName === '' || ifName.length > 15 || /[/:\s]/.test(ifName))) {
    throw new InvalidProviderError(provider, `has an invalid interface name "${ifName}"`);
  }
  return ifName === undefined ? { namespace, name } : { namespace, name, ifName };
}

/** `<ns>/<name>`, the form used in a VM's `multus.networkName`. */
export function nadNetworkName(nad: NadRef): string {
  return `${nad.namespace}/${nad.name}`;
}

function shortHash(value: string, hexChars: number): string {
  return createHash('sha256').update(value).digest('hex').slice(0, hexChars);
}

/**
 * The VM interface and network name a NicPort owns: `np-<nicport>` when that is a DNS label (≤ 63 chars);
 * otherwise the name lowercased, characters outside [a-z0-9-] replaced by `-`, cut so that
 * `np-<cut>-<8 hex of sha256(nicport)>` fits 63 chars. Deterministic, so a restart finds the same entry.
 */
export function vmInterfaceName(nicPort: string): string {
  const plain = `${VM_INTERFACE_PREFIX}${nicPort}`;
  if (isDnsLabel(plain)) return plain;
  const suffix = `-${shortHash(nicPort, 8)}`;
  const room = MAX_LABEL - VM_INTERFACE_PREFIX.length - suffix.length;
  const cleaned = nicPort.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, room).replace(/-+$/, '');
  return `${VM_INTERFACE_PREFIX}${cleaned}${suffix}`;
}

/**
 * The pod interface KubeVirt creates for a secondary Multus network: `pod` + the first 11 hex chars of
 * sha256(<VM network name>) (KubeVirt's hashed name scheme, ≤ 15 chars for the kernel).
 */
export function podInterfaceName(vmNetworkName: string): string {
  return `pod${shortHash(vmNetworkName, 11)}`;
}

/** The provider-scoped pod annotations Kube-OVN writes on allocation and routing, in its key order. */
export const PROVIDER_ANNOTATION_KEYS = [
  'allocated', 'cidr', 'gateway', 'ip_address', 'logical_router', 'logical_switch', 'mac_address', 'pod_nic_type', 'routed',
] as const;

/**
 * The logical switch port of the NicPort, for ovnic's node daemon (it sets the OVS iface-id from it; the pod
 * and VM names do not lead to the NicPort). Named like Kube-OVN's node annotation `ovn.kubernetes.io/port_name`;
 * Kube-OVN ignores it on pods.
 */
export const PORT_NAME_KEY = 'port_name';

export type ProviderAnnotationKey = (typeof PROVIDER_ANNOTATION_KEYS)[number] | typeof PORT_NAME_KEY;

/** `<provider>.kubernetes.io/<key>`, Kube-OVN's template. */
export function providerAnnotationKey(provider: string, key: ProviderAnnotationKey): string {
  return `${provider}.kubernetes.io/${key}`;
}
