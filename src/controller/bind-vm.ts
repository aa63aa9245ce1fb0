/**
 * KubeVirt VM template edits for NIC hot-plug (KubeVirt ≥ 1.4): the interface
 * (`spec.template.spec.domain.devices.interfaces[]`, bridge binding, fixed MAC) and its Multus network
 * (`spec.template.spec.networks[]`). Pure functions over the lists; entries that are not ours are never
 * touched and keep their order.
 */

export interface VmInterface {
  name: string;
  macAddress?: string;
  state?: string;
  bridge?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface VmNetwork {
  name: string;
  multus?: { networkName: string; default?: boolean; [other: string]: unknown };
  [other: string]: unknown;
}

export interface TemplateNics {
  interfaces: VmInterface[];
  networks: VmNetwork[];
}

export interface TemplateChange extends TemplateNics {
  changed: boolean;
}

/** The interface binding keys KubeVirt knows; a hot-pluggable NIC uses `bridge` only. */
const BINDING_KEYS = ['bridge', 'masquerade', 'sriov', 'slirp', 'macvtap', 'passt', 'binding'];

export const ABSENT = 'absent';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function at(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) cur = isRecord(cur) ? cur[key] : undefined;
  return cur;
}

function namedList<T extends { name: string }>(value: unknown): T[] {
  return Array.isArray(value) ? value.filter((v): v is T => isRecord(v) && typeof v.name === 'string') : [];
}

/** The template's interfaces and networks (empty lists when absent). */
export function templateNics(vm: unknown): TemplateNics {
  return {
    interfaces: namedList<VmInterface>(at(vm, 'spec', 'template', 'spec', 'domain', 'devices', 'interfaces')),
    networks: namedList<VmNetwork>(at(vm, 'spec', 'template', 'spec', 'networks')),
  };
}

function sameMac(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

export interface WantedNic {
  /** VM interface and network name. */
  name: string;
  mac: string;
  /** `<ns>/<nad>`. */
  networkName: string;
}

function interfaceUpToDate(iface: VmInterface, want: WantedNic): boolean {
  const bindings = BINDING_KEYS.filter((k) => k in iface);
  return bindings.length === 1 && bindings[0] === 'bridge' && sameMac(iface.macAddress, want.mac) && iface.state === undefined;
}

function networkUpToDate(net: VmNetwork, want: WantedNic): boolean {
  return net.multus?.networkName === want.networkName && net.multus.default !== true && !('pod' in net);
}

/**
 * Ensures the template has our bridge interface with the MAC (no `state`, so a pending unplug is
 * cancelled) and our Multus network. Fields of an existing entry that do not conflict (e.g. `model`) stay.
 */
export function attachNic(nics: TemplateNics, want: WantedNic): TemplateChange {
  let changed = false;
  const interfaces = [...nics.interfaces];
  const i = interfaces.findIndex((x) => x.name === want.name);
  if (i === -1) {
    interfaces.push({ name: want.name, bridge: {}, macAddress: want.mac });
    changed = true;
  } else if (!interfaceUpToDate(interfaces[i] as VmInterface, want)) {
    const next: VmInterface = { ...(interfaces[i] as VmInterface) };
    for (const key of BINDING_KEYS) delete next[key];
    delete next.state;
    next.bridge = {};
    next.macAddress = want.mac;
    interfaces[i] = next;
    changed = true;
  }
  const networks = [...nics.networks];
  const n = networks.findIndex((x) => x.name === want.name);
  if (n === -1) {
    networks.push({ name: want.name, multus: { networkName: want.networkName } });
    changed = true;
  } else if (!networkUpToDate(networks[n] as VmNetwork, want)) {
    const next: VmNetwork = { ...(networks[n] as VmNetwork) };
    delete next.pod;
    next.multus = { networkName: want.networkName };
    networks[n] = next;
    changed = true;
  }
  return { interfaces, networks, changed };
}

/** Sets `state: absent` on our interface (KubeVirt's hot-unplug request); unchanged when missing or already absent. */
export function markNicAbsent(nics: TemplateNics, name: string): TemplateChange {
  const i = nics.interfaces.findIndex((x) => x.name === name);
  if (i === -1 || nics.interfaces[i]?.state === ABSENT) return { ...nics, changed: false };
  const interfaces = [...nics.interfaces];
  interfaces[i] = { ...(interfaces[i] as VmInterface), state: ABSENT };
  return { interfaces, networks: [...nics.networks], changed: true };
}

/** Drops our interface and network from the template. */
export function removeNic(nics: TemplateNics, name: string): TemplateChange {
  const interfaces = nics.interfaces.filter((x) => x.name !== name);
  const networks = nics.networks.filter((x) => x.name !== name);
  return { interfaces, networks, changed: interfaces.length !== nics.interfaces.length || networks.length !== nics.networks.length };
}

export function hasNic(nics: TemplateNics, name: string): boolean {
  return nics.interfaces.some((x) => x.name === name) || nics.networks.some((x) => x.name === name);
}

export function nicState(nics: TemplateNics, name: string): 'missing' | 'present' | 'absent' {
  const iface = nics.interfaces.find((x) => x.name === name);
  if (iface === undefined) return 'missing';
  return iface.state === ABSENT ? 'absent' : 'present';
}

/**
 * Whether a VMI still knows the interface: in its spec (KubeVirt keeps an `absent` entry until the device
 * is unplugged) or in its status interfaces.
 */
export function vmiListsInterface(vmi: unknown, name: string): boolean {
  const inSpec = namedList<VmInterface>(at(vmi, 'spec', 'domain', 'devices', 'interfaces')).some((x) => x.name === name);
  const inStatus = namedList<{ name: string }>(at(vmi, 'status', 'interfaces')).some((x) => x.name === name);
  return inSpec || inStatus;
}

/** The merge patch replacing both template lists, guarded by resourceVersion (a stale one → 409). */
export function templatePatch(resourceVersion: string, nics: TemplateNics): Record<string, unknown> {
  return {
    metadata: { resourceVersion },
    spec: { template: { spec: { domain: { devices: { interfaces: nics.interfaces } }, networks: nics.networks } } },
  };
}
