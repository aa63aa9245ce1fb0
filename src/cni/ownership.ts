/**
 * Who owns an OVS port: the attachment identity and the Interface `external_ids` ovnic writes.
 * DEL and GC are pure functions of what is recorded here, so they work without the netns,
 * the pod or the API server.
 *
 * external_ids written on the OVS Interface (Kube-OVN keys first, then ovnic's own):
 *   iface-id            OVN logical switch port name (see ifaceIdFor)
 *   pod_name            K8S_POD_NAME (absent when the runtime gave no name)
 *   pod_namespace       K8S_POD_NAMESPACE, "default" for a named non-Kubernetes container
 *   pod_netns           CNI_NETNS at ADD time
 *   ip                  the attachment's addresses without prefix, comma separated ("10.0.0.5,fd00::5")
 *   vendor              "ovnic"
 *   ovnic_container_id  CNI_CONTAINERID        } the attachment key: DEL and GC look ports up by these
 *   ovnic_ifname        CNI_IFNAME             }
 *   ovnic_network       the network config `name` (GC only touches ports of its own network)
 *   ovnic_nic_type      veth | internal-macvtap | dpdk-vhostuser
 *   ovnic_ipam_type     the delegated IPAM plugin (absent without ipam)
 *   ovnic_pod_uid       K8S_POD_UID (when given)
 */
import type { NicType } from './config.js';

export const OVNIC_VENDOR = 'ovnic';

export const EXTERNAL_ID = {
  ifaceId: 'iface-id',
  podName: 'pod_name',
  podNamespace: 'pod_namespace',
  podNetns: 'pod_netns',
  ip: 'ip',
  vendor: 'vendor',
  containerId: 'ovnic_container_id',
  ifname: 'ovnic_ifname',
  network: 'ovnic_network',
  nicType: 'ovnic_nic_type',
  ipamType: 'ovnic_ipam_type',
  podUid: 'ovnic_pod_uid',
} as const;

/** How the pod identity was obtained. */
export type IdentitySource =
  /** K8S_POD_NAME + K8S_POD_NAMESPACE (kubelet, CRI-O, containerd, Multus). */
  | 'kubernetes'
  /** K8S_POD_NAME only (podman passes the container name): namespace "default". */
  | 'named'
  /** Neither: the attachment is named after the container ID and ifname. */
  | 'container';

export interface AttachmentIdentity {
  containerId: string;
  ifname: string;
  /** The network config `name`. */
  network: string;
  provider: string;
  source: IdentitySource;
  /** Absent for source "container". */
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  /** OVN logical switch port name this attachment binds to. */
  ifaceId: string;
}

export const DEFAULT_NAMESPACE = 'default';

/** Kube-OVN PodNameToPortName: `<pod>.<ns>` for provider "ovn", `<pod>.<ns>.<provider>` otherwise. */
export function ifaceIdFor(podName: string, podNamespace: string, provider: string): string {
  return provider === 'ovn' ? `${podName}.${podNamespace}` : `${podName}.${podNamespace}.${provider}`;
}

export interface IdentityInput {
  containerId: string;
  ifname: string;
  network: string;
  provider: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
}

/**
 * The identity of one attachment:
 *  - K8S_POD_NAME and K8S_POD_NAMESPACE → iface-id `<pod>.<ns>[.<provider>]` (Kube-OVN compatible);
 *  - K8S_POD_NAME only (podman: the container name) → namespace "default", same formula;
 *  - neither → iface-id `<containerID[:12]>.<ifname>[.<provider>]`.
 * Two networks bound to the same pod must use different providers (as in Kube-OVN), else they
 * would claim the same logical switch port.
 */
export function attachmentIdentity(input: IdentityInput): AttachmentIdentity {
  const base = { containerId: input.containerId, ifname: input.ifname, network: input.network, provider: input.provider };
  const withUid = <T extends object>(o: T): T & { podUid?: string } => (input.podUid ? { ...o, podUid: input.podUid } : o);
  if (input.podName) {
    const podNamespace = input.podNamespace || DEFAULT_NAMESPACE;
    return withUid({
      ...base,
      source: input.podNamespace ? 'kubernetes' : 'named',
      podName: input.podName,
      podNamespace,
      ifaceId: ifaceIdFor(input.podName, podNamespace, input.provider),
    });
  }
  return withUid({
    ...base,
    source: 'container',
    ifaceId: ifaceIdFor(input.containerId.slice(0, 12), input.ifname, input.provider),
  });
}

/** A stable string key for an attachment (containerID and ifname cannot contain NUL). */
export function attachmentKey(containerId: string, ifname: string): string {
  return `${containerId}\u0000${ifname}`;
}

export interface OwnershipInput {
  identity: AttachmentIdentity;
  /** CNI_NETNS at ADD time ('' to omit). */
  netns: string;
  nicType: NicType;
  ipamType?: string;
  /** Addresses with or without prefix; written without prefix. */
  ips: readonly string[];
  /** NIC-specific keys (must not override the keys above). */
  extra?: Readonly<Record<string, string>>;
}

/** The Interface external_ids map for a new port. Throws if `extra` tries to override a standard key. */
export function buildExternalIds(input: OwnershipInput): Record<string, string> {
  const { identity } = input;
  const ids: Record<string, string> = { [EXTERNAL_ID.ifaceId]: identity.ifaceId };
  if (identity.podName) ids[EXTERNAL_ID.podName] = identity.podName;
  if (identity.podNamespace) ids[EXTERNAL_ID.podNamespace] = identity.podNamespace;
  if (input.netns) ids[EXTERNAL_ID.podNetns] = input.netns;
  if (input.ips.length > 0) ids[EXTERNAL_ID.ip] = input.ips.map((a) => a.split('/')[0]).join(',');
  ids[EXTERNAL_ID.vendor] = OVNIC_VENDOR;
  ids[EXTERNAL_ID.containerId] = identity.containerId;
  ids[EXTERNAL_ID.ifname] = identity.ifname;
  ids[EXTERNAL_ID.network] = identity.network;
  ids[EXTERNAL_ID.nicType] = input.nicType;
  if (input.ipamType) ids[EXTERNAL_ID.ipamType] = input.ipamType;
  if (identity.podUid) ids[EXTERNAL_ID.podUid] = identity.podUid;
  for (const [key, value] of Object.entries(input.extra ?? {})) {
    if (key in ids) throw new Error(`external_ids key "${key}" is reserved`);
    ids[key] = value;
  }
  return ids;
}

/** What an ovnic-owned Interface records, parsed back from its external_ids. */
export interface OwnershipRecord {
  containerId: string;
  ifname: string;
  network?: string;
  nicType?: string;
  ipamType?: string;
  ifaceId?: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  netns?: string;
  /** Addresses without prefix. */
  ips: string[];
  /** Every key, as stored. */
  externalIds: Record<string, string>;
}

/** undefined unless vendor=ovnic and both attachment keys are present (i.e. not ours to touch). */
export function parseOwnership(externalIds: Readonly<Record<string, string>> | ReadonlyMap<string, string>): OwnershipRecord | undefined {
  const ids: Record<string, string> = externalIds instanceof Map ? Object.fromEntries(externalIds) : { ...(externalIds as Record<string, string>) };
  if (ids[EXTERNAL_ID.vendor] !== OVNIC_VENDOR) return undefined;
  const containerId = ids[EXTERNAL_ID.containerId];
  const ifname = ids[EXTERNAL_ID.ifname];
  if (!containerId || !ifname) return undefined;
  const record: OwnershipRecord = {
    containerId,
    ifname,
    ips: (ids[EXTERNAL_ID.ip] ?? '').split(',').filter((s) => s !== ''),
    externalIds: ids,
  };
  const optional: Array<[keyof OwnershipRecord, string]> = [
    ['network', EXTERNAL_ID.network],
    ['nicType', EXTERNAL_ID.nicType],
    ['ipamType', EXTERNAL_ID.ipamType],
    ['ifaceId', EXTERNAL_ID.ifaceId],
    ['podName', EXTERNAL_ID.podName],
    ['podNamespace', EXTERNAL_ID.podNamespace],
    ['podUid', EXTERNAL_ID.podUid],
    ['netns', EXTERNAL_ID.podNetns],
  ];
  for (const [field, key] of optional) {
    const v = ids[key];
    if (v) (record as unknown as Record<string, string>)[field] = v;
  }
  return record;
}

/** True when the record belongs to `network` and the attachment is not in `valid` (GC candidates). */
export function isStale(record: OwnershipRecord, network: string, valid: ReadonlySet<string>): boolean {
  if (record.network !== network) return false;
  return !valid.has(attachmentKey(record.containerId, record.ifname));
}

// ---------------------------------------------------------------------------------------------
// Link names (Linux: at most 15 bytes)

const HEX12_RE = /^[0-9a-f]{12}/;

/** FNV-1a 64-bit of the UTF-8 bytes, as 16 hex digits (no crypto import on the CNI fast path). */
export function fnv1a64Hex(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

function linkName(containerId: string, ifname: string, suffix: '_h' | '_c'): string {
  if (ifname === 'eth0' && HEX12_RE.test(containerId)) return `${containerId.slice(0, 12)}${suffix}`;
  return `o${fnv1a64Hex(`${containerId}\n${ifname}`).slice(0, 12)}${suffix}`;
}

/**
 * Host-side link name for (containerID, ifname), 14 or 15 bytes, deterministic:
 *  - ifname "eth0" and a container ID starting with 12 lower-case hex digits (every CRI runtime
 *    and podman): `<cid[:12]>_h`, as Kube-OVN names it;
 *  - anything else: `o` + 12 hex digits of FNV-1a-64("<cid>\n<ifname>") + `_h`.
 * The two forms cannot collide (the second starts with 'o', which is not hex). Distinct attachments
 * get distinct names up to a 48-bit prefix/hash collision; a collision makes ADD fail (link exists),
 * never steals a link, because DEL/GC find ports by external_ids, not by name.
 */
export function hostLinkName(containerId: string, ifname: string): string {
  return linkName(containerId, ifname, '_h');
}

/** Temporary container-side name (same scheme, suffix `_c`) for NIC types that cannot create the link in the netns directly. */
export function containerTempLinkName(containerId: string, ifname: string): string {
  return linkName(containerId, ifname, '_c');
}
