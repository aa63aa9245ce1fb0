/**
 * Object storage with one global, monotonically increasing resourceVersion (like etcd's revision), and per
 * resource a bounded history of writes (like the apiserver's watch cache) from which watches resume.
 * Stored objects are frozen snapshots; every write stores a new one.
 */
import { deepFreeze } from './json.js';
import type { KubeObject, StoredEvent, WatchEventType } from './types.js';

export type StoreListener = (event: StoredEvent) => void;

class ResourceTable {
  readonly objects = new Map<string, KubeObject>();
  history: StoredEvent[] = [];
  /** Index of the oldest retained event in `history`. */
  start = 0;
  /** Watching from a resourceVersion below this is answered 410 Gone. */
  compactedRV = 0;
  readonly listeners = new Set<StoreListener>();
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private rv = 0;
  private readonly tables = new Map<string, ResourceTable>();

  constructor(private readonly historySize: number) {}

  currentRV(): number {
    return this.rv;
  }

  private table(resource: string): ResourceTable {
    let t = this.tables.get(resource);
    if (t === undefined) {
      t = new ResourceTable();
      this.tables.set(resource, t);
    }
    return t;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.tables.get(resource)?.objects.get(objectKey(namespace, name));
  }

  /** Objects in storage-key order (namespace, then name), optionally of one namespace. */
  list(resource: string, namespace?: string): KubeObject[] {
    const t = this.tables.get(resource);
    if (t === undefined) return [];
    const keys = [...t.objects.keys()].sort();
    const out: KubeObject[] = [];
    for (const key of keys) {
      const obj = t.objects.get(key) as KubeObject;
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(obj);
    }
    return out;
  }

  count(resource: string): number {
    return this.tables.get(resource)?.objects.size ?? 0;
  }

  /**
   * Stores `obj` (taking ownership: it is stamped with the next resourceVersion and frozen), records the event
   * and tells the listeners. DELETED removes the object and records its final state.
   */
  write(resource: string, type: WatchEventType, obj: KubeObject): KubeObject {
    const t = this.table(resource);
    const key = objectKey(obj.metadata.namespace, obj.metadata.name as string);
    const previous = t.objects.get(key);
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    const stored = deepFreeze(obj);
    if (type === 'DELETED') t.objects.delete(key);
    else t.objects.set(key, stored);
    const event: StoredEvent = { type, rv: this.rv, object: stored };
    if (previous !== undefined) event.previous = previous;
    this.record(t, event);
    for (const listener of [...t.listeners]) listener(event);
    return stored;
  }

  private record(t: ResourceTable, event: StoredEvent): void {
    t.history.push(event);
    while (t.history.length - t.start > this.historySize) {
      t.compactedRV = (t.history[t.start] as StoredEvent).rv;
      t.start += 1;
    }
    if (t.start > 1024 && t.start > t.history.length / 2) {
      t.history = t.history.slice(t.start);
      t.start = 0;
    }
  }

  /** Events after `rv`, or 'expired' when the history no longer reaches back that far. */
  eventsSince(resource: string, rv: number): StoredEvent[] | 'expired' {
    const t = this.table(resource);
    if (rv < t.compactedRV) return 'expired';
    let lo = t.start;
    let hi = t.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((t.history[mid] as StoredEvent).rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return t.history.slice(lo);
  }

  oldestWatchableRV(resource: string): number {
    return this.table(resource).compactedRV;
  }

  /**
   * Forgets the history of the given resources (all when omitted), as an etcd compaction would: the global
   * resourceVersion moves on by one so that every resourceVersion a client holds now is too old.
   */
  expire(resources?: string[]): number {
    this.rv += 1;
    const names = resources ?? [...this.tables.keys()];
    for (const name of names) {
      const t = this.table(name);
      t.history = [];
      t.start = 0;
      t.compactedRV = this.rv;
    }
    return this.rv;
  }

  subscribe(resource: string, listener: StoreListener): () => void {
    const t = this.table(resource);
    t.listeners.add(listener);
    return () => t.listeners.delete(listener);
  }
}
