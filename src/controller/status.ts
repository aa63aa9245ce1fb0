/**
 * NicPort status: conditions with stable transition times, the report's `stat`, and the merge patch
 * for the status subresource — undefined when nothing changed, so an unchanged NicPort costs no write.
 */
import type { Condition, ConditionStatus, NicPortStatus } from './nicport.js';

export const CONDITION = {
  /** Addresses and MAC held in IPAM and published. */
  Allocated: 'Allocated',
  /** The logical switch port exists in NB as it should. */
  PortReady: 'PortReady',
  /** Plugged into the VM named by spec.vmi (False with reason Unbound when none is wanted). */
  Bound: 'Bound',
  /** Everything asked for is in place. */
  Ready: 'Ready',
  /** Deletion requested; True while it is held up (reason says why) or running. */
  Terminating: 'Terminating',
} as const;

export const REASON = {
  Allocated: 'Allocated',
  InvalidSpec: 'InvalidSpec',
  UnknownSubnet: 'UnknownSubnet',
  InvalidSubnet: 'InvalidSubnet',
  IPOutOfRange: 'IPOutOfRange',
  IPConflict: 'IPConflict',
  MACConflict: 'MACConflict',
  SubnetExhausted: 'SubnetExhausted',
  PortReady: 'PortReady',
  LogicalSwitchMissing: 'LogicalSwitchMissing',
  PortNameConflict: 'PortNameConflict',
  Bound: 'Bound',
  Unbound: 'Unbound',
  BoundToVM: 'BoundToVM',
  Releasing: 'Releasing',
  Ready: 'Ready',
} as const;

export const PHASE = {
  Pending: 'Pending',
  Allocated: 'Allocated',
  Binding: 'Binding',
  Bound: 'Bound',
  Unbinding: 'Unbinding',
  Failed: 'Failed',
  Terminating: 'Terminating',
} as const;

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Sets or replaces conditions by type. A condition whose status did not change keeps its
 * lastTransitionTime. Conditions not named are kept as they are.
 */
export function setConditions(
  current: readonly Condition[] | undefined,
  updates: readonly ConditionInput[],
  generation: number | undefined,
  now: () => string,
): Condition[] {
  const out = (current ?? []).map((c) => ({ ...c }));
  for (const u of updates) {
    const i = out.findIndex((c) => c.type === u.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: Condition = {
      type: u.type,
      status: u.status,
      reason: u.reason,
      message: u.message,
      lastTransitionTime: prev && prev.status === u.status && prev.lastTransitionTime ? prev.lastTransitionTime : now(),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

export function removeCondition(current: readonly Condition[], type: string): Condition[] {
  return current.filter((c) => c.type !== type);
}

export function condition(status: NicPortStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** Deep equality of JSON values, ignoring key order and treating undefined members as absent. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Merge patch `{status: …}` turning `current` into `next`: changed and new fields, and `null` for
 * fields `next` drops. Undefined when they are equal.
 */
export function statusPatch(current: NicPortStatus | undefined, next: NicPortStatus): { status: Record<string, unknown> } | undefined {
  const cur = (current ?? {}) as Record<string, unknown>;
  const nxt = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(nxt)) if (v !== undefined && !sameJson(cur[k], v)) patch[k] = v;
  for (const k of Object.keys(cur)) if (nxt[k] === undefined && cur[k] !== undefined) patch[k] = null;
  return Object.keys(patch).length > 0 ? { status: patch } : undefined;
}
