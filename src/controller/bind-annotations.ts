/**
 * The provider-scoped pod annotations a bound NicPort writes on the virt-launcher pod, with the values
 * Kube-OVN's controller writes on allocation and routing, so Kube-OVN's CNI daemon (and ovnic's) configure
 * the NIC from them and Kube-OVN's controller sees the attachment as already allocated.
 *
 * Scope: `<provider>.kubernetes.io/<key>`. When another NIC on the same pod already holds those keys (two
 * NicPorts of one subnet bound to one VM), the keys go to `<provider>.<podIfName>.kubernetes.io/<key>`, the
 * per-interface form Kube-OVN's daemon prefers when present.
 */
import { PORT_NAME_KEY, PROVIDER_ANNOTATION_KEYS, providerAnnotationKey, type ProviderAnnotationKey } from './bind-names.js';

export const DEFAULT_LOGICAL_ROUTER = 'ovn-cluster';
export const DEFAULT_POD_NIC_TYPE = 'veth-pair';

export interface ProviderAnnotationInput {
  mac: string;
  ipv4?: string;
  ipv6?: string;
  cidr: string;
  gateway: string;
  logicalSwitch: string;
  logicalRouter?: string;
  podNicType?: string;
  /** Adds `port_name` when set. */
  lspName?: string;
}

export type ProviderAnnotationValues = Partial<Record<ProviderAnnotationKey, string>>;

/** The values, keyed by the bare key (`ip_address`, …), in Kube-OVN's form ("v4,v6" for dual stack). */
export function providerAnnotationValues(input: ProviderAnnotationInput): ProviderAnnotationValues {
  const ips = [input.ipv4, input.ipv6].filter((ip): ip is string => ip !== undefined && ip !== '');
  const values: ProviderAnnotationValues = {
    allocated: 'true',
    cidr: input.cidr,
    gateway: input.gateway,
    ip_address: ips.join(','),
    logical_router: input.logicalRouter !== undefined && input.logicalRouter !== '' ? input.logicalRouter : DEFAULT_LOGICAL_ROUTER,
    logical_switch: input.logicalSwitch,
    mac_address: input.mac,
    pod_nic_type: input.podNicType ?? DEFAULT_POD_NIC_TYPE,
    routed: 'true',
  };
  if (input.lspName !== undefined && input.lspName !== '') values[PORT_NAME_KEY] = input.lspName;
  return values;
}

function sameMac(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

export type ScopeChoice = { scope: string } | { conflict: string };

/**
 * Where this NIC's keys live on a pod: the provider itself when free or already ours (same MAC), else
 * `<provider>.<podIfName>` when that is free or ours. A provider that already carries an interface suffix
 * has no further fallback.
 */
export function chooseAnnotationScope(annotations: Readonly<Record<string, string>>, provider: string, podIfName: string, mac: string, providerHasIfName: boolean): ScopeChoice {
  const candidates = providerHasIfName ? [provider] : [provider, `${provider}.${podIfName}`];
  for (const scope of candidates) {
    const holder = annotations[providerAnnotationKey(scope, 'mac_address')];
    const allocated = annotations[providerAnnotationKey(scope, 'ip_address')];
    if ((holder === undefined && allocated === undefined) || sameMac(holder, mac)) return { scope };
  }
  const holder = annotations[providerAnnotationKey(provider, 'mac_address')] ?? '?';
  return { conflict: `the pod's ${provider} annotations belong to another NIC (MAC ${holder})` };
}

/** The scope whose mac_address is this NIC's, if any (for unbinding). */
export function findAnnotationScope(annotations: Readonly<Record<string, string>>, provider: string, podIfName: string, mac: string): string | undefined {
  return [provider, `${provider}.${podIfName}`].find((scope) => sameMac(annotations[providerAnnotationKey(scope, 'mac_address')], mac));
}

/** Merge-patch entries turning `annotations` into having `values` under `scope`; {} when already so. */
export function annotationPatch(annotations: Readonly<Record<string, string>>, scope: string, values: ProviderAnnotationValues): Record<string, string> {
  const patch: Record<string, string> = {};
  for (const [key, value] of Object.entries(values) as Array<[ProviderAnnotationKey, string]>) {
    const full = providerAnnotationKey(scope, key);
    if (annotations[full] !== value) patch[full] = value;
  }
  return patch;
}

/** Merge-patch entries (null = delete) removing every provider key present under `scope`. */
export function annotationRemoval(annotations: Readonly<Record<string, string>>, scope: string): Record<string, null> {
  const patch: Record<string, null> = {};
  for (const key of [...PROVIDER_ANNOTATION_KEYS, PORT_NAME_KEY] as ProviderAnnotationKey[]) {
    const full = providerAnnotationKey(scope, key);
    if (full in annotations) patch[full] = null;
  }
  return patch;
}
