/**
 * Addresses from a pod's provider-scoped annotations, as Kube-OVN's controller writes them on
 * allocation and routing (and ovnic's NicPort binder for VMs). Pure: pod annotations in, the
 * attachment's addresses out — or what is still missing.
 *
 * Keys are `<scope>.kubernetes.io/<key>`. The scope is the network's provider (`ovn` for the
 * default network, `<nad>.<ns>.ovn` for a NetworkAttachmentDefinition), or `<provider>.<ifname>`
 * when the pod has keys in that form (the same NAD attached twice, or a second NIC of one
 * provider): that form wins, as in Kube-OVN.
 *
 *   allocated       must be "true"
 *   mac_address     the logical switch port's MAC (required)
 *   ip_address      "v4", "v6" or "v4,v6"; absent together with cidr: MAC only (the guest or DHCP
 *                   configures addresses)
 *   cidr            "v4cidr[,v6cidr]": each address takes the prefix of the subnet holding it
 *   gateway         "gw4[,gw6]": used when this NIC carries the default route
 *   default_route   "true"/"false"; absent: true for eth0 only
 *   routed          must be "true" when this NIC carries the default route
 *   routes          optional JSON [{"dst": "cidr", "gw": "ip"}]
 *   pod_nic_type    optional, see nicTypeFromAnnotation
 *   port_name       optional: the logical switch port (OVS iface-id) to bind to
 *   virtualmachine  optional: iface-id named after the VM instead of the pod (Kube-OVN keep-vm-ip)
 *   logical_switch  informational
 */
import { ipFamily, parseAssignableMac, parseCidr, parseRequestedIp, type IpFamily } from '../cni/addr.js';
import { CniError, CniErrorCode } from '../cni/errors.js';
import { NIC_TYPES, type NicType } from '../cni/config.js';
import { ifaceIdFor } from '../cni/ownership.js';
import type { CniIpConfig, CniRoute } from '../cni/result.js';
import { inSubnet } from '../nic/plan.js';

export type Annotations = Readonly<Record<string, string>>;

export const ANNOTATION = {
  allocated: 'allocated',
  mac: 'mac_address',
  ip: 'ip_address',
  cidr: 'cidr',
  gateway: 'gateway',
  defaultRoute: 'default_route',
  routed: 'routed',
  routes: 'routes',
  podNicType: 'pod_nic_type',
  portName: 'port_name',
  virtualMachine: 'virtualmachine',
  logicalSwitch: 'logical_switch',
} as const;

/** `<scope>.kubernetes.io/<key>` (Kube-OVN's template). */
export function annotationKey(scope: string, key: string): string {
  return `${scope}.kubernetes.io/${key}`;
}

/** The scope whose keys describe this attachment: `<provider>.<ifname>` when the pod has that form, else the provider. */
export function annotationScope(annotations: Annotations, provider: string, ifname: string): string {
  const perInterface = `${provider}.${ifname}`;
  const keys = [ANNOTATION.allocated, ANNOTATION.ip, ANNOTATION.mac];
  return keys.some((k) => annotations[annotationKey(perInterface, k)] !== undefined) ? perInterface : provider;
}

/**
 * The NIC type a pod asks for. `veth-pair` is Kube-OVN's default and is written for every pod (also
 * by ovnic's NicPort binder), so it keeps the network's own `nicType`; ovnic's type names choose
 * that type, `dpdk-port` (Kube-OVN's vhost-user port) means dpdk-vhostuser. Anything else (sriov,
 * offload-port, internal-port) → CniError 2.
 */
export function nicTypeFromAnnotation(value: string | undefined, confNicType: NicType, key: string = ANNOTATION.podNicType): NicType {
  if (value === undefined || value === '' || value === 'veth-pair') return confNicType;
  if ((NIC_TYPES as readonly string[]).includes(value)) return value as NicType;
  if (value === 'dpdk-port') return 'dpdk-vhostuser';
  throw new CniError(
    CniErrorCode.UnsupportedField,
    `unsupported field: pod annotation ${key}="${value}" names a NIC type ovnic does not provide`,
    `supported: veth-pair (the network's nicType), ${NIC_TYPES.join(', ')}, dpdk-port`,
  );
}

export interface AddressingQuery {
  /** The network configuration's provider. */
  provider: string;
  /** CNI_IFNAME. */
  ifname: string;
  /** The network configuration's nicType. */
  confNicType: NicType;
  podName: string;
  podNamespace: string;
}

export interface PodAddressing {
  /** The provider whose keys were used (the provider, or `<provider>.<ifname>`). */
  scope: string;
  mac: string;
  /** Addresses with prefix; each has its family's gateway when this NIC carries the default route. */
  ips: CniIpConfig[];
  routes: CniRoute[];
  nicType: NicType;
  /** OVS iface-id: port_name, else `<pod or VM>.<ns>[.<scope>]`. */
  ifaceId: string;
  defaultRoute: boolean;
  logicalSwitch?: string;
}

export type AddressingState =
  | { ready: true; addressing: PodAddressing }
  | {
      ready: false;
      scope: string;
      /** Full keys still absent or not at their required value, e.g. `ovn.kubernetes.io/allocated="true"`. */
      missing: string[];
      /** Values present but unusable (the controller may still rewrite them). */
      problems: string[];
    };

function splitList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * What the pod's annotations say about this attachment. Not ready: what is missing or wrong (keep
 * waiting). Throws CniError only for what waiting cannot fix (an unsupported pod_nic_type).
 */
export function resolvePodAddressing(annotations: Annotations | undefined, query: AddressingQuery): AddressingState {
  const ann = annotations ?? {};
  const scope = annotationScope(ann, query.provider, query.ifname);
  const key = (k: string): string => annotationKey(scope, k);
  const get = (k: string): string | undefined => {
    const v = ann[key(k)];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const missing: string[] = [];
  const problems: string[] = [];

  if (get(ANNOTATION.allocated) !== 'true') missing.push(`${key(ANNOTATION.allocated)}="true"`);

  const macText = get(ANNOTATION.mac);
  const mac = macText === undefined ? undefined : parseAssignableMac(macText);
  if (macText === undefined) missing.push(key(ANNOTATION.mac));
  else if (!mac) problems.push(`${key(ANNOTATION.mac)}="${macText}" is not a unicast MAC address`);

  const defaultRouteText = get(ANNOTATION.defaultRoute);
  const defaultRoute = defaultRouteText === undefined ? query.ifname === 'eth0' : defaultRouteText === 'true';
  if (defaultRoute && get(ANNOTATION.routed) !== 'true') missing.push(`${key(ANNOTATION.routed)}="true"`);

  const ipTexts = splitList(get(ANNOTATION.ip));
  const cidrTexts = splitList(get(ANNOTATION.cidr));
  const gateways = new Map<IpFamily, string>();
  for (const gw of splitList(get(ANNOTATION.gateway))) {
    const family = ipFamily(gw);
    if (family === undefined) problems.push(`${key(ANNOTATION.gateway)} entry "${gw}" is not an IP address`);
    else if (!gateways.has(family)) gateways.set(family, gw);
  }

  const ips: CniIpConfig[] = [];
  if (ipTexts.length > 0 && cidrTexts.length === 0) missing.push(key(ANNOTATION.cidr));
  const cidrs = cidrTexts.flatMap((text) => {
    const c = parseCidr(text);
    if (!c) problems.push(`${key(ANNOTATION.cidr)} entry "${text}" is not a CIDR`);
    return c ? [{ text, cidr: c }] : [];
  });
  for (const text of ipTexts) {
    const ip = parseRequestedIp(text);
    if (!ip) {
      problems.push(`${key(ANNOTATION.ip)} entry "${text}" is not an IP address`);
      continue;
    }
    if (cidrTexts.length === 0) continue;
    const subnet = cidrs.find((c) => c.cidr.family === ip.family && inSubnet(ip.address, c.text));
    if (!subnet) {
      problems.push(`${key(ANNOTATION.ip)} address ${ip.address} is in none of ${key(ANNOTATION.cidr)}="${cidrTexts.join(',')}"`);
      continue;
    }
    const gateway = defaultRoute ? gateways.get(ip.family) : undefined;
    ips.push(gateway ? { address: `${ip.address}/${subnet.cidr.prefix}`, gateway } : { address: `${ip.address}/${subnet.cidr.prefix}` });
  }

  const routes: CniRoute[] = [];
  const routesText = get(ANNOTATION.routes);
  if (routesText !== undefined) {
    const parsed = parseRoutes(routesText);
    if (typeof parsed === 'string') problems.push(`${key(ANNOTATION.routes)}: ${parsed}`);
    else routes.push(...parsed);
  }
  if (defaultRoute) {
    for (const ip of ips) {
      const family = parseCidr(ip.address)?.family;
      const dst = family === 4 ? '0.0.0.0/0' : '::/0';
      if (ip.gateway && !routes.some((r) => r.dst === dst)) routes.push({ dst, gw: ip.gateway });
    }
  }

  const nicType = nicTypeFromAnnotation(get(ANNOTATION.podNicType), query.confNicType, key(ANNOTATION.podNicType));

  if (missing.length > 0 || problems.length > 0 || !mac) return { ready: false, scope, missing, problems };
  const vm = get(ANNOTATION.virtualMachine);
  const addressing: PodAddressing = {
    scope,
    mac,
    ips,
    routes,
    nicType,
    ifaceId: get(ANNOTATION.portName) ?? ifaceIdFor(vm ?? query.podName, query.podNamespace, scope),
    defaultRoute,
  };
  const ls = get(ANNOTATION.logicalSwitch);
  if (ls !== undefined) addressing.logicalSwitch = ls;
  return { ready: true, addressing };
}

/** Kube-OVN's `routes` annotation: a JSON list of {dst, gw}; a string describing the problem otherwise. */
export function parseRoutes(text: string): CniRoute[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!Array.isArray(parsed)) return 'must be a JSON list of {"dst": "cidr", "gw": "ip"}';
  const routes: CniRoute[] = [];
  for (const item of parsed) {
    const r = item as { dst?: unknown; gw?: unknown } | null;
    const dst = typeof r?.dst === 'string' ? parseCidr(r.dst) : undefined;
    if (!dst) return `route ${JSON.stringify(item)} has no valid "dst" CIDR`;
    if (r?.gw !== undefined && r.gw !== '' && (typeof r.gw !== 'string' || ipFamily(r.gw) !== dst.family)) {
      return `route ${JSON.stringify(item)} has a "gw" that is not an address of the dst's family`;
    }
    routes.push(typeof r?.gw === 'string' && r.gw !== '' ? { dst: r.dst as string, gw: r.gw } : { dst: r?.dst as string });
  }
  return routes;
}

/** The NIC type the cached pod asks for (DEL's hint when OVSDB cannot say); the conf's on any doubt. */
export function podNicTypeHint(annotations: Annotations | undefined, provider: string, ifname: string, confNicType: NicType): NicType {
  const ann = annotations ?? {};
  const scope = annotationScope(ann, provider, ifname);
  try {
    return nicTypeFromAnnotation(ann[annotationKey(scope, ANNOTATION.podNicType)], confNicType);
  } catch {
    return confNicType;
  }
}
