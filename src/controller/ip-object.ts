/**
 * The kubeovn.io/v1 `IP` object ovnic publishes per NicPort, so the reservation is visible where
 * Kube-OVN and its users look (`kubectl get ips`): named like the LSP (`<name>.<ns>[.<provider>]`, as
 * Kube-OVN names IP objects after ports), spec fields as Kube-OVN writes them, labelled
 * `app.kubernetes.io/managed-by: ovnic`, owner in the `kubevirt.chinaunicom.com/nicport` annotation.
 * Only the fields ovnic sets are compared, so labels Kube-OVN adds (e.g. ip_reserved) are kept.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { IP_POD_TYPE, KUBEOVN_IP, KUBEOVN_SUBNET_LABEL, MANAGED_BY, MANAGED_BY_LABEL, OWNER_ANNOTATION } from './constants.js';

export interface KubeOvnIpSpec {
  podName?: string;
  namespace?: string;
  subnet?: string;
  nodeName?: string;
  ipAddress?: string;
  v4IpAddress?: string;
  v6IpAddress?: string;
  macAddress?: string;
  attachSubnets?: string[];
  attachIps?: string[];
  attachMacs?: string[];
  containerID?: string;
  podType?: string;
}

export interface KubeOvnIp extends KubernetesObject {
  spec?: KubeOvnIpSpec;
}

export interface IpObjectInput {
  owner: { namespace: string; name: string };
  name: string;
  subnet: string;
  v4?: string;
  v6?: string;
  mac: string;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function desiredIpObject(input: IpObjectInput): KubeOvnIp & { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }; spec: KubeOvnIpSpec } {
  const labels: Record<string, string> = { [MANAGED_BY_LABEL]: MANAGED_BY };
  if (input.subnet.length <= 63 && LABEL_VALUE.test(input.subnet)) labels[KUBEOVN_SUBNET_LABEL] = input.subnet;
  const ips = [input.v4, input.v6].filter((x): x is string => x !== undefined);
  return {
    apiVersion: `${KUBEOVN_IP.group}/${KUBEOVN_IP.version}`,
    kind: KUBEOVN_IP.kind,
    metadata: {
      name: input.name,
      labels,
      annotations: { [OWNER_ANNOTATION]: `${input.owner.namespace}/${input.owner.name}` },
    },
    spec: {
      podName: input.owner.name,
      namespace: input.owner.namespace,
      subnet: input.subnet,
      nodeName: '',
      ipAddress: ips.join(','),
      v4IpAddress: input.v4 ?? '',
      v6IpAddress: input.v6 ?? '',
      macAddress: input.mac,
      attachSubnets: [],
      attachIps: [],
      attachMacs: [],
      containerID: '',
      podType: IP_POD_TYPE,
    },
  };
}

export function isOvnicIp(obj: KubernetesObject): boolean {
  return obj.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

/** `namespace/name` of the NicPort an ovnic IP object belongs to. */
export function ownerOfIp(obj: KubernetesObject): string | undefined {
  if (!isOvnicIp(obj)) return undefined;
  const v = obj.metadata?.annotations?.[OWNER_ANNOTATION];
  return v === undefined || v === '' || !v.includes('/') ? undefined : v;
}

function sameValue(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => (v === undefined || v === null ? '' : Array.isArray(v) && v.length === 0 ? '' : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

/** A merge patch bringing `current` to `want` on the fields ovnic owns, or undefined if none differs. */
export function ipObjectPatch(want: ReturnType<typeof desiredIpObject>, current: KubeOvnIp): Record<string, unknown> | undefined {
  const spec: Record<string, unknown> = {};
  const cur = (current.spec ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(want.spec)) if (!sameValue(cur[k], v)) spec[k] = v;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(want.metadata.labels)) if (current.metadata?.labels?.[k] !== v) labels[k] = v;
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(want.metadata.annotations)) if (current.metadata?.annotations?.[k] !== v) annotations[k] = v;
  const metadata: Record<string, unknown> = {};
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  const patch: Record<string, unknown> = {};
  if (Object.keys(spec).length > 0) patch.spec = spec;
  if (Object.keys(metadata).length > 0) patch.metadata = metadata;
  return Object.keys(patch).length > 0 ? patch : undefined;
}
