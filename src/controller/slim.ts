/**
 * Keeping cached objects small. Informer caches hold every NicPort, Subnet and IP object for the life of
 * the process, so before an object is cached: managedFields and the kubectl last-applied annotation
 * (often larger than the object) are dropped, and string values that repeat across objects (API
 * versions, kinds, namespaces, subnet names, condition types/reasons/messages, labels) are shared
 * instead of held once per object.
 */
import type { KubernetesObject } from '@kubernetes/client-node';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A bounded string pool: values repeated across objects are kept once. */
export class StringPool {
  private readonly pool = new Map<string, string>();
  constructor(private readonly max = 100_000) {}

  get(s: string): string {
    const hit = this.pool.get(s);
    if (hit !== undefined) return hit;
    if (this.pool.size < this.max) this.pool.set(s, s);
    return s;
  }

  get size(): number {
    return this.pool.size;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Fields whose values are unique per object (pooling them would only grow the pool). */
const UNIQUE = new Set(['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'lastTransitionTime', 'name', 'generateName', 'selfLink']);

/** Longer strings are rarely shared (messages naming addresses, uids): pooling them would only grow the pool. */
const MAX_POOLED_LENGTH = 64;

function poolDeep(v: Json, pool: StringPool, key: string | undefined): Json {
  if (typeof v === 'string') return v.length > MAX_POOLED_LENGTH || (key !== undefined && UNIQUE.has(key)) ? v : pool.get(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = poolDeep(v[i] as Json, pool, key);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) v[k] = poolDeep(v[k] as Json, pool, k);
  }
  return v;
}

/** Slims `obj` in place (and returns it): drops managedFields and the last-applied annotation, pools strings. */
export function slim<T extends KubernetesObject>(obj: T, pool: StringPool): T {
  const meta = obj.metadata as (Record<string, unknown> & { annotations?: Record<string, string> }) | undefined;
  if (meta) {
    delete meta.managedFields;
    if (meta.annotations && LAST_APPLIED in meta.annotations) {
      delete meta.annotations[LAST_APPLIED];
      if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
    }
  }
  poolDeep(obj as unknown as Json, pool, undefined);
  // metadata.name is unique per object but the namespace is not
  if (meta && typeof meta.namespace === 'string') meta.namespace = pool.get(meta.namespace);
  return obj;
}
