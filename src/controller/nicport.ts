/**
 * The NicPort resource as the controller sees it: typed spec/status, the queue key, spec validation
 * (syntax only; IPAM checks ranges and conflicts) and which VM a NicPort should be bound to.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { canonicalIp, tryParseIp } from '../ipam/ip.js';
import { normalizeMac } from '../ipam/mac.js';
import { VMI_TARGET_LABEL } from './constants.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface NicPortSpec {
  subnet?: string;
  ip?: string;
  mac?: string;
  cni?: string;
  network_type?: string;
  vmi?: string;
}

export type Stat = 'phase0.1' | 'phase1';

export interface NicPortStatus {
  /** The report's phase: phase0.1 = allocated and unbound, phase1 = bound to a VM. */
  stat?: Stat;
  /** Readable phase: Pending, Allocated, Binding, Bound, Unbinding, Failed, Terminating. */
  phase?: string;
  ip?: string;
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  subnet?: string;
  provider?: string;
  logicalSwitch?: string;
  logicalSwitchPort?: string;
  /** VM the NIC is plugged into (set once the binder reported Bound). */
  boundVmi?: string;
  boundPod?: string;
  /** The address a DHCP server on the logical switch hands to this NIC (its IPv4, else its IPv6). */
  dhcp_advertising_ip?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface NicPort extends KubernetesObject {
  spec?: NicPortSpec;
  status?: NicPortStatus;
}

export function nicPortKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function keyOf(obj: KubernetesObject): string {
  return nicPortKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A syntactically valid spec, normalized. */
export interface ValidSpec {
  ok: true;
  subnet: string;
  /** Canonical "v4", "v6" or "v4,v6"; undefined = allocate. */
  ip?: string;
  /** Canonical lowercase MAC; undefined = keep/generate. */
  mac?: string;
}

export interface InvalidSpec {
  ok: false;
  reason: 'InvalidSpec';
  message: string;
}

/** Checks what the CRD schema may not have (older CRD, patched objects): formats, families, unicast MAC. */
export function validateSpec(np: NicPort): ValidSpec | InvalidSpec {
  const spec = np.spec ?? {};
  const invalid = (message: string): InvalidSpec => ({ ok: false, reason: 'InvalidSpec', message });
  if (typeof spec.subnet !== 'string' || spec.subnet.trim() === '') return invalid('spec.subnet is required');
  const out: ValidSpec = { ok: true, subnet: spec.subnet.trim() };
  if (spec.ip !== undefined && spec.ip !== null && spec.ip.trim() !== '') {
    const parts = spec.ip.split(',').map((p) => p.trim());
    if (parts.length > 2) return invalid(`spec.ip ${JSON.stringify(spec.ip)}: at most one IPv4 and one IPv6 address`);
    const families = new Set<number>();
    for (const p of parts) {
      const ip = tryParseIp(p);
      if (!ip) return invalid(`spec.ip ${JSON.stringify(spec.ip)}: ${JSON.stringify(p)} is not an IP address`);
      if (families.has(ip.family)) return invalid(`spec.ip ${JSON.stringify(spec.ip)}: two IPv${ip.family} addresses`);
      families.add(ip.family);
    }
    out.ip = parts.map(canonicalIp).join(',');
  }
  if (spec.mac !== undefined && spec.mac !== null && spec.mac.trim() !== '') {
    try {
      out.mac = normalizeMac(spec.mac.trim());
    } catch (err) {
      return invalid(`spec.mac: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * The VM a NicPort should be bound to: `spec.vmi` when the spec has that field (an empty value means
 * unbound), else the report's `vmi-target` label.
 */
export function desiredVmi(np: NicPort): string | undefined {
  const spec = np.spec ?? {};
  if (Object.prototype.hasOwnProperty.call(spec, 'vmi') && spec.vmi !== null) return spec.vmi?.trim() || undefined;
  return np.metadata?.labels?.[VMI_TARGET_LABEL]?.trim() || undefined;
}

export function isDeleting(np: NicPort): boolean {
  return np.metadata?.deletionTimestamp !== undefined && np.metadata.deletionTimestamp !== null;
}

export function hasFinalizer(np: NicPort, finalizer: string): boolean {
  return (np.metadata?.finalizers ?? []).includes(finalizer);
}
